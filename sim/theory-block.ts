import { resolveCostModel, serviceCpuMs } from '../backends/hypervisor/cost-model.js';
import { hostSwaps } from '../backends/hypervisor/memory.js';
import { expandVms, replicaVms, type Scenario, type VmSpec } from '../core/scenario.js';
import { mmc, powerOfD, randomAssignment, roundRobinAssignment, utilisationOf, type MMcBaseline, type QueueBaseline } from './theory.js';

/**
 * The report's `theory` block: the analytic baselines of theory.ts, each only when the scenario is
 * one its formula describes. When none applies the block says why, so a reader knows why no baseline
 * is shown; when some do, `omitted` says why the others are missing.
 *
 * Every baseline needs (`reasons` when one fails):
 * - Poisson arrivals: open loop (`arrival.rateRps`), not a closed loop.
 * - Identical replicas: the same VM service mean per class on every replica (technique, MMU,
 *   hypervisor type), the same vCPUs, equal weights, no cap below the vCPUs, no background load.
 *   The mean is the cost model's serviceCpuMs of the class's mean native cost; drawCost scales
 *   ioOps and page-table updates with the CPU draw and serviceCpuMs is linear, so the VM service
 *   time has the class's distribution too.
 * - No interference: on every host the VMs' vCPUs plus the host's own load fit in its cores (so no
 *   steal), and nothing swaps (Type 2 hosts are not overcommitted and classes have no working set).
 * - No faults and no owner intervals touching harvested VMs.
 * Then:
 * - random: 1-vCPU replicas with any service distribution and class mix (M/G/1-PS, mean over the
 *   mix); k-vCPU replicas with exponential service of one mean (M/M/k each).
 * - centralQueue (M/M/c over every vCPU), powerOfTwo, roundRobin (E_n/M/1): exponential service of
 *   one mean; powerOfTwo and roundRobin 1-vCPU replicas.
 */

/** The analytic baselines a block may hold, by their keys. */
export type Baseline = 'random' | 'roundRobin' | 'centralQueue' | 'powerOfTwo';

export interface TheoryBlock {
  readonly applicable: boolean;
  readonly note: string;
  /** Why no baseline applies (empty when one does). */
  readonly reasons: readonly string[];
  /** The baselines (by their keys in this block) left out while others apply, and why. */
  readonly omitted?: ReadonlyArray<{ readonly baselines: readonly Baseline[]; readonly reason: string }>;
  readonly sources?: readonly string[];
  readonly arrivalRps?: number;
  /** Mean VM service time, over the class mix. */
  readonly serviceMs?: number;
  readonly servers?: number;
  readonly vcpus?: number;
  /** λ / (servers · vcpus · μ). */
  readonly utilisation?: number;
  readonly random?: QueueBaseline;
  readonly centralQueue?: MMcBaseline;
  readonly powerOfTwo?: QueueBaseline;
  readonly roundRobin?: QueueBaseline;
}

const SOURCES = [
  'M/M/1, M/M/c (Erlang C) and E_n/M/1 (G/M/1): Kleinrock, Queueing Systems vol. 1, 1975; Harchol-Balter, Performance Modeling and Design of Computer Systems, 2013',
  'M/G/1-PS insensitivity, mean E[S]/(1 - rho): Kleinrock, Queueing Systems vol. 2, 1976, section 4.4; Harchol-Balter 2013, ch. 22',
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

/** What keeps every baseline out. */
function obstacles(scenario: Scenario, means: number[][]): string[] {
  const reasons: string[] = [];
  if (!('rateRps' in scenario.workload.arrival)) reasons.push('arrivals are closed-loop (connections), not Poisson');
  if (scenario.workload.classes.some((_, c) => differ(means.map((perClass) => perClass[c])))) {
    reasons.push('service means differ between replicas (heterogeneous replicas)');
  }
  const replicas = replicaVms(scenario);
  if (differ(replicas.map((vm) => vm.vcpus))) reasons.push('replicas have different numbers of vCPUs');
  if (differ(replicas.map((vm) => vm.weight))) reasons.push('replica weights differ');
  if (replicas.some((vm) => vm.capCores > 0 && vm.capCores < vm.vcpus)) reasons.push('a replica is capped below its vCPUs');
  if (replicas.some((vm) => vm.background.cpuCores > 0)) reasons.push('a replica has background load of its own');
  const vmsOf = new Map<string, VmSpec[]>();
  for (const vm of expandVms(scenario)) {
    const onHost = vmsOf.get(vm.host);
    if (onHost === undefined) vmsOf.set(vm.host, [vm]);
    else onHost.push(vm);
  }
  // Each host's reasons, said once for all the hosts they apply to: a data centre's racks of
  // identical hosts would otherwise repeat one reason per host.
  const hostsFor = new Map<string, string[]>();
  const hostReason = (host: string, reason: string): void => {
    const hosts = hostsFor.get(reason);
    if (hosts === undefined) hostsFor.set(reason, [host]);
    else hosts.push(host);
  };
  for (const host of scenario.hosts) {
    const onHost = vmsOf.get(host.name) ?? [];
    const demand = onHost.reduce((sum, vm) => sum + vm.vcpus, 0) + host.hostLoad;
    if (demand > host.cores) hostReason(host.name, `its VMs' vCPUs and host load (${demand}) exceed its ${host.cores} cores, so VMs can steal from each other`);
    const memoryMb = onHost.reduce((sum, vm) => sum + vm.memoryMb, 0);
    if (hostSwaps(host) && (memoryMb > host.memoryMb || scenario.workload.classes.some((c) => c.memoryMb > 0))) {
      hostReason(host.name, `${host.hypervisor === 'type2' ? 'a Type 2 host' : 'a Type 1 host allowed to overcommit'} may swap`);
    }
    if (host.owner.length > 0 && onHost.some((vm) => vm.harvested)) hostReason(host.name, 'owner intervals suspend or migrate harvested VMs');
  }
  for (const [reason, hosts] of hostsFor) {
    reasons.push(`host ${hosts[0]}${hosts.length > 1 ? ` (and ${hosts.length - 1} more the same)` : ''}: ${reason}`);
  }
  if (scenario.faults.length > 0) reasons.push('the scenario injects faults');
  return reasons;
}

/** What keeps the baselines that need exponential service of one mean out. */
function notExponential(scenario: Scenario, means: number[][]): string | undefined {
  if (scenario.workload.classes.some((c) => c.service !== 'exponential')) return 'a request class has non-exponential service';
  if (differ(means[0])) return 'service means differ between classes (a mix of means is not exponential)';
  return undefined;
}

export function theoryFor(scenario: Scenario): TheoryBlock {
  const means = serviceMeans(scenario);
  const reasons = obstacles(scenario, means);
  const none = (): TheoryBlock => ({ applicable: false, note: 'no analytic baseline: the scenario is outside the queueing models theory.ts knows', reasons });
  if (reasons.length > 0 || !('rateRps' in scenario.workload.arrival)) return none();
  const arrivalRps = scenario.workload.arrival.rateRps;
  const servers = means.length;
  const vcpus = replicaVms(scenario)[0].vcpus;
  const serviceMs = scenario.workload.classes.reduce((sum, c, i) => sum + c.share * means[0][i], 0);
  const utilisation = utilisationOf(arrivalRps, serviceMs, servers * vcpus);
  if (utilisation >= 1) {
    reasons.push(`utilisation ${utilisation.toFixed(3)} >= 1: the queues grow without bound`);
    return none();
  }
  const exponentialReason = notExponential(scenario, means);
  const multiVcpuReason = vcpus > 1 ? `replicas have ${vcpus} vCPUs` : undefined;
  if (exponentialReason !== undefined && multiVcpuReason !== undefined) {
    reasons.push(`${multiVcpuReason} and ${exponentialReason}`);
    return none();
  }
  const omitted: Array<{ baselines: Baseline[]; reason: string }> = [];
  if (exponentialReason !== undefined) omitted.push({ baselines: ['centralQueue', 'powerOfTwo', 'roundRobin'], reason: exponentialReason });
  else if (multiVcpuReason !== undefined) omitted.push({ baselines: ['powerOfTwo', 'roundRobin'], reason: multiVcpuReason });
  const exponential = exponentialReason === undefined;
  const single = vcpus === 1;
  return {
    applicable: true,
    note:
      'analytic baselines for Poisson arrivals and identical replicas: random = M/G/1-PS per 1-vCPU replica (any service distribution) or M/M/k per k-vCPU replica, centralQueue = M/M/c over every vCPU (a dispatcher queue with one request per vCPU), powerOfTwo = the supermarket limit (n -> infinity), roundRobin = E_n/M/1 per replica',
    reasons: [],
    ...(omitted.length > 0 ? { omitted } : {}),
    sources: SOURCES,
    arrivalRps,
    serviceMs,
    servers,
    vcpus,
    utilisation,
    random: randomAssignment(arrivalRps, serviceMs, servers, vcpus),
    ...(exponential ? { centralQueue: mmc(arrivalRps, serviceMs, servers * vcpus) } : {}),
    ...(exponential && single ? { powerOfTwo: powerOfD(arrivalRps, serviceMs, servers, 2), roundRobin: roundRobinAssignment(arrivalRps, serviceMs, servers) } : {}),
  };
}
