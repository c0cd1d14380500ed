import { describe, expect, it } from 'vitest';
import { WaterFill } from '../../backends/hypervisor/water-fill.js';

function fill(capacity: number, demand: number[], weight: number[]): number[] {
  const wf = new WaterFill(demand.length);
  wf.demand.set(demand);
  wf.weight.set(weight);
  wf.run(capacity);
  return [...wf.alloc];
}

describe('weighted water-filling', () => {
  it('gives every demand when they fit', () => {
    expect(fill(4, [1, 0.5, 2], [1, 1, 1])).toEqual([1, 0.5, 2]);
  });

  it('shares by weight when everyone wants more than its share', () => {
    const alloc = fill(3, [3, 3], [2, 1]);
    expect(alloc[0]).toBeCloseTo(2, 12);
    expect(alloc[1]).toBeCloseTo(1, 12);
  });

  it('redistributes what satisfied claimants leave, over several rounds', () => {
    const alloc = fill(10, [1, 2.5, 10, 10], [1, 1, 1, 1]);
    expect(alloc[0]).toBeCloseTo(1, 12);
    expect(alloc[1]).toBeCloseTo(2.5, 12);
    expect(alloc[2]).toBeCloseTo(3.25, 12);
    expect(alloc[3]).toBeCloseTo(3.25, 12);
    expect(alloc.reduce((a, b) => a + b)).toBeCloseTo(10, 12);
  });

  it('ignores claimants with no demand and reuses its arrays between runs', () => {
    const wf = new WaterFill(3);
    wf.demand.set([0, 5, 5]);
    wf.weight.set([100, 1, 1]);
    wf.run(2);
    expect([...wf.alloc]).toEqual([0, 1, 1]);
    wf.demand.set([1, 0, 0]);
    wf.run(2);
    expect([...wf.alloc]).toEqual([1, 0, 0]);
  });
});
