/**
 * Bounds on the settings that size work or memory, shared by the scenario schema, the admin API
 * and the code that builds from them, so an accepted value can neither crash the process nor
 * freeze its event loop (issue 17.3). Each follows a production balancer's bound, or keeps one
 * table build to a few milliseconds.
 */

/** Backend weights: HAProxy accepts 0-256 (Envoy 1-128). A ring's points and Maglev's rounds scale with the weight ratio. */
export const MAX_WEIGHT = 256;

/** Replicas in one scenario, and backends in one dispatcher (BENCHMARKS.md simulates up to 10,000). */
export const MAX_BACKENDS = 10_000;

/** Ring points per unit of weight. */
export const MAX_VNODES = 1000;

/**
 * Points on a whole ring (Envoy's maximum_ring_size, smaller): beyond it every backend's count is
 * scaled down in proportion (each keeps at least one). A rebuild sorts them on the event loop.
 */
export const MAX_RING_POINTS = 16_384;

/** Maglev table size: Envoy's default 65537 is also the largest accepted (a rebuild fills every slot). */
export const MAX_MAGLEV_TABLE_SIZE = 65_537;

/** Backends sampled per pick by power-of-d (the sample is an array of d). */
export const MAX_CHOICES = 32;

/** The longest duration anywhere (scenario or CLI): a week. A 400-digit number of seconds is Infinity, and a run that never ends. */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000;

/** Open-loop arrival rates: slower than one request per 1000 s never ends a run; faster than 1M/s no generator here sends. */
export const MIN_RATE_RPS = 0.001;
export const MAX_RATE_RPS = 1_000_000;

/** Closed-loop connections, sessions, queue length: counts that size arrays or socket pools. */
export const MAX_CONNECTIONS = 10_000;
export const MAX_SESSIONS = 1_000_000;
export const MAX_QUEUE_LENGTH = 1_000_000;
export const MAX_RETRIES = 10;

/** Client connections one dispatcher holds open (its server.maxConnections, at most). */
export const MAX_CLIENT_CONNECTIONS = 1_000_000;

/**
 * The proxy port's listen backlog (dispatcher.client.backlog): by default 4096, the kernel's
 * net.core.somaxconn default since Linux 5.4 and nginx's `backlog=` in bench:proxy; at most
 * 65,535, somaxconn's ceiling on the kernels that have one.
 */
export const DEFAULT_LISTEN_BACKLOG = 4096;
export const MAX_LISTEN_BACKLOG = 65_535;
/**
 * Accept handles the proxy port gets beside its own (dispatcher/accept-handles.ts). 64 took a burst
 * of 1,000 connections into a saturated dispatcher within a second (BENCHMARKS.md); each costs a
 * file descriptor and nothing while no connection waits.
 */
export const DEFAULT_ACCEPT_HANDLES = 64;
export const MAX_ACCEPT_HANDLES = 1024;

/**
 * The dispatcher's shutdown drain and grace, each: Envoy's default `--drain-time-s` (600 s). A
 * longer one keeps a stopping process around for longer than an orchestrator waits for it.
 */
export const MAX_SHUTDOWN_MS = 600_000;

/** A scenario file is a few kilobytes; a 50 MB one took 42 s and 1.8 GB to parse. */
export const MAX_SCENARIO_BYTES = 1024 * 1024;

/** YAML aliases per document: the yaml library's own default; an alias bomb is refused, not expanded. */
export const MAX_YAML_ALIASES = 100;

/**
 * A request class's numbers (scenario `workload.classes`): a request's native CPU time at most an
 * hour, its sensitive operations and page-table writes at most a billion, its working set at most
 * 1 TiB, and a lognormal's shape at most 5 (its mean is then e^12.5 times its median, heavier than
 * any measured web workload). Past these a draw overflows to Infinity or 0 and the run's numbers
 * mean nothing (a sigma of 1e308 made a simulation grow to 3.6 GB and abort).
 */
export const MAX_REQUEST_CPU_MS = 3_600_000;
export const MAX_REQUEST_OPS = 1_000_000_000;
export const MAX_REQUEST_MEMORY_MB = 1_048_576;
export const MAX_LOGNORMAL_SIGMA = 5;
