import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { durationProblem, parseDuration } from './duration.js';
import {
  MAX_BACKENDS,
  MAX_CLIENT_CONNECTIONS,
  MAX_LISTEN_BACKLOG,
  MAX_ACCEPT_HANDLES,
  DEFAULT_ACCEPT_HANDLES,
  DEFAULT_LISTEN_BACKLOG,
  MAX_CONNECTIONS,
  MAX_QUEUE_LENGTH,
  MAX_RATE_RPS,
  MAX_RETRIES,
  MAX_SCENARIO_BYTES,
  MAX_SESSIONS,
  MAX_SHUTDOWN_MS,
  MAX_WEIGHT,
  MAX_LOGNORMAL_SIGMA,
  MAX_REQUEST_CPU_MS,
  MAX_REQUEST_MEMORY_MB,
  MAX_REQUEST_OPS,
  MAX_YAML_ALIASES,
  MIN_RATE_RPS,
} from './limits.js';
import { SERVICE_DISTRIBUTIONS } from './rng.js';
import { parseSlo } from './slo.js';
import { listNames } from './names.js';

/**
 * The scenario file (docs/scenarios.md): hosts, VMs, workload, dispatcher settings
 * and the policies to compare. Parsed with zod so a bad file is refused with the path of the bad
 * field, the value found and what was expected, never a stack trace. Objects are strict: an
 * unknown key is almost always a typo, and a silently ignored typo is a wrong experiment.
 */

/**
 * z.union of `branches`, reported as zod's own union cannot be: when every branch refuses an
 * input, zod says only "Invalid input", at the union. Here `pick` names the branch the input
 * means (by a key only that branch has) and that branch's issues are reported, each at its own
 * field; or, when the input means none, `pick`'s own issues. What is accepted, and what comes out,
 * is exactly z.union(branches)'s: `pick` is asked only about an input the union refused.
 */
export function keyedUnion<const T extends readonly [z.ZodType, z.ZodType, ...z.ZodType[]]>(
  branches: T,
  pick: (input: unknown) => T[number] | ReadonlyArray<{ path?: PropertyKey[]; message: string }>,
): z.ZodType<z.output<T[number]>, z.input<T[number]>> {
  const union = z.union(branches);
  const checked = z.unknown().transform((input, ctx) => {
    const result = union.safeParse(input);
    if (result.success) return result.data;
    const chosen = pick(input);
    if (Array.isArray(chosen)) {
      // A field's issue shows no value (the object is not the field's value); the union's shows the input.
      for (const { path = [], message } of chosen as ReadonlyArray<{ path?: PropertyKey[]; message: string }>) {
        ctx.addIssue({ code: 'custom', message, path: [...path], input: path.length === 0 ? input : undefined });
      }
      return z.NEVER;
    }
    const own = (chosen as z.ZodType).safeParse(input, { reportInput: true });
    // The union refused the input, so the branch does too; were it not so, the union's own word.
    for (const issue of own.error?.issues ?? union.safeParse(input, { reportInput: true }).error?.issues ?? []) ctx.addIssue({ ...issue });
    return z.NEVER;
  });
  return checked as unknown as z.ZodType<z.output<T[number]>, z.input<T[number]>>;
}

/** The keys of `input` when it is a plain object (not null, not an array); undefined otherwise. */
function objectKeys(input: unknown): string[] | undefined {
  return typeof input === 'object' && input !== null && !Array.isArray(input) ? Object.keys(input) : undefined;
}

/** A duration, in milliseconds: a number of them, or a string such as 500ms, 30s, 2m (core/duration.ts). */
const duration = z
  .union([z.number(), z.string()], { error: (issue) => durationProblem(issue.input) })
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: durationProblem(value) ?? 'expected a duration' });
      return z.NEVER;
    }
    return ms;
  });

/** A duration that must be longer than 0 (intervals and timeouts). */
const positiveDuration = duration.refine((ms) => ms > 0, 'expected a duration longer than 0');

/** A shutdown period: 0 (none) up to MAX_SHUTDOWN_MS. */
const shutdownDuration = duration.refine((ms) => ms <= MAX_SHUTDOWN_MS, `expected at most ${MAX_SHUTDOWN_MS / 60_000} minutes`);

const positiveInt = z.number().int().positive();
const nonNegative = z.number().nonnegative();

export const HYPERVISOR_TYPES = ['type1', 'type2'] as const;
export const VIRTUALIZATION_TECHNIQUES = ['emulation', 'binary-translation', 'hardware-assisted', 'paravirtual', 'container'] as const;
export const MMU_MODES = ['shadow', 'nested'] as const;
export const MIGRATION_MODES = ['checkpoint', 'live'] as const;
export const TYPE2_SHARING = ['per-thread', 'per-process'] as const;
export { SERVICE_DISTRIBUTIONS };

export type HypervisorType = (typeof HYPERVISOR_TYPES)[number];
export type VirtualizationTechnique = (typeof VIRTUALIZATION_TECHNIQUES)[number];
export type MmuMode = (typeof MMU_MODES)[number];
export type MigrationMode = (typeof MIGRATION_MODES)[number];

/**
 * A VM's MMU mode when the scenario leaves it out: shadow page tables under binary translation (no
 * BT hypervisor had hardware nested paging, and BT allows no other), nested paging otherwise.
 */
export function defaultMmu(technique: VirtualizationTechnique): MmuMode {
  return technique === 'binary-translation' ? 'shadow' : 'nested';
}

const ownerInterval = z.strictObject({ at: duration, for: duration });

const HostSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lowercase letters, digits and dashes'),
  /** How many identical hosts this entry makes, each with the VMs placed on it (expandHosts). */
  count: positiveInt.max(MAX_BACKENDS).default(1),
  hypervisor: z.enum(HYPERVISOR_TYPES).default('type1'),
  cores: positiveInt,
  memoryMb: positiveInt,
  /** Type 2: cores' worth of the host OS's own busy processes, competing with the VMs. */
  hostLoad: nonNegative.default(0),
  /** Type 1: accept VMs whose memory exceeds the host's. Type 2 always may (it swaps). */
  allowOvercommit: z.boolean().default(false),
  owner: z.array(ownerInterval).default([]),
  onOwnerReturn: z.enum(['suspend', 'migrate']).default('suspend'),
  /** How a harvested VM migrates: checkpoint (Condor, stop-and-copy) or live (pre-copy, Clark et al. 2005). */
  migrate: z.enum(MIGRATION_MODES).default('checkpoint'),
  /** Type 2: how the host OS weighs a VM against its own processes: per runnable vCPU thread, or once per VM process. */
  type2Sharing: z.enum(TYPE2_SHARING).default('per-thread'),
  /** First port of this host's replicas when run as `dispatchlab host` (one port per VM, in order). */
  basePort: z.number().int().min(1).max(65535).optional(),
  /** Where the dispatcher reaches this host's replicas when hosts run elsewhere (compose). */
  address: z.string().optional(),
});

const VmSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lowercase letters, digits and dashes'),
  /**
   * What the VM is, for the reports that group replicas by kind. Default: the entry's name, so
   * entries of one name (one per host entry, say) are one kind.
   */
  kind: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lowercase letters, digits and dashes').optional(),
  count: positiveInt.max(MAX_BACKENDS).default(1),
  host: z.string(),
  vcpus: positiveInt.default(1),
  memoryMb: positiveInt.default(1024),
  /** Share of contended cores, and the replica's weight at the dispatcher (HAProxy's 0-256). */
  weight: z.number().positive().max(MAX_WEIGHT).default(1),
  capCores: nonNegative.default(0),
  virtualization: z.enum(VIRTUALIZATION_TECHNIQUES).default('hardware-assisted'),
  /** Default: defaultMmu(virtualization), filled in by expandVms. */
  mmu: z.enum(MMU_MODES).optional(),
  /**
   * Memory the guest keeps resident whatever its requests do (its OS, page cache, services); the
   * host must back it plus the running requests' working sets, never more than memoryMb. Default:
   * all of memoryMb (docs/model.md, "Memory and swap", says why).
   */
  residentMb: nonNegative.optional(),
  harvested: z.boolean().default(false),
  serves: z.boolean().default(true),
  background: z.strictObject({ cpuCores: nonNegative.default(0) }).default({ cpuCores: 0 }),
  /** Fixed port for this VM (count must be 1); otherwise the host's basePort + index. */
  port: z.number().int().min(1).max(65535).optional(),
});

const RequestClassSchema = z.strictObject({
  name: z.string().min(1),
  share: z.number().min(0).max(1),
  route: z.string().startsWith('/').default('/'),
  method: z.string().default('GET'),
  cpuMs: nonNegative.max(MAX_REQUEST_CPU_MS),
  ioOps: nonNegative.max(MAX_REQUEST_OPS).default(0),
  pageTableUpdates: nonNegative.max(MAX_REQUEST_OPS).default(0),
  memoryMb: nonNegative.max(MAX_REQUEST_MEMORY_MB).default(0),
  service: z.enum(SERVICE_DISTRIBUTIONS).default('exponential'),
  /** Shape of the lognormal service distribution (sd of the underlying normal). */
  sigma: z.number().positive().max(MAX_LOGNORMAL_SIGMA).default(1),
  /** Request body size sent by generated load (bytes). */
  bodyBytes: z.number().int().nonnegative().max(100 * 1024 * 1024).default(0),
  /**
   * The replica answers the SHA-256 of each request body of this class (`bodySha256`), a check
   * that forwarding is byte-exact. Off by default: hashing is the replica process's own CPU on
   * every request. It is outside the model in both modes (a VM's cost is cpuMs and the rest), so
   * a simulated run reads it and computes exactly what it computes without it.
   */
  bodyDigest: z.boolean().default(false),
});

const RateArrival = z.strictObject({ rateRps: z.number().min(MIN_RATE_RPS).max(MAX_RATE_RPS) });
const ConnectionsArrival = z.strictObject({ connections: positiveInt.max(MAX_CONNECTIONS) });
/** Open loop at a rate, or closed loop on a number of connections: told apart by the key given. */
const ArrivalSchema = keyedUnion([RateArrival, ConnectionsArrival], (input) => {
  const keys = objectKeys(input);
  if (keys === undefined) return [{ message: 'expected { rateRps: N } (open loop) or { connections: N } (closed loop)' }];
  const rate = keys.includes('rateRps');
  const connections = keys.includes('connections');
  if (rate && connections) return [{ message: 'give rateRps or connections, not both' }];
  if (rate) return RateArrival;
  if (connections) return ConnectionsArrival;
  if (keys.length === 0) return [{ message: 'give rateRps (open loop) or connections (closed loop)' }];
  return keys.map((key) => ({ path: [key], message: 'unknown field (expected rateRps or connections)' }));
});

const FaultSchema = z.strictObject({
  at: duration,
  for: duration,
  vm: z.string(),
  /** crash: the VM stops answering; slow: its requests cost `factor` times more. */
  kind: z.enum(['crash', 'slow']),
  factor: z.number().positive().default(1),
});

/** The proxy engines of the live dispatcher (docs/dispatcher.md, "The HTTP side"); the first is the default. */
export const PROXY_ENGINES = ['undici', 'http-proxy', 'socket'] as const;
export type ProxyEngineName = (typeof PROXY_ENGINES)[number];

/** What reads the proxy port's requests (`dispatcher.client.front`); the first is the default. */
export const CLIENT_FRONTS = ['fast', 'node'] as const;
export type ClientFront = (typeof CLIENT_FRONTS)[number];

/**
 * The failures after which a retryable request may go again, named as Envoy's `retry_on` names
 * them (router filter, x-envoy-retry-on): connect-failure, reset, per-try-timeout, and
 * gateway-error (a 502, 503 or 504 answer from the backend).
 */
export const RETRY_CONDITIONS = ['connect-failure', 'reset', 'per-try-timeout', 'gateway-error'] as const;
export type RetryCondition = (typeof RETRY_CONDITIONS)[number];
/** Every condition but gateway-error: a backend's own answer is relayed unless a scenario asks. */
const DEFAULT_RETRY_ON: RetryCondition[] = ['connect-failure', 'reset', 'per-try-timeout'];

const DispatcherSchema = z.strictObject({
  maxConnPerBackend: z.number().int().nonnegative().max(MAX_CONNECTIONS).default(0),
  queue: z
    .strictObject({
      maxLength: z.number().int().nonnegative().max(MAX_QUEUE_LENGTH).default(1024),
      timeoutMs: duration.default(5000),
      /**
       * Fast refusal under overload (controlled delay, after Facebook's "Fail at scale", Maurer
       * 2015, from CoDel): once the queue has not been empty for `intervalMs`, a request joining
       * it may wait only `targetMs`. Absent: every request may wait `timeoutMs`.
       */
      controlledDelay: z.strictObject({ intervalMs: positiveDuration.default(100), targetMs: positiveDuration.default(5) }).optional(),
    })
    .default({ maxLength: 1024, timeoutMs: 5000 }),
  retries: z.number().int().nonnegative().max(MAX_RETRIES).default(1),
  /** Which failures are retried (docs/dispatcher.md, "Retries"); each condition at most once. */
  retryOn: z
    .array(z.enum(RETRY_CONDITIONS))
    .max(RETRY_CONDITIONS.length)
    .refine((list) => new Set(list).size === list.length, 'each condition at most once')
    .default(() => [...DEFAULT_RETRY_ON]),
  /** Retries allowed as a fraction of requests, plus a floor per second (Finagle/Linkerd budgets). */
  retryBudget: z.strictObject({ ratio: z.number().min(0).max(1).default(0.2), minPerSecond: nonNegative.default(10) }).default({ ratio: 0.2, minPerSecond: 10 }),
  healthCheck: z
    .strictObject({
      intervalMs: positiveDuration.default(1000),
      timeoutMs: positiveDuration.default(500),
      rise: positiveInt.default(2),
      fall: positiveInt.default(2),
      path: z.string().default('/healthz'),
    })
    .default({ intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 2, path: '/healthz' }),
  outlier: z
    .strictObject({
      consecutiveErrors: positiveInt.default(5),
      baseEjectionMs: duration.default(30_000),
      maxEjectedFraction: z.number().min(0).max(1).default(0.5),
    })
    .default({ consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectedFraction: 0.5 }),
  /**
   * Envoy's healthy panic threshold, as a fraction: when fewer of the backends (draining ones
   * aside) are healthy, down and ejected backends take traffic too. 0 turns panic mode off.
   */
  panicThreshold: z.number().min(0).max(1).default(0.5),
  timeouts: z
    .strictObject({ upstreamMs: positiveDuration.default(10_000), totalMs: positiveDuration.default(30_000) })
    .default({ upstreamMs: 10_000, totalMs: 30_000 }),
  /**
   * Where a request's client key (policies keyed on the client: consistent-hash `key: client`,
   * session-sticky `key: client`) comes from: the first address of X-Forwarded-For, falling back
   * to the socket's, as behind a trusted front proxy (and the load generator, which names each
   * session's client there: core/workload.ts); or the socket's address only, for clients that
   * connect directly and must not choose their key. The simulator follows the same setting.
   */
  clientAddress: z.enum(['x-forwarded-for', 'socket']).default('x-forwarded-for'),
  /**
   * The client side of the proxy port (live only: the simulator has no client connections).
   * Connections past `maxConnections` are closed at once (Node's server.maxConnections), the cheap
   * refusal; `headersTimeoutMs` and `requestTimeoutMs` bound how long a client may take to send
   * its headers and its whole request (HAProxy's `timeout http-request`): a slow client is
   * answered 408 and its connection closed, and never held against a backend.
   */
  client: z
    .strictObject({
      maxConnections: z.number().int().min(1).max(MAX_CLIENT_CONNECTIONS).default(10_000),
      headersTimeoutMs: positiveDuration.default(10_000),
      requestTimeoutMs: positiveDuration.default(120_000),
      /**
       * A request's body is read until it ends or SMALL_BODY_BYTES of it are buffered before a
       * backend is chosen (dispatcher/request-body.ts), within this time from the end of the
       * headers; past it the client gets 408 and no backend is involved.
       */
      bodyTimeoutMs: positiveDuration.default(10_000),
      /**
       * The proxy port's listen backlog: connections the kernel completes and queues before the
       * dispatcher accepts them (nginx's `listen ... backlog=`, HAProxy's `backlog`); the kernel
       * caps it at net.core.somaxconn. Node's own default, 511, is too few for a burst of
       * connections: Node 20 (libuv 1.45+) accepts one connection per turn of its event loop, a
       * turn of a saturated dispatcher takes tens of milliseconds, and once the queue is full the
       * kernel drops handshakes, which the clients only retry after a second or more
       * (BENCHMARKS.md, "Proxy throughput: the Node floor...").
       */
      backlog: z.number().int().min(1).max(MAX_LISTEN_BACKLOG).default(DEFAULT_LISTEN_BACKLOG),
      /**
       * Accept handles added to the proxy port's listening socket (dispatcher/accept-handles.ts):
       * each accepts one connection per turn of the event loop, so a saturated dispatcher takes a
       * burst of 1,000 connections in a second instead of leaving them queued for many. 0: none.
       */
      acceptHandles: z.number().int().min(0).max(MAX_ACCEPT_HANDLES).default(DEFAULT_ACCEPT_HANDLES),
      /**
       * What reads the clients' requests: `fast` (dispatcher/fast-front.ts) serves bodyless
       * HTTP/1.1 requests itself and hands every other connection to node:http's server; `node`
       * is node:http's server for all. The http-proxy engine always has node:http's.
       */
      front: z.enum(CLIENT_FRONTS).default(CLIENT_FRONTS[0]),
    })
    .default({ maxConnections: 10_000, headersTimeoutMs: 10_000, requestTimeoutMs: 120_000, bodyTimeoutMs: 10_000, backlog: DEFAULT_LISTEN_BACKLOG, acceptHandles: DEFAULT_ACCEPT_HANDLES, front: CLIENT_FRONTS[0] }),
  /** The live proxy's engine (live only): socket (dispatcher/socket-engine.ts, the default: the least CPU per request), undici (dispatcher/undici-engine.ts) or http-proxy. */
  engine: z.enum(PROXY_ENGINES).default('socket'),
  /**
   * What SIGTERM does (live only; docs/dispatcher.md, "Shutdown"). For `drainMs` the proxy port
   * keeps accepting and serving, every answer closes its connection and the admin `/healthz` says
   * 503, so a front balancer moves the traffic away (Envoy's drain, HAProxy's global `grace`);
   * then it stops accepting and in-flight requests get `graceMs` before they are cut.
   */
  shutdown: z
    .strictObject({ drainMs: shutdownDuration.default(0), graceMs: shutdownDuration.default(2000) })
    .default({ drainMs: 0, graceMs: 2000 }),
});

/** A policy's options, checked against its own schema later (the registry, or the policy file). */
export const policyOptionsSchema = z.record(z.string(), z.unknown(), { error: 'expected an object' });
const NamedPolicy = z.strictObject({ name: z.string(), label: z.string().optional(), options: policyOptionsSchema.default({}) });
const FilePolicy = z.strictObject({
  file: z.string().regex(/\.(ts|mts|js|mjs)$/, 'expected a .ts, .mts, .js or .mjs file'),
  label: z.string().optional(),
  options: policyOptionsSchema.default({}),
});
/**
 * A policy to compare: its registry name, or the name with options and a label for the report, or
 * a user's policy file (relative to the scenario file) with its options and label.
 */
const PolicySpecSchema = keyedUnion([z.string(), NamedPolicy, FilePolicy], (input) =>
  pickPolicyBranch(input, NamedPolicy, FilePolicy, ['label', 'options'], 'expected a policy name, or { name } or { file } with options and a label'),
);

/**
 * The branch of a policy entry `input` means, by its key: `name` (a built-in) or `file` (a
 * policy file); else what is wrong: `notAnObject`, or at the union, or at each unknown key. The
 * admin API's PUT /policy body is told apart the same way.
 */
export function pickPolicyBranch<N, F>(
  input: unknown,
  named: N,
  file: F,
  others: readonly string[],
  notAnObject: string,
): N | F | Array<{ path?: PropertyKey[]; message: string }> {
  const keys = objectKeys(input);
  if (keys === undefined) return [{ message: notAnObject }];
  const hasName = keys.includes('name');
  const hasFile = keys.includes('file');
  if (hasName && hasFile) return [{ message: 'give name or file, not both' }];
  if (hasName) return named;
  if (hasFile) return file;
  const unknown = keys.filter((key) => !others.includes(key));
  if (unknown.length === 0) return [{ message: 'give name (a built-in policy) or file (a policy file)' }];
  return unknown.map((key) => ({ path: [key], message: 'unknown field (expected name or file)' }));
}

const techniqueFactors = z.strictObject({ cpuFactor: z.number().positive().optional(), ioOpUs: nonNegative.optional(), ptTrapUs: nonNegative.optional() });
const mmuFactors = z.strictObject({ cpuFactor: z.number().positive().optional(), ptUpdateUs: nonNegative.optional() });

/** Overrides of the hypervisor cost model's documented defaults (backends/hypervisor/cost-model.ts). */
const CostModelSchema = z.strictObject({
  techniques: z.partialRecord(z.enum(VIRTUALIZATION_TECHNIQUES), techniqueFactors).optional(),
  mmu: z.partialRecord(z.enum(MMU_MODES), mmuFactors).optional(),
  swap: z.strictObject({ msPerMb: nonNegative.optional() }).optional(),
  migration: z
    .strictObject({
      baseMs: nonNegative.optional(),
      msPerGb: nonNegative.optional(),
      live: z
        .strictObject({
          dirtyMbPerS: nonNegative.optional(),
          maxRounds: positiveInt.optional(),
          stopCopyMb: nonNegative.optional(),
          resumeMs: nonNegative.optional(),
        })
        .optional(),
    })
    .optional(),
  type2: z.strictObject({ cpuFactor: z.number().positive().optional() }).optional(),
});

export const ScenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  seed: z.number().int().default(1),
  hosts: z.array(HostSchema).min(1),
  vms: z.array(VmSchema).min(1),
  costModel: CostModelSchema.default({}),
  workload: z.strictObject({
    classes: z.array(RequestClassSchema).min(1),
    sessions: z.number().int().nonnegative().max(MAX_SESSIONS).default(100),
    arrival: ArrivalSchema.default({ rateRps: 100 }),
  }),
  faults: z.array(FaultSchema).default([]),
  dispatcher: DispatcherSchema.default(DispatcherSchema.parse({})),
  policies: z.array(PolicySpecSchema).min(1).default(['round-robin', 'least-loaded', 'session-sticky']),
  duration: duration.default(30_000),
  warmup: duration.default(3000),
  /** Service-level objectives every policy is checked against (core/slo.ts), e.g. `p99<200ms,errors<1%`; `--slo` overrides. */
  slo: z
    .string()
    .superRefine((text, ctx) => {
      try {
        parseSlo(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      }
    })
    .optional(),
});

export type Scenario = z.output<typeof ScenarioSchema>;
export type HostSpec = Scenario['hosts'][number];
export type VmGroupSpec = Scenario['vms'][number];
export type RequestClass = Scenario['workload']['classes'][number];
export type DispatcherSettings = Scenario['dispatcher'];
export type PolicySpec = Scenario['policies'][number];
export type CostModelOverrides = Scenario['costModel'];
export type FaultSpec = Scenario['faults'][number];

/** One VM after `count` is expanded: `web` with count 3 becomes web-1, web-2, web-3; its defaults filled in. */
export interface VmSpec extends Omit<VmGroupSpec, 'count' | 'name' | 'kind' | 'mmu' | 'residentMb'> {
  readonly name: string;
  /** The entry's `kind`, or else its name as written (a host count's copies keep it). */
  readonly kind: string;
  readonly mmu: MmuMode;
  readonly residentMb: number;
  /** The scenario entry it came from, and its index there (for error paths). */
  readonly group: string;
  readonly groupIndex: number;
}

/** The names of the hosts a host entry makes: its own with `count: 1`, else `<name>-1` ... `<name>-N`. */
function hostNames(host: Pick<HostSpec, 'name' | 'count'>): string[] {
  return host.count === 1 ? [host.name] : Array.from({ length: host.count }, (_, i) => `${host.name}-${i + 1}`);
}

/**
 * The VM entries as placed on hosts, each with the index of the entry it was written as: an entry
 * on a host entry with `count: N > 1` is N entries, one per host, named after it (`web` on `dc`
 * with count 2 is `web-dc-1` on dc-1 and `web-dc-2` on dc-2), in the order of the hosts.
 */
function placedVmGroups(scenario: Pick<Scenario, 'hosts' | 'vms'>): Array<{ group: VmGroupSpec; groupIndex: number }> {
  const counted = new Map(scenario.hosts.filter((h) => h.count > 1).map((h) => [h.name, hostNames(h)]));
  return scenario.vms.flatMap((group, groupIndex) => {
    const hosts = counted.get(group.host);
    if (hosts === undefined) return [{ group, groupIndex }];
    return hosts.map((host) => ({ group: Object.assign({}, group, { name: `${group.name}-${host}`, host, kind: group.kind ?? group.name }), groupIndex }));
  });
}

/**
 * The scenario with every host entry of `count: N > 1` made into its N hosts and the VM entries on
 * it placed on each (placedVmGroups): what the fleet, the dispatcher and the reports run on, so a
 * host group is, everywhere after parsing, exactly the hosts written out one by one.
 */
export function expandHosts(scenario: Scenario): Scenario {
  if (scenario.hosts.every((h) => h.count === 1)) return scenario;
  return {
    ...scenario,
    // Object.assign, as in expandVms: a thousand spread copies would not share one hidden class.
    hosts: scenario.hosts.flatMap((h) => hostNames(h).map((name) => Object.assign({}, h, { name, count: 1 }))),
    vms: placedVmGroups(scenario).map((p) => p.group),
  };
}

export function expandVms(scenario: Pick<Scenario, 'hosts' | 'vms'>): VmSpec[] {
  const out: VmSpec[] = [];
  placedVmGroups(scenario).forEach(({ group, groupIndex }) => {
    const { count, name, ...rest } = group;
    const mmu = rest.mmu ?? defaultMmu(rest.virtualization);
    const residentMb = Math.min(rest.memoryMb, rest.residentMb ?? rest.memoryMb);
    for (let i = 1; i <= count; i++) {
      // Object.assign, not a spread: with thousands of VMs V8's object-spread clones stop sharing
      // one hidden class, and every hot-path read of a VM's spec in the hypervisor model went
      // megamorphic (the simulator ran 30x slower per request at 10,000 VMs than at 100).
      out.push(Object.assign({}, rest, { mmu, residentMb, name: count === 1 ? name : `${name}-${i}`, kind: rest.kind ?? name, group: scenario.vms[groupIndex].name, groupIndex }));
    }
  });
  return out;
}

/** The VMs that are replicas (serve requests), in scenario order. */
export function replicaVms(scenario: Pick<Scenario, 'hosts' | 'vms'>): VmSpec[] {
  return expandVms(scenario).filter((vm) => vm.serves);
}

/** The registry name (a policy file's path) and report label (by default the file's name) of a policy entry. */
export function policyName(spec: PolicySpec): string {
  return typeof spec === 'string' ? spec : 'file' in spec ? spec.file : spec.name;
}
export function policyLabel(spec: PolicySpec): string {
  if (typeof spec === 'string') return spec;
  return spec.label ?? ('file' in spec ? basename(spec.file).replace(/\.[^.]+$/, '') : spec.name);
}
export function policyOptions(spec: PolicySpec): Record<string, unknown> {
  return typeof spec === 'string' ? {} : spec.options;
}

export interface ScenarioIssue {
  /** `vms[2].host` */
  readonly path: string;
  readonly message: string;
}

/** A scenario that cannot be run; `message` lists every issue, one per line. */
export class ScenarioError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly ScenarioIssue[],
    /** A one-line message instead of the list (a file that cannot be read is not an invalid scenario). */
    message?: string,
  ) {
    super(message ?? `${source}: invalid scenario\n${issues.map((i) => `  ${i.path || '(top)'}: ${i.message}`).join('\n')}`);
    this.name = 'ScenarioError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Stands for a number JSON has no word for, until it is put back as NaN, Infinity or -Infinity. */
const NON_FINITE = /"\\u0000(NaN|-?Infinity)"/g;

/** A value found, for a message: as JSON, but NaN and Infinity as themselves (JSON says null); at most 60 characters. */
function show(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `\u0000${String(v)}` : v))?.replace(NON_FINITE, '$1');
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * zod's issues as a scenario's: each named by its path, an unknown key by its own path ("unknown
 * field", not a dump of the object that holds it), the value found first when the parse was asked
 * to report it.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): ScenarioIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }));
    const input = 'input' in issue && issue.input !== undefined ? `${show(issue.input)}: ` : '';
    return [{ path: formatPath(issue.path), message: `${input}${issue.message}` }];
  });
}

/** Checks no single field can make: references, totals, uniqueness. */
function crossCheck(s: Scenario): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  const hosts = new Map(s.hosts.map((h) => [h.name, h]));

  // Before the names a count makes are listed: a million hosts would exhaust memory.
  const totalHosts = s.hosts.reduce((sum, h) => sum + h.count, 0);
  if (totalHosts > MAX_BACKENDS) {
    issues.push({ path: 'hosts', message: `${totalHosts} hosts in all; at most ${MAX_BACKENDS}` });
    return issues;
  }

  // An entry's own name and, with a count, its hosts' names: a VM entry names a host entry, and
  // everything after parsing names the hosts it makes.
  const seenHosts = new Set<string>();
  s.hosts.forEach((h, i) => {
    for (const name of h.count === 1 ? [h.name] : [h.name, ...hostNames(h)]) {
      if (seenHosts.has(name)) issues.push({ path: `hosts[${i}].name`, message: `"${name}" is defined twice` });
      seenHosts.add(name);
    }
    if (h.count > 1 && h.address !== undefined) {
      issues.push({ path: `hosts[${i}].address`, message: `the ${h.count} hosts of this entry cannot all be at one address (give each host an entry of its own)` });
    }
    h.owner.forEach((o, j) => {
      if (o.for <= 0) issues.push({ path: `hosts[${i}].owner[${j}].for`, message: 'an owner interval must last longer than 0' });
    });
  });

  // Before anything expands `count`: a million VMs would exhaust memory just being listed.
  const totalVms = s.vms.reduce((sum, vm) => sum + vm.count * (hosts.get(vm.host)?.count ?? 1), 0);
  if (totalVms > MAX_BACKENDS) {
    issues.push({ path: 'vms', message: `${totalVms} VMs in all; at most ${MAX_BACKENDS}` });
    return issues;
  }

  const memoryByHost = new Map<string, number>();
  const seenVms = new Map<string, string>();
  s.vms.forEach((vm, i) => {
    const host = hosts.get(vm.host);
    if (!host) {
      const entry = s.hosts.find((h) => h.count > 1 && hostNames(h).includes(vm.host));
      const message =
        entry === undefined
          ? `"${vm.host}" is not a defined host (hosts: ${listNames(hosts.keys())})`
          : `"${vm.host}" is one of the ${entry.count} hosts of entry "${entry.name}": a VM entry names a host entry and is placed on each of its hosts (give this host an entry of its own)`;
      issues.push({ path: `vms[${i}].host`, message });
      return;
    }
    if (vm.vcpus > host.cores) {
      issues.push({ path: `vms[${i}].vcpus`, message: `${vm.vcpus} vCPUs exceed host "${host.name}"'s ${host.cores} cores` });
    }
    if (vm.capCores > vm.vcpus) {
      issues.push({ path: `vms[${i}].capCores`, message: `a cap of ${vm.capCores} cores exceeds the VM's ${vm.vcpus} vCPUs` });
    }
    if (vm.virtualization === 'binary-translation' && vm.mmu === 'nested') {
      issues.push({ path: `vms[${i}].mmu`, message: 'binary translation runs on shadow page tables; no BT hypervisor used hardware nested paging' });
    }
    if (vm.residentMb !== undefined && vm.residentMb > vm.memoryMb) {
      issues.push({ path: `vms[${i}].residentMb`, message: `${vm.residentMb} MB resident exceeds the VM's ${vm.memoryMb} MB maximum` });
    }
    if (vm.port !== undefined && vm.count > 1) {
      issues.push({ path: `vms[${i}].port`, message: 'a fixed port needs count: 1 (use the host\'s basePort for groups)' });
    }
    if (vm.harvested && host.owner.length === 0) {
      issues.push({ path: `vms[${i}].harvested`, message: `host "${host.name}" has no owner intervals, so harvesting it means nothing` });
    }
    memoryByHost.set(vm.host, (memoryByHost.get(vm.host) ?? 0) + vm.memoryMb * vm.count);
  });
  const expanded = expandVms(s);
  for (const vm of expanded) {
    const earlier = seenVms.get(vm.name);
    if (earlier !== undefined) {
      issues.push({ path: `vms[${vm.groupIndex}].name`, message: `VM "${vm.name}" is defined twice (also by group "${earlier}")` });
    }
    seenVms.set(vm.name, vm.group);
  }
  if (!expanded.some((vm) => vm.serves)) {
    issues.push({ path: 'vms', message: 'no VM serves requests (every VM has serves: false)' });
  }

  s.hosts.forEach((h, i) => {
    const usedMb = memoryByHost.get(h.name) ?? 0;
    if (h.hypervisor === 'type1' && usedMb > h.memoryMb && !h.allowOvercommit) {
      issues.push({
        path: `hosts[${i}].memoryMb`,
        message: `${h.count === 1 ? `type1 host "${h.name}"` : `each of the ${h.count} type1 hosts of "${h.name}"`} has ${h.memoryMb} MB but its VMs total ${usedMb} MB; a Type 1 hypervisor refuses overcommit unless allowOvercommit: true`,
      });
    }
    if (h.hypervisor === 'type1' && h.hostLoad > 0) {
      issues.push({ path: `hosts[${i}].hostLoad`, message: 'hostLoad is the host OS\'s own work, which only a type2 host has' });
    }
  });

  const shareSum = s.workload.classes.reduce((sum, c) => sum + c.share, 0);
  if (Math.abs(shareSum - 1) > 1e-6) {
    issues.push({ path: 'workload.classes', message: `shares sum to ${+shareSum.toFixed(6)}, expected 1` });
  }
  const seenClasses = new Set<string>();
  s.workload.classes.forEach((c, i) => {
    if (seenClasses.has(c.name)) issues.push({ path: `workload.classes[${i}].name`, message: `"${c.name}" is defined twice` });
    seenClasses.add(c.name);
  });

  s.faults.forEach((f, i) => {
    if (!seenVms.has(f.vm)) issues.push({ path: `faults[${i}].vm`, message: `"${f.vm}" is not a defined VM` });
  });

  const labels = new Set<string>();
  s.policies.forEach((p, i) => {
    const label = policyLabel(p);
    if (labels.has(label)) issues.push({ path: `policies[${i}]`, message: `"${label}" is listed twice; give one a label` });
    labels.add(label);
  });
  const client = s.dispatcher.client;
  if (client.headersTimeoutMs > client.requestTimeoutMs) {
    issues.push({ path: 'dispatcher.client.headersTimeoutMs', message: `${client.headersTimeoutMs} ms is longer than requestTimeoutMs (${client.requestTimeoutMs} ms), which includes the headers` });
  }
  if (s.warmup >= s.duration) {
    issues.push({ path: 'warmup', message: `warmup (${s.warmup} ms) must be shorter than duration (${s.duration} ms)` });
  }
  return issues;
}

/**
 * Validate an already-parsed document. `extraChecks` lets layers above core add their own
 * (the policy registry checks policy names and options) without core importing them.
 */
export function parseScenario(
  data: unknown,
  source = 'scenario',
  extraChecks: (s: Scenario) => ScenarioIssue[] = () => [],
): Scenario {
  const result = ScenarioSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    throw new ScenarioError(source, formatIssues(result.error.issues));
  }
  const issues = [...crossCheck(result.data), ...extraChecks(result.data)];
  if (issues.length > 0) throw new ScenarioError(source, issues);
  return expandHosts(result.data);
}

/** Parse YAML text; YAML syntax errors become issues with the line and column. */
export function parseScenarioText(text: string, source = 'scenario', extraChecks?: (s: Scenario) => ScenarioIssue[]): Scenario {
  let data: unknown;
  try {
    data = parseYaml(text, { prettyErrors: true, maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      // The parser's first line repeats the position at its end ("... at line 4, column 1:"): say it once.
      const message = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      throw new ScenarioError(source, [{ path: pos ? `line ${pos.line}, column ${pos.col}` : '', message }]);
    }
    // The library refuses an alias bomb (aliases that expand to millions of nodes) with a
    // ReferenceError: a property of the input, so a refusal like any other, not a crash.
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new ScenarioError(source, [{ path: '', message: `too many YAML aliases (at most ${MAX_YAML_ALIASES}): ${err.message}` }]);
    }
    throw err;
  }
  return parseScenario(data, source, extraChecks);
}

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

export function loadScenario(file: string, extraChecks?: (s: Scenario) => ScenarioIssue[]): Scenario {
  let text: string;
  try {
    const { size } = statSync(file);
    if (size > MAX_SCENARIO_BYTES) {
      throw new ScenarioError(file, [{ path: '', message: `the file is ${size} bytes; a scenario may be at most ${MAX_SCENARIO_BYTES} bytes` }]);
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ScenarioError) throw err;
    const reason = READ_ERRORS[(err as NodeJS.ErrnoException).code ?? ''] ?? (err instanceof Error ? err.message : String(err));
    throw new ScenarioError(file, [{ path: '', message: reason }], `cannot read ${file}: ${reason}`);
  }
  const scenario = parseScenarioText(text, file, extraChecks);
  // Policy files are named relative to the scenario file, wherever the command runs.
  const policies = scenario.policies.map((p) => (typeof p === 'object' && 'file' in p ? { ...p, file: resolve(dirname(file), p.file) } : p));
  return { ...scenario, policies };
}
