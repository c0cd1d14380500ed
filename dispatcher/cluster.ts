import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, Counter, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { closeServer, listen, serverUrl } from '../core/server-lifecycle.js';
import { policyNames } from '../policies/index.js';
import { AdminError, createAdminApp, type AdminBackend, type AdminControl, type AdminPolicy } from './admin-api.js';
import { isProtocolMessage, type FromWorker, type KeptEvents, type ToWorker, type WorkerCall, type WorkerConfig, type WorkerMutation, type WorkerRead } from './cluster-protocol.js';
import { hostMetricsUrls, startDispatcher, type RunningDispatcher, type StartDispatcherOptions } from './dispatcher-service.js';
import { FleetTracker, remoteFleetSource } from './fleet-view.js';
import type { LiveWindow, SecondPoint } from './live-stats.js';
import { systemClock } from '../core/clock.js';

/**
 * `--workers N` (docs/dispatcher.md, "Workers"): N worker processes (node:cluster) share the proxy
 * port, each with its own Balancer, policy, health checks and metrics, like nginx workers; this
 * primary process serves the admin port alone and proxies nothing. So that admin writes stay
 * coherent, every change (policy, weight, drain, backends) goes from the primary to every worker,
 * one change at a time, and is answered once every worker applied it; a restarted worker replays
 * the changes made so far before it reports ready. Reads ask every worker: the backends' counts
 * and in-flight are summed (each backend also lists what each worker sees), /metrics is the
 * workers' registries aggregated by prom-client (AggregatorRegistry.aggregate) beside the
 * primary's own (worker restarts).
 *
 * Each worker sees only its own in-flight requests: this is `simulate --dispatchers N`, and a
 * least-loaded policy herds (two workers send to the backend each believes idle).
 */

export interface StartClusterOptions extends StartDispatcherOptions {
  /** Worker processes, >= 1. */
  readonly workers: number;
  /** Where worker deaths and restarts are told (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface RunningCluster {
  readonly url: string;
  readonly adminUrl: string;
  readonly adminToken: string;
  /** The workers' process ids, in worker order (a restarted worker has a new one). */
  pids(): number[];
  /**
   * With `events`: collect what every worker emitted so far into it, on this process's clock (they
   * are collected every EVENTS_EVERY_MS too; call this before reading the sink). A worker that dies
   * takes what it had not handed over with it.
   */
  collectEvents(): Promise<void>;
  /** The workers' CPU time so far, added up (process.cpuUsage() of each). */
  cpuUsage(): Promise<NodeJS.CpuUsage>;
  /**
   * Every worker stops accepting, gives in-flight requests up to graceMs (default: the scenario's
   * `dispatcher.shutdown.graceMs`) and exits, then the admin port closes. Ends a drain early. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
  /** What SIGTERM does: every worker shuts down (RunningDispatcher.shutdown) while the admin `/healthz` says 503, then as close(). Idempotent. */
  shutdown(): Promise<void>;
}

/** How long a reply from a worker may take before the admin request fails (a worker busy proxying answers in ms). */
const CALL_TIMEOUT_MS = 10_000;
/** A worker that dies this soon after it started, or fails to start, is started again only after this pause (no fork storm). */
const RESTART_PAUSE_MS = 1000;
/** Beyond the drain's grace, how long a worker may take to exit before it is killed. */
const EXIT_SLACK_MS = 5000;
/** How often the workers' kept request events are collected (so they do not pile up in the workers). */
const EVENTS_EVERY_MS = 250;

/** Workers run the TypeScript entry under tsx when the primary does (from source), the build's .js otherwise. */
function workerEntry(): { exec: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  return { exec: join(dirname(here), `cluster-worker${ext}`), execArgv: ext === '.ts' ? ['--import', import.meta.resolve('tsx')] : [] };
}

interface Slot {
  readonly index: number;
  worker?: Worker;
  /** Its worker has started and caught up with every admin change: reads and changes go to it. */
  ready: boolean;
  startedAtMs: number;
}

/** Sums the workers' per-second points (aligned from the newest: every window ends at its last complete second). */
function mergeSeries(all: readonly (readonly SecondPoint[])[]): SecondPoint[] {
  const longest = all.reduce((a, b) => (b.length > a.length ? b : a), []);
  return longest.map((point, i) => {
    const fromEnd = longest.length - i;
    const same = all.map((s) => s[s.length - fromEnd]).filter((p): p is SecondPoint => p !== undefined);
    // A percentile does not add up: the worst worker's is an upper bound of the whole second's.
    return {
      tMs: point.tMs,
      rps: same.reduce((sum, p) => sum + p.rps, 0),
      errorsPerS: same.reduce((sum, p) => sum + p.errorsPerS, 0),
      p50Ms: Math.max(...same.map((p) => p.p50Ms)),
      p99Ms: Math.max(...same.map((p) => p.p99Ms)),
    };
  });
}

/** The dashboard's window over every worker; times are the first worker's clock. */
export function mergeLiveWindows(windows: readonly LiveWindow[]): LiveWindow {
  const [first] = windows;
  const keys = new Set(windows.flatMap((w) => Object.keys(w.series)));
  const series: Record<string, SecondPoint[]> = {};
  for (const key of keys) series[key] = mergeSeries(windows.map((w) => w.series[key] ?? []));
  // Every worker hears every policy change, so the periods line up from the newest back.
  const periods = first.periods.map((period, i) => {
    const fromEnd = first.periods.length - i;
    const requests: Record<string, number> = {};
    for (const w of windows) {
      for (const [id, n] of Object.entries(w.periods[w.periods.length - fromEnd]?.requests ?? {})) requests[id] = (requests[id] ?? 0) + n;
    }
    return { ...period, requests };
  });
  return { nowMs: first.nowMs, series, markers: first.markers, periods };
}

/** What each worker sees of one backend, beside the sums. */
export interface WorkerBackendView {
  readonly pid: number;
  readonly state: AdminBackend['state'];
  readonly weight: number;
  readonly inFlight: number;
  readonly requests: number;
}

/** Sums in-flight, requests, errors and ejections over the workers; state and weight are the first worker's, with every worker's view in `workers`. */
export function mergeBackends(perWorker: ReadonlyArray<{ readonly pid: number; readonly backends: readonly AdminBackend[] }>): Array<AdminBackend & { workers: WorkerBackendView[] }> {
  const [first] = perWorker;
  return first.backends.map((b) => {
    const views = perWorker.map((w) => ({ pid: w.pid, b: w.backends.find((x) => x.id === b.id) }));
    const sum = (field: 'inFlight' | 'requests' | 'errors' | 'ejections'): number => views.reduce((s, v) => s + (v.b?.[field] ?? 0), 0);
    return {
      ...b,
      inFlight: sum('inFlight'),
      requests: sum('requests'),
      errors: sum('errors'),
      ejections: sum('ejections'),
      workers: views.map((v) => ({ pid: v.pid, state: v.b?.state ?? 'down', weight: v.b?.weight ?? 0, inFlight: v.b?.inFlight ?? 0, requests: v.b?.requests ?? 0 })),
    };
  });
}

/** How `dispatcher`, `up` and `compare` start their dispatcher: in this process, or with workers > 1 as a cluster. */
export function dispatcherStarter(workers: number, log?: (line: string) => void): (o: StartDispatcherOptions) => Promise<RunningDispatcher | RunningCluster> {
  return workers > 1 ? (o) => startDispatcherCluster({ ...o, workers, log }) : startDispatcher;
}

export async function startDispatcherCluster(opts: StartClusterOptions): Promise<RunningCluster> {
  if (!(Number.isInteger(opts.workers) && opts.workers >= 1)) throw new Error(`--workers must be an integer >= 1, got ${opts.workers}`);
  if (opts.onAttemptEnded !== undefined || opts.clock !== undefined) {
    throw new Error('--workers: attempt traces and a custom clock stay in the worker processes; run one dispatcher for them');
  }
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  cluster.setupPrimary({ ...workerEntry(), silent: false });

  const own = new Registry();
  const restarts = new Counter({ name: 'dispatchlab_worker_restarts_total', help: 'Dispatcher worker processes that died and were started again (--workers)', registers: [own] });

  const replay: WorkerCall[] = [];
  const baseConfig: Omit<WorkerConfig, 'index' | 'port' | 'replay'> = {
    settings: opts.settings,
    backends: opts.backends,
    policy: opts.policy,
    seed: opts.seed ?? 1,
    bind: opts.bind ?? '127.0.0.1',
    sessionSecret: (opts.sessionSecret ?? randomBytes(32)).toString('base64'),
    healthChecks: opts.healthChecks !== false,
    keepEvents: opts.events !== undefined,
  };
  const port = opts.port ?? 0;
  let closing = false;
  let nextCallId = 0;
  const pending = new Map<number, { worker: Worker; resolve: (v: unknown) => void; reject: (e: Error) => void; timer: () => void }>();
  const slots: Slot[] = Array.from({ length: opts.workers }, (_, index) => ({ index, ready: false, startedAtMs: 0 }));

  function fork(slot: Slot): Promise<string> {
    return new Promise((resolve, reject) => {
      const worker = cluster.fork();
      slot.worker = worker;
      slot.ready = false;
      slot.startedAtMs = systemClock.now();
      let ready = false;
      let given = 0;
      // A send to a worker that is going away fails with EPIPE; its 'exit' tells the rest.
      worker.on('error', () => undefined);
      worker.on('message', (msg: unknown) => {
        if (!isProtocolMessage(msg)) return;
        const m = msg as FromWorker;
        if (m.dispatchlab === 'hello') {
          given = replay.length;
          const start: ToWorker = { dispatchlab: 'start', config: { ...baseConfig, index: slot.index, port, replay: [...replay] } };
          worker.send(start);
        } else if (m.dispatchlab === 'ready') {
          ready = true;
          // Changes made while it started are sent now, in the queue of changes, so none is missed.
          const catchUp = writes.then(async () => {
            for (const call of replay.slice(given)) await callOne(worker, call);
            slot.ready = slot.worker === worker;
          });
          writes = catchUp.catch(() => undefined);
          catchUp.then(() => resolve(m.url), reject);
        } else if (m.dispatchlab === 'failed') {
          reject(new Error(m.message));
        } else if (m.dispatchlab === 'reply') {
          const p = pending.get(m.id);
          if (p === undefined) return;
          pending.delete(m.id);
          p.timer();
          if (m.error !== undefined) p.reject(new AdminError(m.error.status, m.error.message));
          else p.resolve(m.result);
        }
      });
      worker.on('exit', (code, signal) => {
        for (const [id, p] of pending) {
          if (p.worker !== worker) continue;
          pending.delete(id);
          p.timer();
          p.reject(new AdminError(503, `dispatcher worker ${slot.index + 1} (pid ${worker.process.pid}) exited before it answered; try again`));
        }
        if (!ready) reject(new Error(`dispatcher worker ${slot.index + 1} exited before it was ready (${signal ?? `code ${code}`})`));
        if (slot.worker !== worker) return;
        slot.worker = undefined;
        slot.ready = false;
        if (closing || !ready) return;
        restarts.inc();
        log(`dispatcher: worker ${slot.index + 1} (pid ${worker.process.pid}) died (${signal ?? `code ${code}`}); starting another`);
        restart(slot, systemClock.now() - slot.startedAtMs < RESTART_PAUSE_MS ? RESTART_PAUSE_MS : 0);
      });
    });
  }

  // Like an nginx master: keep starting the slot's worker, a pause between failed tries.
  function restart(slot: Slot, pauseMs: number): void {
    systemClock.schedule(pauseMs, () => {
      if (closing) return;
      fork(slot).then(
        () => log(`dispatcher: worker ${slot.index + 1} restarted (pid ${slot.worker?.process.pid})`),
        (err: unknown) => {
          log(`dispatcher: worker ${slot.index + 1} did not start: ${err instanceof Error ? err.message : String(err)}; trying again in ${RESTART_PAUSE_MS} ms`);
          restart(slot, RESTART_PAUSE_MS);
        },
      );
    });
  }

  function callOne(worker: Worker, call: WorkerCall): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = nextCallId++;
      const timer = systemClock.schedule(CALL_TIMEOUT_MS, () => {
        pending.delete(id);
        reject(new AdminError(504, `dispatcher worker (pid ${worker.process.pid}) did not answer ${call.method} within ${CALL_TIMEOUT_MS} ms`));
      });
      pending.set(id, { worker, resolve, reject, timer });
      const message: ToWorker = { dispatchlab: 'call', id, call };
      worker.send(message);
    });
  }

  const live = (): Worker[] => slots.flatMap((s) => (s.ready && s.worker?.isConnected() ? [s.worker] : []));
  async function ask<T>(method: WorkerRead): Promise<Array<{ pid: number; result: T }>> {
    const workers = live();
    if (workers.length === 0) throw new AdminError(503, 'no dispatcher worker is running');
    return Promise.all(workers.map(async (w) => ({ pid: w.process.pid ?? 0, result: (await callOne(w, { method, args: [] })) as T })));
  }
  // One change at a time, in the same order in every worker.
  let writes: Promise<unknown> = Promise.resolve();
  function change(method: WorkerMutation, ...args: unknown[]): Promise<void> {
    const call: WorkerCall = { method, args };
    const done = writes.then(async () => {
      await Promise.all(live().map((w) => callOne(w, call)));
      replay.push(call);
    });
    writes = done.catch(() => undefined);
    return done;
  }

  // A worker's clock (performance.now) starts at its own timeOrigin: shift its times onto ours.
  async function collectEvents(): Promise<void> {
    const sink = opts.events;
    if (sink === undefined) return;
    for (const { result } of await ask<KeptEvents>('events')) {
      const shiftMs = result.timeOriginMs - performance.timeOrigin;
      for (const e of result.events) {
        const at = e[1] + shiftMs;
        if (e[0] === 'r') sink.arrived(at);
        else if (e[0] === 'a') sink.admitted(at, e[2], e[3], e[4], e[5]);
        else if (e[0] === 'e') sink.attemptEnded(at, e[2], e[3], e[4]);
        else sink.answered(at, e[2], e[3], e[4]);
      }
    }
  }
  let stopCollecting = (): void => undefined;
  if (opts.events !== undefined) {
    const tick = (): void => {
      if (closing) return;
      stopCollecting = systemClock.schedule(EVENTS_EVERY_MS, () => void collectEvents().catch(() => undefined).finally(tick));
    };
    tick();
  }

  const backends = async (): Promise<AdminBackend[]> => mergeBackends((await ask<AdminBackend[]>('backends')).map((r) => ({ pid: r.pid, backends: r.result })));
  const control: AdminControl = {
    backends,
    policy: async () => (await ask<AdminPolicy>('policy'))[0].result,
    setPolicy: (spec) => change('setPolicy', spec),
    addBackend: (b) => change('addBackend', b),
    removeBackend: (id) => change('removeBackend', id),
    drain: (id) => change('drain', id),
    undrain: (id) => change('undrain', id),
    setWeight: (id, weight) => change('setWeight', id, weight),
  };

  const adminToken = opts.adminToken ?? randomBytes(24).toString('base64url');
  const fleet = opts.fleet === undefined ? undefined : new FleetTracker(opts.fleet.scenario, opts.fleet.source ?? remoteFleetSource(hostMetricsUrls(opts.backends)), systemClock);
  let draining = false;
  const admin = createAdminApp({
    control,
    token: adminToken,
    draining: () => draining,
    registry: {
      contentType: own.contentType,
      metrics: async () => {
        const perWorker = await ask<Array<MetricObjectWithValues<MetricValue<string>>>>('metrics');
        return AggregatorRegistry.aggregate([...perWorker.map((w) => w.result), await own.getMetricsAsJSON()]).metrics();
      },
    },
    dashboard: {
      controls: fleet?.controls,
      frame: async () => {
        const status = await ask<{ queueLength: number; live: LiveWindow }>('status');
        return {
          policy: await control.policy(),
          policies: policyNames(),
          queueLength: status.reduce((sum, s) => sum + s.result.queueLength, 0),
          backends: await backends(),
          fleet: fleet === undefined ? { hosts: [], controls: false } : await fleet.view(),
          live: mergeLiveWindows(status.map((s) => s.result.live)),
        };
      },
    },
  });
  const adminServer = http.createServer(admin.app);

  /** Send every worker `order` and wait until each exits, killing one still there after `stopMs` and some slack. */
  async function stopWorkers(order: ToWorker, stopMs: number): Promise<void> {
    closing = true;
    await Promise.all(
      slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            const w = slot.worker;
            if (w === undefined || w.isDead()) return resolve();
            const kill = systemClock.schedule(stopMs + EXIT_SLACK_MS, () => w.process.kill('SIGKILL'));
            w.once('exit', () => {
              kill();
              resolve();
            });
            if (w.isConnected()) w.send(order);
            else w.process.kill('SIGTERM');
          }),
      ),
    );
  }

  let url: string;
  let adminUrl: string;
  try {
    // node:cluster shares one listening socket per (address, port) as the workers ask for it, port 0
    // included: every worker, a restarted one too, asks for the same port and gets the same socket.
    [url] = await Promise.all(slots.map((s) => fork(s)));
    const adminBind = opts.adminBind ?? '127.0.0.1';
    adminUrl = serverUrl(adminBind, await listen(adminServer, opts.adminPort ?? 0, adminBind, 'dispatcher admin'));
  } catch (err) {
    stopCollecting();
    await stopWorkers({ dispatchlab: 'close', graceMs: 0 }, 0);
    throw err;
  }

  const { drainMs, graceMs: defaultGraceMs } = opts.settings.shutdown;
  let closed: Promise<void> | undefined;
  const stop = (order: ToWorker, stopMs: number): Promise<void> => {
    closed ??= (async () => {
      admin.closeStreams();
      // What the workers emitted so far is collected before they drain and go.
      await collectEvents().catch(() => undefined);
      stopCollecting();
      await stopWorkers(order, stopMs);
      await closeServer(adminServer, 0);
    })();
    return closed;
  };
  return {
    url,
    adminUrl,
    adminToken,
    pids: () => slots.map((s) => s.worker?.process.pid ?? 0),
    collectEvents,
    async cpuUsage() {
      const all = await ask<NodeJS.CpuUsage>('cpu');
      return { user: all.reduce((sum, c) => sum + c.result.user, 0), system: all.reduce((sum, c) => sum + c.result.system, 0) };
    },
    close(graceMs = defaultGraceMs) {
      const order: ToWorker = { dispatchlab: 'close', graceMs };
      // During a shutdown's drain the workers are told to close now, which ends their drain.
      if (draining) for (const s of slots) if (s.worker?.isConnected()) s.worker.send(order);
      return stop(order, graceMs);
    },
    shutdown() {
      draining = true;
      return stop({ dispatchlab: 'shutdown' }, drainMs + defaultGraceMs);
    },
  };
}
