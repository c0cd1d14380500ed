import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WaterFill } from '../../backends/hypervisor/water-fill.js';

function fill(capacity: number, demand: number[], weight: number[]): number[] {
  const wf = new WaterFill(demand.length);
  wf.demand.set(demand);
  wf.weight.set(weight);
  wf.run(capacity);
  return [...wf.alloc];
}

/**
 * The straightforward water-fill the host ran before issue 19: every round passes over all
 * claimants. The faster one must give the same shares to the bit (seeded runs stay identical).
 */
function referenceFill(capacity: number, demand: readonly number[], weight: readonly number[]): { fits: boolean; alloc: number[] } {
  const size = demand.length;
  let total = 0;
  for (let i = 0; i < size; i++) total += demand[i];
  if (total <= capacity) return { fits: true, alloc: [...demand] };
  const alloc = new Array<number>(size).fill(0);
  const open = demand.map((d) => d > 0);
  let left = capacity;
  for (;;) {
    let openWeight = 0;
    for (let i = 0; i < size; i++) if (open[i]) openWeight += weight[i];
    if (openWeight === 0) return { fits: false, alloc };
    const perWeight = left / openWeight;
    let satisfied = false;
    for (let i = 0; i < size; i++) {
      if (open[i] && demand[i] <= perWeight * weight[i]) {
        alloc[i] = demand[i];
        left -= demand[i];
        open[i] = false;
        satisfied = true;
      }
    }
    if (!satisfied) {
      for (let i = 0; i < size; i++) if (open[i]) alloc[i] = perWeight * weight[i];
      return { fits: false, alloc };
    }
  }
}

/** Cores: whole numbers as a data-centre host's VMs want them, or any fraction (backgrounds, caps). */
const cores = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.double({ min: 0, max: 4, noNaN: true }));
const weights = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.double({ min: 0, max: 8, noNaN: true }));

describe('weighted water-filling', () => {
  it('gives the same shares, to the bit, as a pass over every claimant per round, on random contended hosts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(cores, weights), { minLength: 1, maxLength: 24 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        (claimants, fraction, passTotal) => {
          const demand = claimants.map(([d]) => d);
          const weight = claimants.map(([, w]) => w);
          // Mostly less than the total demand: a contended host, where the rounds run.
          const capacity = demand.reduce((a, b) => a + b, 0) * fraction;
          const expected = referenceFill(capacity, demand, weight);
          const wf = new WaterFill(demand.length);
          wf.demand.set(demand);
          wf.weight.set(weight);
          const fits = passTotal ? wf.run(capacity, wf.total()) : wf.run(capacity);
          expect(fits).toBe(expected.fits);
          // Object.is: the same double, -0 and 0 told apart.
          expected.alloc.forEach((a, i) => expect(Object.is(wf.alloc[i], a), `slot ${i}: ${wf.alloc[i]} against ${a}`).toBe(true));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('gives the same shares as the reference run after run on one WaterFill (its arrays are reused)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.tuple(cores, weights), { minLength: 6, maxLength: 6 }), { minLength: 2, maxLength: 6 }), (rounds) => {
        const wf = new WaterFill(6);
        for (const claimants of rounds) {
          const demand = claimants.map(([d]) => d);
          const weight = claimants.map(([, w]) => w);
          wf.demand.set(demand);
          wf.weight.set(weight);
          const expected = referenceFill(6, demand, weight);
          expect(wf.run(6)).toBe(expected.fits);
          expect([...wf.alloc]).toEqual(expected.alloc);
        }
      }),
    );
  });

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
