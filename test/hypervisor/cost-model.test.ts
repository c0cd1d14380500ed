import { describe, expect, it } from 'vitest';
import { DEFAULT_COST_MODEL, resolveCostModel, serviceCpuMs } from '../../backends/hypervisor/cost-model.js';
import type { RequestCost } from '../../backends/hypervisor/types.js';
import { defaultMmu, VIRTUALIZATION_TECHNIQUES } from '../../core/scenario.js';
import { bench, latencyMs } from './fixtures.js';

const ioHeavy: RequestCost = { cpuMs: 2, ioOps: 500, pageTableUpdates: 0, memoryMb: 0 };
const pageTableHeavy: RequestCost = { cpuMs: 10, ioOps: 0, pageTableUpdates: 2000, memoryMb: 0 };

describe('virtualization cost model', () => {
  it('on an I/O-heavy request: container < paravirtual < hardware-assisted <= binary-translation < emulation', () => {
    const ms = Object.fromEntries(
      VIRTUALIZATION_TECHNIQUES.map((t) => [t, serviceCpuMs(ioHeavy, { virtualization: t, mmu: defaultMmu(t) }, DEFAULT_COST_MODEL)]),
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
      techniques: { paravirtual: { cpuFactor: 2, ioOpUs: 10, ptTrapUs: 50 } },
      mmu: { shadow: { cpuFactor: 3, ptUpdateUs: 100 }, nested: { cpuFactor: 4, ptUpdateUs: 0 } },
      type2: { cpuFactor: 1.5 },
    });
    const cost: RequestCost = { cpuMs: 1, ioOps: 100, pageTableUpdates: 10, memoryMb: 0 };
    // Under shadow paging a page-table write costs the way in (ptTrapUs) plus the shadow sync.
    expect(serviceCpuMs(cost, { virtualization: 'paravirtual', mmu: 'shadow' }, model)).toBeCloseTo(1 * 2 * 3 + 1 + 1.5, 12);
    expect(serviceCpuMs(cost, { virtualization: 'paravirtual', mmu: 'shadow' }, model, 'type2')).toBeCloseTo(1 * 2 * 3 * 1.5 + 1 + 1.5, 12);
    // Under nested paging nothing traps, so the technique's way in costs nothing.
    expect(serviceCpuMs(cost, { virtualization: 'paravirtual', mmu: 'nested' }, model)).toBeCloseTo(1 * 2 * 4 + 1, 12);
    // Containers use the host's page tables: the MMU mode does not apply; and they have no VMM, so
    // a Type 2 host adds no world-switch surcharge to them.
    expect(serviceCpuMs(cost, { virtualization: 'container', mmu: 'shadow' }, model)).toBeCloseTo(1 + (100 * 0.5) / 1000, 12);
    expect(serviceCpuMs(cost, { virtualization: 'container', mmu: 'shadow' }, model, 'type2')).toBeCloseTo(1 + (100 * 0.5) / 1000, 12);
  });

  it('a shadow page-table fault is a full VM exit under hardware assist but handled in place under binary translation (Adams & Agesen 2006)', () => {
    const firstGeneration = serviceCpuMs(pageTableHeavy, { virtualization: 'hardware-assisted', mmu: 'shadow' }, DEFAULT_COST_MODEL);
    const binaryTranslation = serviceCpuMs(pageTableHeavy, { virtualization: 'binary-translation', mmu: 'shadow' }, DEFAULT_COST_MODEL);
    const nested = serviceCpuMs(pageTableHeavy, { virtualization: 'hardware-assisted', mmu: 'nested' }, DEFAULT_COST_MODEL);
    // Page-table-heavy work: first-generation hardware assist loses to BT, nested paging beats both
    // (Agesen et al., USENIX ATC 2012).
    expect(firstGeneration).toBeGreaterThan(binaryTranslation);
    expect(binaryTranslation).toBeGreaterThan(nested);
    const { techniques, mmu } = DEFAULT_COST_MODEL;
    expect(firstGeneration).toBeCloseTo(10 * techniques['hardware-assisted'].cpuFactor + (2000 * (mmu.shadow.ptUpdateUs + techniques['hardware-assisted'].ptTrapUs)) / 1000, 12);
  });

  it('emulation defaults sit in the cited 10-100x range of native CPU time', () => {
    const factor = DEFAULT_COST_MODEL.techniques.emulation.cpuFactor;
    expect(factor).toBeGreaterThanOrEqual(10);
    expect(factor).toBeLessThanOrEqual(100);
  });

  it('overrides merge field by field over the defaults and leave the defaults untouched', () => {
    const model = resolveCostModel({ techniques: { emulation: { ioOpUs: 1 } }, migration: { msPerGb: 5 } });
    expect(model.techniques.emulation).toEqual({ ...DEFAULT_COST_MODEL.techniques.emulation, ioOpUs: 1 });
    expect(model.migration).toEqual({ ...DEFAULT_COST_MODEL.migration, msPerGb: 5 });
    const live = resolveCostModel({ migration: { live: { dirtyMbPerS: 7 } } }).migration;
    expect(live).toEqual({ ...DEFAULT_COST_MODEL.migration, live: { ...DEFAULT_COST_MODEL.migration.live, dirtyMbPerS: 7 } });
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
