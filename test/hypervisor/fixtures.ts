import { createHost } from '../../backends/hypervisor/host.js';
import { DEFAULT_COST_MODEL, type CostModel } from '../../backends/hypervisor/cost-model.js';
import type { HypervisorHost, JobResult, JobTiming, RequestCost } from '../../backends/hypervisor/types.js';
import { expandVms, ScenarioSchema, type FaultSpec, type HostSpec, type VmSpec } from '../../core/scenario.js';
import { VirtualClock } from '../../core/virtual-clock.js';

/** Scenario-shaped host and VM entries, with the schema's defaults filled in (no cross-checks, so tests can build bad hosts). */
export function specs(host: Record<string, unknown>, vms: Record<string, unknown>[]): { host: HostSpec; vms: VmSpec[] } {
  const scenario = ScenarioSchema.parse({
    name: 't',
    hosts: [{ name: 'h', ...host }],
    vms: vms.map((vm) => ({ host: 'h', ...vm })),
    workload: { classes: [{ name: 'c', share: 1, cpuMs: 1 }] },
  });
  return { host: scenario.hosts[0], vms: expandVms(scenario) };
}

export interface Bench {
  clock: VirtualClock;
  host: HypervisorHost;
  /** Submit and record the result. */
  submit(vm: string, cost: Partial<RequestCost>): { result?: JobResult };
}

/** A cost model with no virtualization overhead, so CPU-sharing tests see cpuMs exactly. */
export const NATIVE_COSTS: CostModel = {
  ...DEFAULT_COST_MODEL,
  techniques: Object.fromEntries(
    Object.keys(DEFAULT_COST_MODEL.techniques).map((t) => [t, { cpuFactor: 1, ioOpUs: 0, ptTrapUs: 0 }]),
  ) as unknown as CostModel['techniques'],
  mmu: { shadow: { cpuFactor: 1, ptUpdateUs: 0 }, nested: { cpuFactor: 1, ptUpdateUs: 0 } },
  type2: { cpuFactor: 1 },
};

export function bench(
  host: Record<string, unknown>,
  vms: Record<string, unknown>[],
  options: { costModel?: CostModel; faults?: Partial<FaultSpec>[] } = {},
): Bench {
  const clock = new VirtualClock();
  const s = specs(host, vms);
  const faults = (options.faults ?? []).map((f) => ({ kind: 'crash' as const, factor: 1, ...f }) as FaultSpec);
  const model = createHost(s.host, s.vms, { clock, costModel: options.costModel ?? NATIVE_COSTS, faults });
  return {
    clock,
    host: model,
    submit(vm, cost) {
      const out: { result?: JobResult } = {};
      model.submit(vm, { cpuMs: 0, ioOps: 0, pageTableUpdates: 0, memoryMb: 0, ...cost }, (result) => {
        if (out.result !== undefined) throw new Error('onDone called twice');
        out.result = result;
      });
      return out;
    },
  };
}

/** The timing of a finished job, failing the test if it did not finish well. */
export function timing(out: { result?: JobResult }): JobTiming {
  if (out.result === undefined) throw new Error('job has not finished');
  if (!out.result.ok) throw new Error(`job failed: ${out.result.reason}`);
  return out.result.timing;
}

export function latencyMs(out: { result?: JobResult }): number {
  const t = timing(out);
  return t.finishedAt - t.submittedAt;
}
