import type { Clock } from '../core/clock.js';
import type { Millis } from '../core/types.js';
import type { Fleet, VmStatus } from '../backends/hypervisor/types.js';
import type { DispatcherSettings } from '../core/scenario.js';

/**
 * Active health checks in virtual time, without probes. The live dispatcher's HealthChecker probes
 * every replica each `intervalMs` and marks it down after `fall` failed probes in a row (up after
 * `rise` good ones). Here a VM that stops answering (suspended by its owner, migrating, crashed) is
 * set down on every dispatcher `intervalMs * fall` after its status changed, and set up again
 * `intervalMs * rise` after it runs again: the worst-case detection delay of that prober (a probe
 * that lands just after the change is the first of the `fall` failures). During that window the
 * dispatchers still send it requests, which then wait (suspended, migrating) or fail with a
 * connect error and may be retried (crashed), as they would live.
 *
 * A status change that is undone before it is detected is never seen, as with a real prober; each
 * VM keeps a generation number so a pending transition of an older status is ignored.
 *
 * A passing probe also ends an outlier ejection (Balancer.healthCheckPassed): here an ejected
 * backend is probed every `intervalMs` from its ejection (the latest the live prober's next probe
 * would land) and passes the first probe that finds its VM running.
 */

/** The part of the Balancer this needs. */
export interface HealthTarget {
  setHealth(id: string, up: boolean): void;
  healthCheckPassed(id: string): void;
}

export interface SimulatedHealthChecks {
  /** Tell the prober model that `target` ejected `vm` (wire it to the Balancer's onEjection). */
  ejected(target: HealthTarget, vm: string): void;
}

export function simulateHealthChecks(
  fleet: Fleet,
  clock: Clock,
  settings: DispatcherSettings,
  replicas: ReadonlySet<string>,
  targets: readonly HealthTarget[],
): SimulatedHealthChecks {
  const { intervalMs, fall, rise } = settings.healthCheck;
  const downAfterMs: Millis = intervalMs * fall;
  const upAfterMs: Millis = intervalMs * rise;
  const generation = new Map<string, number>();
  const believedUp = new Map<string, boolean>();

  const onStatus = (vm: string, status: VmStatus): void => {
    if (!replicas.has(vm)) return;
    const gen = (generation.get(vm) ?? 0) + 1;
    generation.set(vm, gen);
    const up = status === 'running';
    clock.schedule(up ? upAfterMs : downAfterMs, () => {
      if (generation.get(vm) !== gen || (believedUp.get(vm) ?? true) === up) return;
      believedUp.set(vm, up);
      for (const target of targets) target.setHealth(vm, up);
    });
  };
  for (const host of fleet.hosts) host.onStatusChange(onStatus);
  return {
    ejected(target, vm) {
      const host = fleet.hostOf(vm);
      const probe = (): void => {
        if (host.status(vm) === 'running') target.healthCheckPassed(vm);
        else clock.schedule(intervalMs, probe);
      };
      clock.schedule(intervalMs, probe);
    },
  };
}
