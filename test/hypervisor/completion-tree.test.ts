import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompletionTree } from '../../backends/hypervisor/completion-tree.js';

/** What the tree replaces: a pass over every VM. */
function byScan(completion: number[], dueFrom: number[], atMs: number): { earliestMs: number; due: number[] } {
  return { earliestMs: Math.min(Infinity, ...completion), due: dueFrom.flatMap((d, slot) => (d <= atMs ? [slot] : [])) };
}

const time = fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(Infinity), fc.constant(-Infinity));

describe('CompletionTree', () => {
  it('gives the earliest completion and the due slots in slot order, as a pass over all VMs would, after any updates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.nat(), time, time, fc.boolean()), { maxLength: 80 }),
        time,
        (size, updates, atMs) => {
          const tree = new CompletionTree(size);
          const completion = new Array<number>(size).fill(Infinity);
          const dueFrom = new Array<number>(size).fill(Infinity);
          let pendingLeaves = false;
          for (const [n, c, d, bulk] of updates) {
            const slot = n % size;
            completion[slot] = c;
            dueFrom[slot] = d;
            // Bulk updates (setLeaf, then rebuild) as recompute does, single ones as settleOne does.
            if (bulk) {
              tree.setLeaf(slot, c, d);
              pendingLeaves = true;
            } else {
              if (pendingLeaves) tree.rebuild();
              pendingLeaves = false;
              tree.set(slot, c, d);
            }
          }
          if (pendingLeaves) tree.rebuild();
          const out: number[] = [];
          const count = tree.collectDue(atMs, out);
          const expected = byScan(completion, dueFrom, atMs);
          expect(tree.earliestMs).toBe(expected.earliestMs);
          expect(out.slice(0, count)).toEqual(expected.due);
        },
      ),
    );
  });
});
