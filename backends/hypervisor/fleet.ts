import type { Clock } from '../../core/clock.js';
import type { Millis } from '../../core/types.js';
import { expandVms, type Scenario, type VmSpec } from '../../core/scenario.js';
import { resolveCostModel } from './cost-model.js';
import { createHost } from './host.js';
import type { Fleet, HypervisorHost } from './types.js';
import { listNames } from '../../core/names.js';

/** The model draws no random numbers (costs are drawn by its callers), so a Clock is all it needs. */
export interface FleetDeps {
  readonly clock: Clock;
  /** Each host's completion-timer lateness (HostDeps.onTimerLateness), named by host. */
  readonly onTimerLateness?: (host: string, lateMs: Millis) => void;
}

/** Every host of a scenario on one Clock, with the scenario's cost model and faults. */
export function createFleet(scenario: Scenario, deps: FleetDeps): Fleet {
  const costModel = resolveCostModel(scenario.costModel);
  const vms = expandVms(scenario);
  const hostNames = new Set(scenario.hosts.map((h) => h.name));
  for (const vm of vms) {
    if (!hostNames.has(vm.host)) throw new Error(`VM "${vm.name}" is on "${vm.host}", which is not a defined host`);
  }
  // Grouped in one pass: filtering every VM per host is O(hosts x VMs), seconds at 10,000 VMs.
  const vmsByHost = new Map<string, VmSpec[]>();
  for (const vm of vms) {
    const own = vmsByHost.get(vm.host);
    if (own === undefined) vmsByHost.set(vm.host, [vm]);
    else own.push(vm);
  }
  const hosts = scenario.hosts.map((spec) => {
    const own = vmsByHost.get(spec.name) ?? [];
    const names = new Set(own.map((vm) => vm.name));
    const report = deps.onTimerLateness;
    // A copy of the spec: the host's runtime controls change it (host load), never the caller's scenario.
    return createHost({ ...spec }, own, {
      clock: deps.clock,
      costModel,
      faults: scenario.faults.filter((f) => names.has(f.vm)),
      ...(report ? { onTimerLateness: (lateMs: Millis) => report(spec.name, lateMs) } : {}),
    });
  });
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const byVm = new Map(vms.map((vm) => [vm.name, byName.get(vm.host) as HypervisorHost]));
  return {
    hosts,
    host(name) {
      const host = byName.get(name);
      if (host === undefined) throw new Error(`no host "${name}" (hosts: ${listNames(byName.keys())})`);
      return host;
    },
    hostOf(vm) {
      const host = byVm.get(vm);
      if (host === undefined) throw new Error(`no VM "${vm}" in the fleet`);
      return host;
    },
    start() {
      for (const host of hosts) host.start();
    },
    stop() {
      for (const host of hosts) host.stop();
    },
  };
}
