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
