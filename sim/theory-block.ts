import { resolveCostModel, serviceCpuMs } from '../backends/hypervisor/cost-model.js';
import { expandVms, replicaVms, type Scenario } from '../core/scenario.js';
import { baselines, utilisationOf, type Baselines } from './theory.js';

/**
 * The report's `theory` block: the analytic baselines of theory.ts, but only when the scenario is
 * one the formulas describe. Each condition below removes something the M/M/· models do not have;
 * when one fails the block says which, so a reader knows why no baseline is shown.
 *
 * - Poisson arrivals: open loop (`arrival.rateRps`), not a closed loop.
 * - Exponential service with one mean: every class `service: exponential`, and every class costs the
 *   same mean VM time (a mix of means is hyperexponential). The mean is the cost model's
 *   serviceCpuMs of the class's mean native cost; drawCost scales ioOps and page-table updates with
 *   the CPU draw, and serviceCpuMs is linear, so the VM service time is exponential too.
 * - Homogeneous, single-server replicas: 1 vCPU each, the same service mean on every replica
 *   (technique, MMU, hypervisor type), equal weights, no cap below one core, no background load.
 * - No interference: on every host the VMs' vCPUs plus the host's own load fit in its cores (so no
 *   steal), and nothing swaps (Type 2 hosts are not overcommitted and classes have no working set).
 * - No faults and no owner intervals touching harvested VMs.
 */

export interface TheoryBlock extends Partial<Baselines> {
  readonly applicable: boolean;
  readonly note: string;
  /** Why the baselines do not apply (empty when they do). */
  readonly reasons: readonly string[];
  readonly sources?: readonly string[];
}

const SOURCES = [
  'M/M/1 and M/M/c (Erlang C): Kleinrock, Queueing Systems vol. 1, 1975; Harchol-Balter, Performance Modeling and Design of Computer Systems, 2013',
  'power of two choices (supermarket model, n -> infinity): Mitzenmacher, IEEE TPDS 12(10), 2001',
];

/** Mean VM service time of each replica, per class, from the cost model. */
function serviceMeans(scenario: Scenario): number[][] {
  const model = resolveCostModel(scenario.costModel);
  const hostType = new Map(scenario.hosts.map((h) => [h.name, h.hypervisor]));
  return replicaVms(scenario).map((vm) =>
    scenario.workload.classes.map((c) =>
      serviceCpuMs({ cpuMs: c.cpuMs, ioOps: c.ioOps, pageTableUpdates: c.pageTableUpdates, memoryMb: c.memoryMb }, vm, model, hostType.get(vm.host)),
    ),
  );
}

function differ(values: readonly number[]): boolean {
  return values.some((v) => Math.abs(v - values[0]) > 1e-9 * Math.max(1, Math.abs(values[0])));
}

function obstacles(scenario: Scenario, means: number[][]): string[] {
  const reasons: string[] = [];
  if (!('rateRps' in scenario.workload.arrival)) reasons.push('arrivals are closed-loop (connections), not Poisson');
  if (scenario.workload.classes.some((c) => c.service !== 'exponential')) reasons.push('a request class has non-exponential service');
  if (differ(means.flat())) reasons.push('service means differ between classes or replicas (heterogeneous replicas or a class mix)');
  const replicas = replicaVms(scenario);
  if (replicas.some((vm) => vm.vcpus !== 1)) reasons.push('a replica has more than one vCPU');
  if (differ(replicas.map((vm) => vm.weight))) reasons.push('replica weights differ');
  if (replicas.some((vm) => vm.capCores > 0 && vm.capCores < 1)) reasons.push('a replica is capped below one core');
  if (replicas.some((vm) => vm.background.cpuCores > 0)) reasons.push('a replica has background load of its own');
  const vms = expandVms(scenario);
  for (const host of scenario.hosts) {
    const onHost = vms.filter((vm) => vm.host === host.name);
    const demand = onHost.reduce((sum, vm) => sum + vm.vcpus, 0) + host.hostLoad;
    if (demand > host.cores) reasons.push(`host ${host.name}: its VMs' vCPUs and host load (${demand}) exceed its ${host.cores} cores, so VMs can steal from each other`);
    const memoryMb = onHost.reduce((sum, vm) => sum + vm.memoryMb, 0);
    // The model swaps on Type 2 hosts and on Type 1 hosts allowed to overcommit (host.ts `swaps`).
    const maySwap = host.hypervisor === 'type2' || host.allowOvercommit;
    if (maySwap && (memoryMb > host.memoryMb || scenario.workload.classes.some((c) => c.memoryMb > 0))) {
      reasons.push(`host ${host.name}: ${host.hypervisor === 'type2' ? 'a Type 2 host' : 'a Type 1 host allowed to overcommit'} may swap`);
    }
    if (host.owner.length > 0 && onHost.some((vm) => vm.harvested)) reasons.push(`host ${host.name}: owner intervals suspend or migrate harvested VMs`);
  }
  if (scenario.faults.length > 0) reasons.push('the scenario injects faults');
  return reasons;
}

export function theoryFor(scenario: Scenario): TheoryBlock {
  const means = serviceMeans(scenario);
  const reasons = obstacles(scenario, means);
  if (reasons.length === 0 && 'rateRps' in scenario.workload.arrival) {
    const servers = means.length;
    const serviceMs = means[0][0];
    const arrivalRps = scenario.workload.arrival.rateRps;
    const utilisation = utilisationOf(arrivalRps, serviceMs, servers);
    if (utilisation >= 1) {
      reasons.push(`utilisation ${utilisation.toFixed(3)} >= 1: the queues grow without bound`);
    } else {
      return {
        applicable: true,
        note: 'analytic baselines for Poisson arrivals, exponential service and identical 1-vCPU replicas: random = M/M/1 per replica, centralQueue = M/M/c (a dispatcher queue with one request per replica), powerOfTwo = the supermarket limit (n -> infinity)',
        reasons: [],
        sources: SOURCES,
        ...baselines(arrivalRps, serviceMs, servers),
      };
    }
  }
  return { applicable: false, note: 'no analytic baseline: the scenario is outside the M/M/c family', reasons };
}
