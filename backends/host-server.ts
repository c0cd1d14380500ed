import { createServer, type Server } from 'node:http';
import type { Clock } from '../core/clock.js';
import { preciseClock } from '../core/precise-clock.js';
import { createRng, type Rng } from '../core/rng.js';
import { ScenarioError, type Scenario } from '../core/scenario.js';
import { createHostMetrics, type HostMetrics } from './host-metrics.js';
import { createFleet, type HypervisorHost } from './hypervisor/index.js';
import { closeServer, listen, serverUrl } from '../core/server-lifecycle.js';
import { createReplicaApp, DEFAULT_MAX_BODY_BYTES } from './replica-app.js';
import { replicaPorts } from './replica-ports.js';
import { RequestCosts } from '../core/workload.js';

/**
 * One hypervisor host as a process (`dispatchlab host`): the host's model runs once, and every
 * serving VM on it gets its own HTTP server in front of that shared model, so a busy neighbour
 * slows a replica exactly as the model says. All servers share the host's one metrics Registry.
 */

export interface StartHostOptions {
  readonly scenario: Scenario;
  readonly hostName: string;
  /**
   * Defaults to wall time with sub-millisecond timers (core/precise-clock.ts): a completion's
   * answer leaves when the model finishes it, not on the next millisecond tick. The model must run
   * on the clock the sockets live on.
   */
  readonly clock?: Clock;
  /** Defaults to the scenario's seed. */
  readonly rng?: Rng;
  /** A base port overriding the host's basePort; 0 or 'auto' gives every replica an ephemeral port (tests). */
  readonly port?: number | 'auto';
  /** Address to listen on; 127.0.0.1 unless asked (0.0.0.0 in containers). */
  readonly bind?: string;
  readonly maxBodyBytes?: number;
  /**
   * Start the model's owners and faults (host.start(), their times counted from then) once the
   * replicas listen: the default. False leaves it to the caller, who starts the model when its run
   * begins (`compare`, when the load does: the simulator counts them from its first arrival).
   */
  readonly startModel?: boolean;
}

export interface RunningReplica {
  readonly vm: string;
  readonly url: string;
  readonly port: number;
}

export interface RunningHost {
  readonly host: HypervisorHost;
  readonly replicas: readonly RunningReplica[];
  /** Any replica port serves the host's whole registry; this is the first one's. */
  readonly metricsUrl: string;
  /**
   * Stop accepting, let in-flight requests finish for up to `graceMs`, then drop the connections
   * still open (their model jobs are cancelled) and stop the model. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

/** Long enough for a request of a slow scenario, short enough that `docker stop` never kills us. */
const DEFAULT_CLOSE_GRACE_MS = 2000;
/** Longer than the dispatcher pool's idle time, so the pool never reuses a socket we just closed. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const HEADERS_TIMEOUT_MS = KEEP_ALIVE_TIMEOUT_MS + 1000;

export async function startHost(opts: StartHostOptions): Promise<RunningHost> {
  const { scenario, hostName } = opts;
  const bind = opts.bind ?? '127.0.0.1';
  const ports = replicaPorts(scenario, hostName, opts.port === 'auto' ? 0 : opts.port);
  if (ports.length === 0) {
    throw new ScenarioError(scenario.name, [{ path: 'vms', message: `host "${hostName}" has no serving VMs, so nothing to serve` }]);
  }
  const rng = opts.rng ?? createRng(scenario.seed);
  // Built exactly as the simulator builds it (cost model, this host's faults); the fleet's other
  // hosts are never started, so they hold no timers and cost nothing.
  // The metrics read the host, and the host reports its timer lateness to them.
  const reportTo: { metrics?: HostMetrics } = {};
  const host = createFleet(scenario, {
    clock: opts.clock ?? preciseClock,
    onTimerLateness: (_host, lateMs) => reportTo.metrics?.observeTimerLateness(lateMs),
  }).host(hostName);
  const metrics = (reportTo.metrics = createHostMetrics(host));

  const costs = new RequestCosts(scenario.seed);
  const servers: Server[] = [];
  const replicas: RunningReplica[] = [];
  try {
    for (const { vm, port } of ports) {
      const app = createReplicaApp({
        host,
        vm: vm.name,
        classes: scenario.workload.classes,
        costs,
        rng: rng.stream(`replica:${vm.name}`),
        metrics,
        maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      });
      const server = createServer(app);
      server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      server.headersTimeout = HEADERS_TIMEOUT_MS;
      servers.push(server);
      const actualPort = await listen(server, port, bind, vm.name);
      replicas.push({ vm: vm.name, port: actualPort, url: serverUrl(bind, actualPort) });
    }
  } catch (err) {
    await Promise.all(servers.map((s) => closeServer(s, 0)));
    throw err;
  }
  if (opts.startModel !== false) host.start();

  let closing: Promise<void> | undefined;
  return {
    host,
    replicas,
    metricsUrl: `${replicas[0].url}/metrics`,
    close(graceMs = DEFAULT_CLOSE_GRACE_MS) {
      closing ??= Promise.all(servers.map((s) => closeServer(s, graceMs))).then(() => host.stop());
      return closing;
    },
  };
}
