import { describe, expect, it } from 'vitest';
import { eligible, type BackendView, type Policy } from '../../policies/policy.js';
import { refusalStatus } from '../../dispatcher/balancer/types.js';
import { FirstEligible, GET, inFlight, setup } from './fixtures.js';

describe('Balancer admission and queue', () => {
  it('without a limit dispatches at once and never queues', () => {
    const { balancer, results } = setup({ settings: { maxConnPerBackend: 0 } });
    for (let i = 0; i < 5; i++) balancer.begin(GET, results.for(`r${i}`));
    expect(results.all.every((r) => r.result.lease?.backend === 'b1')).toBe(true);
    expect(balancer.queueLength()).toBe(0);
    expect(inFlight(balancer)).toEqual({ b1: 5, b2: 0 });
  });

  it('maxConnPerBackend=1 and 2 backends: 10 begins lease 2, queue 8, then lease all in FIFO order', () => {
    const { clock, balancer, results } = setup({ settings: { maxConnPerBackend: 1 } });
    for (let i = 0; i < 10; i++) balancer.begin(GET, results.for(`r${i}`));
    expect(results.tags()).toEqual(['r0', 'r1']);
    expect(results.lease('r0').backend).toBe('b1');
    expect(results.lease('r1').backend).toBe('b2');
    expect(balancer.queueLength()).toBe(8);

    clock.advance(7);
    results.lease('r1').end({ kind: 'response', status: 200 });
    expect(results.tags()).toEqual(['r0', 'r1', 'r2']);
    expect(results.lease('r2').backend).toBe('b2');
    expect(results.lease('r2').queuedMs).toBe(7);
    for (let i = 0; results.all.length < 10; i++) {
      clock.advance(1);
      results.all[i].result.lease!.end({ kind: 'response', status: 200 });
      expect(Object.values(inFlight(balancer)).every((n) => n <= 1)).toBe(true);
    }
    expect(results.tags()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
    expect(balancer.queueLength()).toBe(0);
    for (const r of results.all) r.result.lease!.end({ kind: 'response', status: 200 });
    expect(inFlight(balancer)).toEqual({ b1: 0, b2: 0 });
    expect(balancer.stats()).toMatchObject({ requests: 10, dispatched: 10, completed: 10 });
  });

  it('a newcomer queues behind waiting requests even when a slot is free (FIFO fairness)', () => {
    const { balancer, results } = setup({ backends: 1, settings: { maxConnPerBackend: 1 } });
    balancer.begin(GET, results.for('a'));
    balancer.begin(GET, results.for('b'));
    results.lease('a').end({ kind: 'response', status: 200 });
    expect(results.tags()).toEqual(['a', 'b']);
    balancer.begin(GET, results.for('c'));
    expect(results.tags()).toEqual(['a', 'b']);
    expect(balancer.queueLength()).toBe(1);
  });

  it('the policy is never shown a full backend as eligible', () => {
    const seen: boolean[][] = [];
    const { balancer, results } = setup({
      settings: { maxConnPerBackend: 1 },
      policy: {
        name: 'spy',
        pick(backends) {
          seen.push(backends.map((b) => b.healthy));
          return backends.find((b) => b.healthy)?.id;
        },
      },
    });
    balancer.begin(GET, results.for('a'));
    balancer.begin(GET, results.for('b'));
    expect(seen).toEqual([
      [true, true],
      [false, true],
    ]);
    // The public views keep telling the truth: the full backend is still in state healthy.
    expect(balancer.views().map((v) => [v.state, v.healthy])).toEqual([
      ['healthy', true],
      ['healthy', true],
    ]);
  });

  it("tells the policy how many backends it may pick from: full, draining and already-tried ones are not counted", () => {
    const seen: Array<[number | undefined, number]> = [];
    const { balancer, results } = setup({
      backends: 4,
      settings: { maxConnPerBackend: 1, retries: 2 },
      policy: {
        name: 'spy',
        pick(backends, ctx) {
          const candidates = eligible(backends, ctx.avoid);
          seen.push([ctx.eligibleCount, backends.filter((b) => b.healthy).length]);
          return candidates[0]?.id;
        },
      },
    });
    balancer.begin(GET, results.for('r1'));
    balancer.begin(GET, results.for('r2'));
    balancer.drain('b4');
    balancer.begin(GET, results.for('r3'));
    balancer.undrain('b4');
    const first = results.lease('r1');
    first.end({ kind: 'connect-error' });
    expect(first.retry(results.for('r1 again'))).toBe(true);
    expect(results.lease('r1 again').backend).toBe('b4');
    // b1, b2 (b1 full), b3 (b4 draining), b4 (b1 free again but already tried, b2 and b3 full).
    expect(seen.map(([count]) => count)).toEqual([4, 3, 1, 1]);
    for (const [count, healthy] of seen) expect(count).toBe(healthy);
  });

  it('fails the request, not the caller, when the policy picks an ineligible backend', () => {
    const errors: string[] = [];
    const { balancer, results } = setup({ settings: { maxConnPerBackend: 1 }, policy: { name: 'bad', pick: () => 'b1' }, observer: { onPolicyError: (m) => errors.push(m) } });
    balancer.begin(GET, results.for('r1'));
    balancer.begin(GET, results.for('r2'));
    expect(results.all[1].result).toMatchObject({ refused: 'policy-error', error: expect.stringMatching(/policy "bad" picked "b1", which is not eligible/) });
    expect(errors).toEqual([expect.stringMatching(/picked "b1"/)]);
    expect(refusalStatus('policy-error')).toBe(500);
    expect(inFlight(balancer)).toEqual({ b1: 1, b2: 0 });
  });

  it('takes a pickView choice by the view itself, and refuses a full one, a copy, another Balancer\'s view or no view at all', () => {
    const errors: string[] = [];
    const other = setup({ backends: 2 });
    let choose: (backends: readonly BackendView[]) => unknown = (backends) => backends[1];
    const policy: Policy = {
      name: 'by-view',
      pick: () => {
        throw new Error('pick is not called when pickView is there');
      },
      pickView: (backends) => choose(backends) as BackendView | undefined,
    };
    const { balancer, results } = setup({ settings: { maxConnPerBackend: 1 }, policy, observer: { onPolicyError: (m) => errors.push(m) } });
    balancer.begin(GET, results.for('r1'));
    expect(results.lease('r1').backend).toBe('b2');
    // b2 is full now: its view reads unhealthy, and choosing it anyway is the policy's error.
    balancer.begin(GET, results.for('full'));
    choose = (backends) => ({ ...backends[0] });
    balancer.begin(GET, results.for('copy'));
    choose = () => other.balancer.views()[0];
    balancer.begin(GET, results.for('foreign'));
    choose = () => 'b1';
    balancer.begin(GET, results.for('id'));
    expect(results.all.slice(1).map((r) => [r.tag, r.result.refused])).toEqual([
      ['full', 'policy-error'],
      ['copy', 'policy-error'],
      ['foreign', 'policy-error'],
      ['id', 'policy-error'],
    ]);
    expect(errors).toEqual([
      expect.stringMatching(/policy "by-view" picked a view of "b2", which is not eligible/),
      expect.stringMatching(/picked a view of "b1", which is not eligible/),
      expect.stringMatching(/picked a view of "b1", which is not eligible/),
      expect.stringMatching(/picked "b1", which is not eligible/),
    ]);
    choose = () => undefined;
    balancer.begin(GET, results.for('none'));
    expect(balancer.queueLength()).toBe(1);
    choose = (backends) => backends[0];
    results.lease('r1').end({ kind: 'response', status: 200 });
    expect(results.lease('none').backend).toBe('b1');
    expect(inFlight(balancer)).toEqual({ b1: 1, b2: 0 });
  });

  it('a pick that throws fails only that request: at once, from the queue and on a retry', () => {
    let throwing = false;
    const errors: string[] = [];
    const policy = new FirstEligible();
    const pick = policy.pick.bind(policy);
    policy.pick = (b, ctx) => {
      if (throwing) throw new Error('boom in pick');
      return pick(b, ctx);
    };
    const { balancer, results } = setup({ settings: { maxConnPerBackend: 1 }, policy, observer: { onPolicyError: (m) => errors.push(m) } });
    balancer.begin(GET, results.for('r1'));
    balancer.begin(GET, results.for('r2'));
    balancer.begin(GET, results.for('r3'));
    expect(balancer.queueLength()).toBe(1);
    throwing = true;
    balancer.begin(GET, results.for('r4'));
    results.lease('r1').end({ kind: 'connect-error' });
    expect(results.lease('r1').retry(results.for('r1 retry'))).toBe(true);
    results.lease('r2').end({ kind: 'response', status: 200 });
    expect(results.all.filter((r) => r.result.refused === 'policy-error').map((r) => r.tag).sort()).toEqual(['r1 retry', 'r3', 'r4']);
    expect(errors).toHaveLength(3);
    expect(balancer.stats().refused['policy-error']).toBe(3);
    expect(balancer.queueLength()).toBe(0);
    expect(inFlight(balancer)).toEqual({ b1: 0, b2: 0 });
    throwing = false;
    balancer.begin(GET, results.for('r5'));
    expect(results.lease('r5').backend).toBe('b1');
  });

  it('a policy that throws on a membership change: reported when a backend changes, refused as a new policy', () => {
    const errors: string[] = [];
    const { balancer, results } = setup({ observer: { onPolicyError: (m) => errors.push(m) } });
    const throwing = new FirstEligible('throwing');
    throwing.onMembershipChange = () => {
      throw new Error('boom in onMembershipChange');
    };
    expect(() => balancer.setPolicy(throwing)).toThrow('boom in onMembershipChange');
    expect(balancer.policy.name).toBe('first-eligible');
    const policy = balancer.policy as FirstEligible;
    policy.onMembershipChange = throwing.onMembershipChange;
    balancer.drain('b1');
    expect(errors).toEqual(['boom in onMembershipChange']);
    balancer.begin(GET, results.for('r1'));
    expect(results.lease('r1').backend).toBe('b2');
  });

  it('a hook that throws is reported and the request goes on', () => {
    const errors: string[] = [];
    const policy = new FirstEligible();
    policy.onDispatch = () => {
      throw new Error('boom in onDispatch');
    };
    policy.onComplete = () => {
      throw new Error('boom in onComplete');
    };
    const { balancer, results } = setup({ policy, observer: { onPolicyError: (m) => errors.push(m) } });
    balancer.begin(GET, results.for('r1'));
    results.lease('r1').end({ kind: 'response', status: 200 });
    expect(errors).toEqual(['boom in onDispatch', 'boom in onComplete']);
    expect(balancer.stats()).toMatchObject({ dispatched: 1, completed: 1 });
    expect(inFlight(balancer)).toEqual({ b1: 0, b2: 0 });
  });

  it('queue timeout refuses at exactly timeoutMs, with a Retry-After in whole seconds', () => {
    const { clock, balancer, results } = setup({ backends: 1, settings: { maxConnPerBackend: 1, queue: { maxLength: 10, timeoutMs: 1500 } } });
    balancer.begin(GET, results.for('a'));
    clock.advance(100);
    balancer.begin(GET, results.for('b'));
    clock.advance(1499);
    expect(results.tags()).toEqual(['a']);
    clock.advance(1);
    expect(results.all[1]).toEqual({ tag: 'b', result: { refused: 'queue-timeout', retryAfterMs: 2000 } });
    expect(clock.now()).toBe(1600);
    expect(balancer.queueLength()).toBe(0);
    expect(balancer.stats().refused['queue-timeout']).toBe(1);
    // A slot freeing later does not resurrect the refused request.
    results.lease('a').end({ kind: 'response', status: 200 });
    expect(results.all).toHaveLength(2);
  });

  it('refuses queue-full beyond maxLength', () => {
    const refused: string[] = [];
    const { balancer, results } = setup({
      backends: 1,
      settings: { maxConnPerBackend: 1, queue: { maxLength: 2, timeoutMs: 1000 } },
      observer: { onRefused: (reason) => refused.push(reason) },
    });
    for (const tag of ['a', 'b', 'c', 'd']) balancer.begin(GET, results.for(tag));
    expect(results.tags()).toEqual(['a', 'd']);
    expect(results.all[1].result).toEqual({ refused: 'queue-full', retryAfterMs: 1000 });
    expect(balancer.queueLength()).toBe(2);
    expect(refused).toEqual(['queue-full']);
  });

  it('ticket.cancel leaves the queue without a timeout or a dispatch', () => {
    const { clock, balancer, results } = setup({ backends: 1, settings: { maxConnPerBackend: 1 } });
    balancer.begin(GET, results.for('a'));
    const b = balancer.begin(GET, results.for('b'));
    balancer.begin(GET, results.for('c'));
    b.cancel();
    b.cancel();
    expect(balancer.queueLength()).toBe(1);
    results.lease('a').end({ kind: 'response', status: 200 });
    expect(results.tags()).toEqual(['a', 'c']);
    clock.advance(60_000);
    expect(results.tags()).toEqual(['a', 'c']);
    expect(balancer.stats().refused['queue-timeout']).toBe(0);
  });

  it('refuses no-backend at once, and flushes the queue, when no backend is healthy (panic mode off)', () => {
    const { balancer, results } = setup({ backends: 1, settings: { maxConnPerBackend: 1, panicThreshold: 0 } });
    balancer.begin(GET, results.for('a'));
    balancer.begin(GET, results.for('b'));
    balancer.setHealth('b1', false);
    expect(results.all[1]).toEqual({ tag: 'b', result: { refused: 'no-backend', retryAfterMs: 2000 } });
    balancer.begin(GET, results.for('c'));
    expect(results.all[2].result.refused).toBe('no-backend');
    expect(balancer.queueLength()).toBe(0);
    expect(balancer.stats().refused['no-backend']).toBe(2);
  });

  it('without a limit, refuses no-backend without asking the policy once every backend is out (panic mode off)', () => {
    let picks = 0;
    const { balancer, results } = setup({
      settings: { maxConnPerBackend: 0, panicThreshold: 0 },
      policy: { name: 'count', pick: (backends) => (picks++, backends.find((b) => b.healthy)?.id) },
    });
    balancer.setHealth('b1', false);
    balancer.drain('b2');
    balancer.begin(GET, results.for('a'));
    expect(results.all[0].result.refused).toBe('no-backend');
    expect(picks).toBe(0);
    balancer.undrain('b2');
    balancer.begin(GET, results.for('b'));
    expect(results.lease('b').backend).toBe('b2');
  });

  it('in-flight never goes negative and returns to 0 whatever mix of duplicate end calls', () => {
    const { balancer, policy, results } = setup({ settings: { maxConnPerBackend: 2 } });
    for (let i = 0; i < 6; i++) balancer.begin(GET, results.for(`r${i}`));
    const outcomes = [
      { kind: 'response', status: 200 },
      { kind: 'reset' },
      { kind: 'client-abort' },
      { kind: 'timeout' },
    ] as const;
    for (let round = 0; round < 3; round++) {
      for (const [i, r] of results.all.entries()) {
        r.result.lease?.end(outcomes[(i + round) % outcomes.length]);
        for (const v of balancer.views()) expect(v.inFlight).toBeGreaterThanOrEqual(0);
      }
    }
    expect(results.all).toHaveLength(6);
    expect(inFlight(balancer)).toEqual({ b1: 0, b2: 0 });
    expect(balancer.stats().completed).toBe(6);
    expect((policy as unknown as { count(p: string): number }).count('complete')).toBe(6);
  });

  it('controlled delay: a request joining a queue that stood for intervalMs is refused after targetMs; a burst into an empty queue waits timeoutMs', () => {
    const { clock, balancer, results } = setup({
      backends: 1,
      settings: { maxConnPerBackend: 1, queue: { timeoutMs: 5000, controlledDelay: { intervalMs: 100, targetMs: 5 } } },
    });
    balancer.begin(GET, results.for('busy'));
    // A burst: the queue was empty, so these may wait the whole timeoutMs.
    balancer.begin(GET, results.for('burst-1'));
    clock.advance(99);
    balancer.begin(GET, results.for('burst-2'));
    clock.advance(1);
    // The queue has now held someone for 100 ms without a break: overload, not a burst.
    balancer.begin(GET, results.for('late'));
    clock.advance(5);
    expect(results.tags()).toEqual(['busy', 'late']);
    expect(results.all.find((r) => r.tag === 'late')?.result).toMatchObject({ refused: 'queue-timeout', retryAfterMs: 5000 });
    expect(balancer.queueLength()).toBe(2);
    // The burst is served in order as the slot frees, well past targetMs.
    clock.advance(1000);
    results.lease('busy').end({ kind: 'response', status: 200 });
    expect(results.lease('burst-1').queuedMs).toBe(1105);
    // Once the queue has emptied, a newcomer gets timeoutMs again.
    results.lease('burst-1').end({ kind: 'response', status: 200 });
    results.lease('burst-2').end({ kind: 'response', status: 200 });
    balancer.begin(GET, results.for('next'));
    balancer.begin(GET, results.for('queued'));
    clock.advance(4000);
    expect(balancer.queueLength()).toBe(1);
    expect(results.tags()).not.toContain('queued');
  });
});
