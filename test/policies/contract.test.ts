import { describe, expect, it } from 'vitest';
import { policyNames } from '../../policies/index.js';
import { POLICY_CONTRACT, runContract } from '../../policies/contract.js';
import { eligible, type BackendView, type PickContext, type Policy } from '../../policies/policy.js';
import { policy } from './helpers.js';

/**
 * The contract every registered policy keeps, with its default options: the checks live in
 * policies/contract.ts, which `dispatchlab check-policy` runs on a user's file too.
 */
describe.each(policyNames())('policy contract: %s', (name) => {
  it.each(POLICY_CONTRACT.map((check) => [check.rule, check] as const))('%s', (_rule, check) => {
    check.run((seed) => policy(name, seed));
  });
});

describe('the contract catches what it is for', () => {
  const failures = (make: (seed: number) => Policy): string[] => runContract(make).flatMap((r) => (r.failure === undefined ? [] : [`${r.rule}: ${r.failure}`]));

  it('a policy that ignores health, avoid, the seed and removals fails those rules, in plain words', () => {
    const seen = new Set<string>();
    const careless = (): Policy => ({
      name: 'careless',
      pick: (backends) => backends[Math.floor(Math.random() * backends.length)]?.id,
      onComplete: (id) => void seen.add(id),
      trackedIds: () => [...seen],
    });
    const found = failures(careless);
    expect(found).toEqual([
      expect.stringMatching(/^never picks an unhealthy.*: it picked "[bcd]"; of backends a \(healthy\)/),
      expect.stringMatching(/^returns undefined when no backend is eligible: given only a down and a draining backend it returned "[ab]"/),
      expect.stringMatching(/^honours avoid.*: asked to avoid a and b \(a retry\), it picked "[ab]"/),
      expect.stringMatching(/^gives the same sequence.*: two runs with seed 42 differ at pick \d+/),
      expect.stringMatching(/^keeps no state for removed backends.*: after c and d were removed .* still keeps state for [a-e, ]*\(trackedIds\)/),
      expect.stringMatching(/^uses no clock, timer or Math.random.*: it called Math.random\(\)/),
    ]);
  });

  it('a policy whose accounting breaks on completions out of order fails with its own error', () => {
    const stack = (): Policy => {
      const open: string[] = [];
      return {
        name: 'stack',
        pick: (b, ctx) => eligible(b, ctx.avoid)[open.length % 2]?.id ?? eligible(b, ctx.avoid)[0]?.id,
        onDispatch: (id) => void open.push(id),
        onComplete: (id) => {
          if (open.pop() !== id) throw new Error(`completed ${id}, expected the last dispatched`);
        },
      };
    };
    expect(failures(stack)).toContainEqual(expect.stringMatching(/^takes one onComplete per onDispatch.*: completed [abc], expected the last dispatched/));
  });

  it('a pickView that is not pick as a view fails: another backend, or a copy of the right one', () => {
    // The least in flight, the first or the last of the tied.
    const least =
      (tieToLast: boolean) =>
      (backends: readonly BackendView[], ctx: PickContext): BackendView | undefined => {
        let best: BackendView | undefined;
        for (const b of eligible(backends, ctx.avoid)) if (best === undefined || b.inFlight < best.inFlight || (tieToLast && b.inFlight === best.inFlight)) best = b;
        return best;
      };
    const first = least(false);
    const last = least(true);
    const rule = /^with a pickView, returns the very view/;
    expect(failures(() => ({ name: 'same', pick: (b, ctx) => first(b, ctx)?.id, pickView: first }))).toEqual([]);
    expect(failures(() => ({ name: 'other', pick: (b, ctx) => first(b, ctx)?.id, pickView: last }))).toEqual([
      expect.stringMatching(/^with a pickView.*: from the same seed, pick and pickView differ at pick 1 \("a", then "e"\)/),
    ]);
    const copy = failures(() => ({ name: 'copy', pick: (b, ctx) => first(b, ctx)?.id, pickView: (b, ctx) => ({ ...first(b, ctx)! }) }));
    expect(copy).toEqual([expect.stringMatching(rule)]);
    expect(copy[0]).toMatch(/pickView returned an object that is not one of the views it was given \(id "a"\)/);
  });

  it('a well-behaved policy passes, and the same one reading the clock does not', () => {
    const rotating = (clock: () => number) => (): Policy => {
      let turn = 0;
      return { name: 'rotating', pick: (b, ctx) => (clock() >= 0 ? eligible(b, ctx.avoid)[turn++ % Math.max(1, eligible(b, ctx.avoid).length)]?.id : undefined) };
    };
    expect(failures(rotating(() => 0))).toEqual([]);
    expect(failures(rotating(() => Date.now()))).toEqual([expect.stringMatching(/it called Date.now\(\)/)]);
  });
});

describe('registry', () => {
  it('lists the policies the project exists for and the ones users expect', () => {
    expect(policyNames()).toEqual(
      expect.arrayContaining(['round-robin', 'least-loaded', 'session-sticky', 'random', 'power-of-two', 'peak-ewma', 'consistent-hash']),
    );
  });
});

describe('createPolicy', () => {
  it('refuses an unknown name, naming the known ones', () => {
    expect(() => policy('fastest')).toThrow(/unknown policy "fastest" \(known: round-robin, /);
  });

  it('refuses bad options with the path of the bad field', () => {
    expect(() => policy({ name: 'power-of-two', options: { choices: 1 } })).toThrow(/policy "power-of-two": choices: /);
    expect(() => policy({ name: 'consistent-hash', options: { algorithm: 'maglev', tableSize: 1000 } })).toThrow(/tableSize: must be a prime number/);
    expect(() => policy({ name: 'least-loaded', options: { metrc: 'reported' } })).toThrow(/metrc|Unrecognized key/);
    expect(() => policy({ name: 'session-sticky', options: { cookie: 'a b' } })).toThrow(/cookie: must be a cookie name/);
  });
});
