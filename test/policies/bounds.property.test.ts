import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_BACKENDS, MAX_MAGLEV_TABLE_SIZE, MAX_RING_POINTS, MAX_WEIGHT } from '../../core/limits.js';
import { createRng } from '../../core/rng.js';
import { parseScenario, ScenarioError, expandVms } from '../../core/scenario.js';
import { VirtualClock } from '../../core/virtual-clock.js';
import { Balancer } from '../../dispatcher/balancer/balancer.js';
import { MaglevTable } from '../../policies/hashing/maglev.js';
import { hashingOptions } from '../../policies/hashing/placer.js';
import { HashRing } from '../../policies/hashing/ring.js';
import { z } from 'zod';
import { checkPolicySpecs, createPolicy, policyNames } from '../../policies/index.js';
import { settings } from '../balancer/fixtures.js';

// Issue 17.3: every setting is bounded, the same bounds in the scenario schema and the admin API
// (both parse policy options with the registry's schemas, and weights against MAX_WEIGHT). The
// properties: an accepted input never throws later, and what it makes the process build (hash
// table entries, backends) stays within fixed bounds, so no accepted value can freeze the loop or
// grow memory without bound. Refused inputs are refused with a readable message.

/** Numbers a hostile or careless user might type. */
const number = fc.oneof(
  fc.integer({ min: -5, max: 70_000 }),
  fc.double({ noNaN: false }),
  fc.constantFrom(0, 1, 2, 3, 7, 101, 256, 257, 1000, 1001, 65_537, 65_539, 131_071, 1e5, 1e6, 1e8, 1e308, -1, Number.MAX_SAFE_INTEGER),
);
const value = fc.oneof(number, fc.string({ maxLength: 8 }), fc.boolean(), fc.constantFrom('ring', 'maglev', 'distinct', 'with-replacement', 'in-flight', 'peak-ewma', 'reported', 'session', 'client', 'request', 'cookie', 'header'));
const optionKeys = ['algorithm', 'vnodes', 'tableSize', 'boundedLoad', 'choices', 'sampling', 'metric', 'decayMs', 'defaultRttMs', 'key', 'header', 'cookie', 'refreshMs'];
const options = fc.dictionary(fc.constantFrom(...optionKeys), value, { maxKeys: 5 });
const policyName = fc.constantFrom(...policyNames(), '__proto__', 'constructor', 'toString', 'nope');

describe('bounded settings (property-based)', () => {
  it('a policy spec is either refused with a readable message or runs without throwing, whatever the weights', () => {
    fc.assert(
      fc.property(
        policyName,
        options,
        fc.array(number, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (name, opts, weights, seed) => {
          const spec = { name, options: opts };
          let policy;
          try {
            policy = createPolicy(spec, { rng: createRng(seed) });
          } catch (err) {
            expect(err).toBeInstanceOf(Error);
            expect((err as Error).message).toMatch(/^(unknown policy|policy ")/);
            return;
          }
          const accepted = weights.filter((w) => w > 0 && w <= MAX_WEIGHT);
          const refused = weights.filter((w) => !(w >= 0 && w <= MAX_WEIGHT));
          const clock = new VirtualClock();
          for (const w of refused) {
            expect(() => new Balancer({ clock, policy, settings: settings(), backends: [{ id: 'x', weight: w }] })).toThrow(/weight must be a number from 0/);
          }
          if (accepted.length === 0) return;
          const balancer = new Balancer({ clock, policy, settings: settings(), backends: accepted.map((weight, i) => ({ id: `b${i}`, weight })) });
          for (let i = 0; i < 50; i++) {
            balancer.begin({ retryable: true, sessionKey: `s${i % 7}`, clientKey: `c${i % 5}`, requestKey: `/r${i}` }, (r) => {
              expect(r.lease).toBeDefined();
              clock.advance(1);
              r.lease?.end({ kind: 'response', status: 200 });
            });
          }
          balancer.setWeight('b0', accepted[accepted.length - 1]);
          balancer.removeBackend('b0');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the scenario schema and the policy registry agree with the tables: what is accepted builds a bounded table', () => {
    const schema = z.strictObject(hashingOptions({ default: 0, cap: 'ceil(c x average in-flight)' }));
    fc.assert(
      fc.property(options, fc.array(number, { minLength: 1, maxLength: 200 }), (opts, weights) => {
        const parsed = schema.safeParse(Object.fromEntries(Object.entries(opts).filter(([k]) => k in schema.shape)));
        if (!parsed.success) return;
        const members = weights.filter((w) => w > 0 && w <= MAX_WEIGHT).map((weight, i) => ({ id: `b${i}`, weight }));
        const ring = new HashRing(members, parsed.data.vnodes);
        expect(ring.entries).toBeLessThanOrEqual(MAX_RING_POINTS + members.length);
        const maglev = new MaglevTable(members, parsed.data.tableSize);
        expect(maglev.entries).toBeLessThanOrEqual(Math.max(MAX_MAGLEV_TABLE_SIZE, 2 * members.length));
        expect(maglev.memberIds.length).toBe(members.length);
        for (const id of maglev.memberIds) expect([...maglev.preferences(0)]).toContain(id);
      }),
      { numRuns: 200 },
    );
  });

  it('a scenario is either refused with the path of the bad field or within the bounds', () => {
    const base = {
      name: 'fuzz',
      hosts: [{ name: 'h', cores: 4, memoryMb: 1_000_000, allowOvercommit: true }],
      workload: { classes: [{ name: 'p', share: 1, cpuMs: 1 }] },
    };
    fc.assert(
      fc.property(number, number, fc.constantFrom(...policyNames(), '__proto__'), options, (count, weight, policy, opts) => {
        const doc = { ...base, vms: [{ name: 'web', host: 'h', count, weight }], policies: [{ name: policy, options: opts }] };
        let scenario;
        try {
          scenario = parseScenario(doc, 'fuzz', checkPolicySpecs);
        } catch (err) {
          expect(err).toBeInstanceOf(ScenarioError);
          expect((err as ScenarioError).issues.length).toBeGreaterThan(0);
          return;
        }
        expect(expandVms(scenario).length).toBeLessThanOrEqual(MAX_BACKENDS);
        expect(scenario.vms[0].weight).toBeLessThanOrEqual(MAX_WEIGHT);
        expect(() => createPolicy(scenario.policies[0], { rng: createRng(1) })).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});
