import type { Clock } from '../core/clock.js';
import type { PolicySpec, Scenario } from '../core/scenario.js';
import { replicaVms } from '../core/scenario.js';
import { preciseClock } from '../core/precise-clock.js';
import { startHost, type RunningHost } from '../backends/host-server.js';
import { createFleet, type HypervisorHost } from '../backends/hypervisor/index.js';
import { startDispatcher, type RunningDispatcher, type StartDispatcherOptions } from './dispatcher-service.js';
import { localFleetSource } from './fleet-view.js';

/**
 * The embedded default (`dispatchlab up`, and `compare`'s live runs): every host of a scenario and
 * the dispatcher in one process. Each host runs its own model (a model is per host anyway) on the
 * wall clock; replicas listen on ephemeral loopback ports, since only the dispatcher talks to them,
 * and the dispatcher's ports are the caller's (0 = ephemeral). A host with no replicas runs its
 * model with no server, so its neighbours still show (and can be faulted) on the dashboard, which
 * reads every model directly.
 */

export interface StartUpOptions {
  readonly scenario: Scenario;
  readonly policy: PolicySpec;
  /** Proxy port (default 0: ephemeral). */
  readonly port?: number;
  /** Admin port (default 0: ephemeral). */
  readonly adminPort?: number;
  /** The dispatcher's proxy address (the admin API stays on loopback). */
  readonly bind?: string;
  readonly adminToken?: string;
  readonly clock?: Clock;
  /** Passed through to the dispatcher (e.g. healthChecks: false). */
  readonly dispatcher?: Partial<Pick<StartDispatcherOptions, 'healthChecks' | 'sessionSecret' | 'settings' | 'events' | 'onAttemptEnded'>>;
  /** Leave the models' owners and faults unstarted until `startModels()` (startHost's startModel). */
  readonly deferModels?: boolean;
}

/** What `up` needs of its dispatcher, one (RunningDispatcher) or a cluster of them (RunningCluster). */
type Stoppable = { close(): Promise<void>; shutdown(): Promise<void> };

export interface RunningUp<D extends Stoppable = RunningDispatcher> {
  readonly dispatcher: D;
  readonly hosts: readonly RunningHost[];
  /** Every host's model, in the scenario's order (those of `hosts` and the ones without replicas). */
  readonly models: readonly HypervisorHost[];
  /** Start every model's owners and faults, from now (`deferModels`); a no-op otherwise, or when done once. */
  startModels(): void;
  /** Dispatcher first (no new requests), then the hosts. Idempotent. */
  close(): Promise<void>;
  /** What SIGTERM does: the dispatcher's shutdown (its drain, then its close), then the hosts. Idempotent with close. */
  shutdown(): Promise<void>;
}

/** `start`: how the dispatcher runs (default one in this process; `up --workers N` passes the cluster's). */
export async function startUp(opts: StartUpOptions): Promise<RunningUp>;
export async function startUp<D extends Stoppable>(opts: StartUpOptions, start: (o: StartDispatcherOptions) => Promise<D>): Promise<RunningUp<D>>;
export async function startUp(
  opts: StartUpOptions,
  start: (o: StartDispatcherOptions) => Promise<Stoppable> = startDispatcher,
): Promise<RunningUp<Stoppable>> {
  const { scenario } = opts;
  const serving = new Set(replicaVms(scenario).map((vm) => vm.host));
  const hosts: RunningHost[] = [];
  const models: HypervisorHost[] = [];
  const idle: HypervisorHost[] = [];
  try {
    for (const h of scenario.hosts) {
      if (serving.has(h.name)) {
        const running = await startHost({ scenario, hostName: h.name, clock: opts.clock, port: 'auto', startModel: opts.deferModels !== true });
        hosts.push(running);
        models.push(running.host);
      } else {
        const model = createFleet(scenario, { clock: opts.clock ?? preciseClock }).host(h.name);
        if (opts.deferModels !== true) model.start();
        idle.push(model);
        models.push(model);
      }
    }
    // Same backend set as the simulator: the VM's weight is also its dispatcher weight.
    const vmOf = new Map(replicaVms(scenario).map((vm) => [vm.name, vm]));
    const dispatcher = await start({
      settings: opts.dispatcher?.settings ?? scenario.dispatcher,
      backends: hosts.flatMap((h) => h.replicas.map((r) => ({ id: r.vm, url: r.url, host: vmOf.get(r.vm)?.host, weight: vmOf.get(r.vm)?.weight }))),
      policy: opts.policy,
      seed: scenario.seed,
      clock: opts.clock,
      port: opts.port,
      adminPort: opts.adminPort,
      bind: opts.bind,
      adminToken: opts.adminToken,
      healthChecks: opts.dispatcher?.healthChecks,
      sessionSecret: opts.dispatcher?.sessionSecret,
      fleet: { scenario, source: localFleetSource(models) },
      events: opts.dispatcher?.events,
      onAttemptEnded: opts.dispatcher?.onAttemptEnded,
    });
    let closing: Promise<void> | undefined;
    // The replicas serve until the dispatcher is done with them.
    const thenHosts = (dispatcherStopped: Promise<void>): Promise<void> =>
      (closing ??= dispatcherStopped.then(async () => {
        await Promise.all(hosts.map((h) => h.close()));
        for (const model of idle) model.stop();
      }));
    let unstarted = opts.deferModels === true;
    return {
      dispatcher,
      hosts,
      models,
      startModels() {
        if (!unstarted) return;
        unstarted = false;
        for (const model of models) model.start();
      },
      close: () => thenHosts(dispatcher.close()),
      shutdown: () => thenHosts(dispatcher.shutdown()),
    };
  } catch (err) {
    await Promise.all(hosts.map((h) => h.close(0)));
    for (const model of idle) model.stop();
    throw err;
  }
}
