import type { Clock } from '../core/clock.js';
import type { PolicySpec, Scenario } from '../core/scenario.js';
import { replicaVms } from '../core/scenario.js';
import { startHost, type RunningHost } from '../backends/host-server.js';
import { startDispatcher, type RunningDispatcher, type StartDispatcherOptions } from './dispatcher-service.js';

/**
 * The embedded default (`dispatchlab up`, and `compare`'s live runs): every host of a scenario and
 * the dispatcher in one process. Each host runs its own model (a model is per host anyway) on the
 * wall clock; replicas listen on ephemeral loopback ports, since only the dispatcher talks to them,
 * and the dispatcher's ports are the caller's (0 = ephemeral).
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
  readonly dispatcher?: Partial<Pick<StartDispatcherOptions, 'healthChecks' | 'sessionSecret' | 'settings' | 'events'>>;
}

export interface RunningUp {
  readonly dispatcher: RunningDispatcher;
  readonly hosts: readonly RunningHost[];
  /** Dispatcher first (no new requests), then the hosts. Idempotent. */
  close(): Promise<void>;
}

export async function startUp(opts: StartUpOptions): Promise<RunningUp> {
  const { scenario } = opts;
  const serving = new Set(replicaVms(scenario).map((vm) => vm.host));
  const hosts: RunningHost[] = [];
  try {
    for (const h of scenario.hosts) {
      if (serving.has(h.name)) hosts.push(await startHost({ scenario, hostName: h.name, clock: opts.clock, port: 'auto' }));
    }
    // Same backend set as the simulator: the VM's weight is also its dispatcher weight.
    const vmOf = new Map(replicaVms(scenario).map((vm) => [vm.name, vm]));
    const dispatcher = await startDispatcher({
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
      events: opts.dispatcher?.events,
    });
    let closing: Promise<void> | undefined;
    return {
      dispatcher,
      hosts,
      close() {
        closing ??= dispatcher.close().then(() => Promise.all(hosts.map((h) => h.close())).then(() => undefined));
        return closing;
      },
    };
  } catch (err) {
    await Promise.all(hosts.map((h) => h.close(0)));
    throw err;
  }
}
