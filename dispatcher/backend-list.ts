import { replicaVms, type Scenario } from '../core/scenario.js';
import { replicaPorts } from '../backends/replica-ports.js';
import type { DispatcherBackend } from './dispatcher-service.js';

/**
 * Where a stand-alone dispatcher finds its replicas: from `--backends` (`id=URL,...`, or bare
 * URLs, which take the scenario's replica names in order when the counts match, else backend-1..N),
 * or from the scenario itself: each host's `address` (127.0.0.1 when absent) and the port rule
 * `dispatchlab host` listens by (backends/replica-ports.ts), so the two agree without talking.
 * A backend that is a scenario VM takes the VM's weight, as in the simulator.
 */

export function backendsFromScenario(scenario: Scenario): DispatcherBackend[] {
  return scenario.hosts.flatMap((h) =>
    replicaPorts(scenario, h.name).map(({ vm, port }) => ({ id: vm.name, url: `http://${h.address ?? '127.0.0.1'}:${port}`, host: h.name, weight: vm.weight })),
  );
}

/** Parse `--backends`; throws an Error naming the bad entry. */
export function parseBackendList(text: string, scenario?: Scenario): DispatcherBackend[] {
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 0) throw new Error('--backends: expected id=URL,... or URL,...');
  const names = scenario ? replicaVms(scenario) : [];
  const useNames = names.length === entries.length;
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const eq = entry.indexOf('=');
    const id = eq > 0 ? entry.slice(0, eq) : useNames ? names[i].name : `backend-${i + 1}`;
    const url = eq > 0 ? entry.slice(eq + 1) : entry;
    if (!/^http:\/\/[^/]+/.test(url)) throw new Error(`--backends: "${entry}": expected http://host:port`);
    if (seen.has(id)) throw new Error(`--backends: backend "${id}" is listed twice`);
    seen.add(id);
    const vm = names.find((v) => v.name === id);
    return { id, url, host: vm?.host, weight: vm?.weight };
  });
}
