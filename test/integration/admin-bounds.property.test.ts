import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WEIGHT } from '../../core/limits.js';
import { ScenarioSchema } from '../../core/scenario.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';

// Issue 17.3 through the real admin port: whatever a token holder PUTs (weights, policies and
// their options), the dispatcher answers 2xx or 4xx, never 5xx, stays up, and what it accepted
// is within the same bounds the scenario schema applies.

const TOKEN = 'property-token-123456';
let dispatcher: RunningDispatcher;

beforeAll(async () => {
  dispatcher = await startDispatcher({
    settings: ScenarioSchema.shape.dispatcher.parse({}),
    backends: [
      { id: 'a', url: 'http://127.0.0.1:9' },
      { id: 'b', url: 'http://127.0.0.1:9' },
    ],
    policy: 'round-robin',
    adminToken: TOKEN,
    healthChecks: false,
  });
});
afterAll(() => dispatcher.close(0));

async function put(path: string, body: unknown): Promise<{ status: number; body: { error?: string } }> {
  const res = await fetch(`${dispatcher.adminUrl}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { error?: string } };
}

const number = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, 1, 2, 256, 257, 1e5, 1e6, 1e308, -1, 65_537, 2, 101),
);
const value = fc.oneof(number, fc.string({ maxLength: 6 }), fc.constantFrom('ring', 'maglev', 'with-replacement'));
const options = fc.dictionary(fc.constantFrom('algorithm', 'vnodes', 'tableSize', 'boundedLoad', 'choices', 'sampling', 'decayMs'), value, { maxKeys: 4 });

describe('admin API bounds (property-based, real sockets)', () => {
  it('weights: accepted exactly when 0 < weight <= MAX_WEIGHT; never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(number, async (weight) => {
        const res = await put('/backends/a/weight', { weight });
        expect(res.status).toBe(weight > 0 && weight <= MAX_WEIGHT ? 200 : 400);
      }),
      { numRuns: 60 },
    );
  });

  it('policies: any name and options give 200 or 400 with a message, and the dispatcher still routes picks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('consistent-hash', 'session-sticky', 'power-of-two', 'peak-ewma', '__proto__', 'constructor'), options, async (name, opts) => {
        const res = await put('/policy', { name, options: opts });
        expect([200, 400]).toContain(res.status);
        // A built-in's bad options are named by their path (options.x), as a scenario's are.
        if (res.status === 400) expect(res.body.error).toMatch(/^unknown policy "|^options(\.[\w[\]]+)?: /);
        // The balancer still answers a pick with whatever policy is now in force.
        dispatcher.balancer.begin({ retryable: true, sessionKey: 's', clientKey: 'c', requestKey: '/' }, (r) => {
          expect(r.lease).toBeDefined();
          r.lease?.end({ kind: 'client-abort' });
        });
      }),
      { numRuns: 60 },
    );
    expect((await put('/policy', { name: '__proto__' })).body.error).toMatch(/^unknown policy "__proto__"/);
  });
});
