import { expandVms, ScenarioError, type Scenario, type VmSpec } from '../core/scenario.js';
import { listNames } from '../core/names.js';

/**
 * Which port each replica of a host listens on, so `dispatchlab host` and a dispatcher that reaches
 * hosts running elsewhere (compose) agree without talking to each other.
 *
 * Rule, per serving VM of the host in scenario order (non-serving VMs run in the model only and get
 * no server, so they take no port and the replica ports stay contiguous):
 *   1. `basePortOverride === 0`: every replica gets an ephemeral port (0), for tests;
 *   2. the VM's own `port` from the scenario;
 *   3. `basePortOverride` (or else the host's `basePort`) + the VM's index among the host's replicas;
 *   4. none of these: a ScenarioError naming the host, since there is no port to listen on.
 */

export interface ReplicaPort {
  readonly vm: VmSpec;
  /** 0 means "ephemeral": the OS picks it when the server listens. */
  readonly port: number;
}

export function replicaPorts(scenario: Scenario, hostName: string, basePortOverride?: number): ReplicaPort[] {
  const hostIndex = scenario.hosts.findIndex((h) => h.name === hostName);
  if (hostIndex < 0) {
    throw new ScenarioError(scenario.name, [
      { path: 'hosts', message: `no host named "${hostName}" (hosts: ${listNames(scenario.hosts.map((h) => h.name))})` },
    ]);
  }
  const basePort = basePortOverride ?? scenario.hosts[hostIndex].basePort;
  const replicas = expandVms(scenario).filter((vm) => vm.host === hostName && vm.serves);
  return replicas.map((vm, index) => {
    if (basePortOverride === 0) return { vm, port: 0 };
    if (vm.port !== undefined) return { vm, port: vm.port };
    if (basePort === undefined) {
      throw new ScenarioError(scenario.name, [
        {
          path: `hosts[${hostIndex}].basePort`,
          message: `host "${hostName}" has no basePort and VM "${vm.name}" no port: set one, or pass a base port`,
        },
      ]);
    }
    const port = basePort + index;
    if (port > 65535) {
      throw new ScenarioError(scenario.name, [
        { path: `hosts[${hostIndex}].basePort`, message: `base port ${basePort} leaves no room for replica ${index + 1} ("${vm.name}")` },
      ]);
    }
    return { vm, port };
  });
}
