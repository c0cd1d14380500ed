import { describe, expect, it } from 'vitest';
import { DEFAULT_COST_MODEL, resolveCostModel, serviceCpuMs } from '../../backends/hypervisor/cost-model.js';
import type { RequestCost } from '../../backends/hypervisor/types.js';
import { VIRTUALIZATION_TECHNIQUES } from '../../core/scenario.js';
import { bench, latencyMs } from './fixtures.js';

const ioHeavy: RequestCost = { cpuMs: 2, ioOps: 500, pageTableUpdates: 0, memoryMb: 0 };
const pageTableHeavy: RequestCost = { cpuMs: 10, ioOps: 0, pageTableUpdates: 2000, memoryMb: 0 };

describe('virtualization cost model', () => {
  it('on an I/O-heavy request: container < paravirtual < hardware-assisted <= binary-translation < emulation', () => {
    const ms = Object.fromEntries(
      VIRTUALIZATION_TECHNIQUES.map((t) => [t, serviceCpuMs(ioHeavy, { virtualization: t, mmu: 'nested' }, DEFAULT_COST_MODEL)]),
    );
    expect(ms.container).toBeLessThan(ms.paravirtual);
    expect(ms.paravirtual).toBeLessThan(ms['hardware-assisted']);
    expect(ms['hardware-assisted']).toBeLessThanOrEqual(ms['binary-translation']);
    expect(ms['binary-translation']).toBeLessThan(ms.emulation);
  });

  it('the same order shows in request latency on the host model', () => {
    const vms = VIRTUALIZATION_TECHNIQUES.map((t) => ({ name: t, virtualization: t, memoryMb: 256 }));
    const b = bench({ cores: 8, memoryMb: 4096 }, vms, { costModel: DEFAULT_COST_MODEL });
    const jobs = VIRTUALIZATION_TECHNIQUES.map((t) => b.submit(t, ioHeavy));
    b.clock.runUntilIdle();
    const latencies = jobs.map(latencyMs);
    for (let i = 1; i < latencies.length; i++) expect(latencies[i - 1]).toBeGreaterThan(latencies[i]);
  });

  it('on a page-table-heavy request shadow paging costs more than nested paging', () => {
    const shadow = serviceCpuMs(pageTableHeavy, { virtualization: 'hardware-assisted', mmu: 'shadow' }, DEFAULT_COST_MODEL);
    const nested = serviceCpuMs(pageTableHeavy, { virtualization: 'hardware-assisted', mmu: 'nested' }, DEFAULT_COST_MODEL);
    expect(shadow).toBeGreaterThan(nested);
  });

  it('on a TLB-bound request without page-table writes nested paging costs more (the 2-D walk)', () => {
    const cpuOnly: RequestCost = { cpuMs: 10, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 };
    const shadow = serviceCpuMs(cpuOnly, { virtualization: 'hardware-assisted', mmu: 'shadow' }, DEFAULT_COST_MODEL);
    const nested = serviceCpuMs(cpuOnly, { virtualization: 'hardware-assisted', mmu: 'nested' }, DEFAULT_COST_MODEL);
    expect(nested).toBeGreaterThan(shadow);
  });

  it('computes the documented formula, with the Type 2 factor on CPU time', () => {
    const model = resolveCostModel({
      techniques: { paravirtual: { cpuFactor: 2, ioOpUs: 10 } },
      mmu: { shadow: { cpuFactor: 3, ptUpdateUs: 100 } },
      type2: { cpuFactor: 1.5 },
    });
    const cost: RequestCost = { cpuMs: 1, ioOps: 100, pageTableUpdates: 10, memoryMb: 0 };
    expect(serviceCpuMs(cost, { virtualization: 'paravirtual', mmu: 'shadow' }, model)).toBeCloseTo(1 * 2 * 3 + 1 + 1, 12);
    expect(serviceCpuMs(cost, { virtualization: 'paravirtual', mmu: 'shadow' }, model, 'type2')).toBeCloseTo(1 * 2 * 3 * 1.5 + 1 + 1, 12);
    // Containers use the host's page tables: the MMU mode does not apply.
    expect(serviceCpuMs(cost, { virtualization: 'container', mmu: 'shadow' }, model)).toBeCloseTo(1 + (100 * 0.5) / 1000, 12);
  });

  it('overrides merge field by field over the defaults and leave the defaults untouched', () => {
    const model = resolveCostModel({ techniques: { emulation: { ioOpUs: 1 } }, migration: { msPerGb: 5 } });
    expect(model.techniques.emulation).toEqual({ cpuFactor: DEFAULT_COST_MODEL.techniques.emulation.cpuFactor, ioOpUs: 1 });
    expect(model.migration).toEqual({ baseMs: DEFAULT_COST_MODEL.migration.baseMs, msPerGb: 5 });
    expect(model.techniques.container).toEqual(DEFAULT_COST_MODEL.techniques.container);
    expect(DEFAULT_COST_MODEL.techniques.emulation.ioOpUs).not.toBe(1);
    expect(resolveCostModel()).toEqual(DEFAULT_COST_MODEL);
  });

  it('counts I/O traps (not for containers) and page-table traps only under shadow paging', () => {
    const b = bench({ cores: 4, memoryMb: 4096 }, [
      { name: 'shadow', mmu: 'shadow', memoryMb: 256 },
      { name: 'nested', mmu: 'nested', memoryMb: 256 },
      { name: 'box', virtualization: 'container', mmu: 'shadow', memoryMb: 256 },
    ], { costModel: DEFAULT_COST_MODEL });
    for (const vm of ['shadow', 'nested', 'box']) b.submit(vm, { cpuMs: 1, ioOps: 7, pageTableUpdates: 11 });
    b.clock.runUntilIdle();
    const traps = b.host.snapshot().vms.map((v) => [v.vm, v.ioTraps, v.pageTableTraps]);
    expect(traps).toEqual([['shadow', 7, 11], ['nested', 7, 0], ['box', 0, 0]]);
  });
});
