import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../core/heap.js';

describe('MinHeap', () => {
  it('pops by (key, seq) whatever the interleaving of pushes and pops', () => {
    // Few distinct keys, so equal keys (broken by seq) are common; sizes past a few levels of four.
    const op = fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 20 }) }), fc.constant({ pop: true as const }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const heap = new MinHeap<number>();
        const model: Array<{ key: number; seq: number }> = [];
        let seq = 0;
        for (const o of ops) {
          if ('push' in o) {
            heap.push(seq, o.push, seq);
            model.push({ key: o.push, seq: seq++ });
            continue;
          }
          model.sort((a, b) => a.key - b.key || a.seq - b.seq);
          const expected = model.shift();
          expect(heap.pop()).toBe(expected?.seq);
          expect(heap.size).toBe(model.length);
          if (model.length > 0) {
            expect(heap.topKey).toBe(Math.min(...model.map((e) => e.key)));
          }
        }
        const rest: number[] = [];
        for (let item = heap.pop(); item !== undefined; item = heap.pop()) rest.push(item);
        model.sort((a, b) => a.key - b.key || a.seq - b.seq);
        expect(rest).toEqual(model.map((e) => e.seq));
      }),
      { numRuns: 300 },
    );
  });
});
