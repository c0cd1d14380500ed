import { describe, expect, it } from 'vitest';
import type { Admission } from '../../dispatcher/balancer/types.js';
import { GET, POST, Results, inFlight, setup } from './fixtures.js';

describe('Balancer retries', () => {
  it('retries a connect error on a different backend, as attempt 2, counting it', () => {
    const retried: string[] = [];
    const { balancer, results } = setup({ backends: 3, observer: { onRetry: (id) => retried.push(id) } });
    balancer.begin(GET, results.for('first'));
    const first = results.lease('first');
    expect(first.backend).toBe('b1');
    first.end({ kind: 'connect-error' });
    expect(first.retry(results.for('second'))).toBe(true);
    const second = results.lease('second');
    expect(second.backend).toBe('b2');
    expect(second.attempt).toBe(2);
    expect(second.arrivedAt).toBe(first.arrivedAt);
    expect(retried).toEqual(['b2']);
    expect(balancer.stats()).toMatchObject({ requests: 1, dispatched: 2, retries: 1 });
    // A lease retries at most once.
    expect(first.retry(results.for('again'))).toBe(false);
  });

  it('a retry avoids every backend already tried, and respects `retries`', () => {
    const { balancer, results } = setup({ backends: 3, settings: { retries: 2 } });
    balancer.begin(GET, results.for('1'));
    results.lease('1').end({ kind: 'connect-error' });
    results.lease('1').retry(results.for('2'));
    results.lease('2').end({ kind: 'reset' });
    results.lease('2').retry(results.for('3'));
    expect(['1', '2', '3'].map((t) => results.lease(t).backend)).toEqual(['b1', 'b2', 'b3']);
    results.lease('3').end({ kind: 'connect-error' });
    expect(results.lease('3').retry(results.for('4'))).toBe(false);
    expect(balancer.stats().retries).toBe(2);
  });

  it('is not allowed when every healthy backend was already tried: no callback, no refusal, no budget spent', () => {
    const { balancer, results } = setup({ backends: 2, settings: { retries: 3 } });
    balancer.begin(GET, results.for('1'));
    results.lease('1').end({ kind: 'connect-error' });
    results.lease('1').retry(results.for('2'));
    results.lease('2').end({ kind: 'connect-error' });
    expect(results.lease('2').retry(results.for('3'))).toBe(false);
    expect(results.all).toHaveLength(2);
    expect(balancer.stats().retries).toBe(1);
    expect(balancer.stats().refused['no-backend']).toBe(0);
  });

  it("retries an attempt's own (per-try) timeout, never the request's total timeout (Envoy's per-try-timeout)", () => {
    const { balancer, results } = setup({ backends: 2 });
    balancer.begin(GET, results.for('hung'));
    results.lease('hung').end({ kind: 'timeout', perTry: true });
    expect(results.lease('hung').retry(results.for('elsewhere'))).toBe(true);
    expect(results.lease('elsewhere')).toMatchObject({ backend: 'b2', attempt: 2 });

    balancer.begin(POST, results.for('post'));
    results.lease('post').end({ kind: 'timeout', perTry: true });
    expect(results.lease('post').retry(results.for('post again'))).toBe(false);
    expect(balancer.stats().retries).toBe(1);
  });

  it('is not allowed for non-retryable requests, non-retryable outcomes, or before end', () => {
    const { balancer, results } = setup({ backends: 2 });
    const noCall = (r: Admission) => {
      throw new Error(`unexpected ${JSON.stringify(r)}`);
    };
    balancer.begin(POST, results.for('post'));
    results.lease('post').end({ kind: 'connect-error' });
    expect(results.lease('post').retry(noCall)).toBe(false);

    balancer.begin(GET, results.for('live'));
    expect(results.lease('live').retry(noCall)).toBe(false);
    for (const [tag, outcome] of [
      ['t', { kind: 'timeout' }],
      ['s', { kind: 'response', status: 503 }],
      ['c', { kind: 'client-abort' }],
    ] as const) {
      balancer.begin(GET, results.for(tag));
      results.lease(tag).end(outcome);
      expect(results.lease(tag).retry(noCall)).toBe(false);
    }
    expect(balancer.stats().retries).toBe(0);
  });

  it('stops at the retry budget (ratio of requests, plus a floor)', () => {
    const { clock, balancer, results } = setup({
      backends: 2,
      // No outlier ejection here: an ejected backend would leave a retry nowhere to go, which is
      // another reason to refuse it; this test is about the budget alone.
      settings: { retries: 1, retryBudget: { ratio: 0.25, minPerSecond: 0 }, outlier: { consecutiveErrors: 1000 } },
    });
    const allowed: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      clock.advance(10);
      balancer.begin(GET, results.for(`r${i}`));
      const lease = results.lease(`r${i}`);
      lease.end({ kind: 'connect-error' });
      allowed.push(lease.retry(new Results().for('x')));
    }
    // 0.25 of the requests so far: a retry is allowed at requests 4 and 8.
    expect(allowed).toEqual([false, false, false, true, false, false, false, true]);
    expect(balancer.stats().retries).toBe(2);
  });

  it('a retry with no free slot waits at the head of the queue, ahead of newer requests', () => {
    const { balancer, results } = setup({ backends: 2, settings: { maxConnPerBackend: 1 } });
    balancer.begin(GET, results.for('a'));
    balancer.begin(GET, results.for('b'));
    balancer.begin(GET, results.for('queued'));
    results.lease('a').end({ kind: 'connect-error' }); // frees b1, which 'queued' takes at once
    expect(results.lease('queued').backend).toBe('b1');
    balancer.begin(GET, results.for('newer'));
    expect(results.lease('a').retry(results.for('a-retry'))).toBe(true);
    expect(balancer.queueLength()).toBe(2);
    results.lease('b').end({ kind: 'response', status: 200 }); // frees b2: the retry goes first
    expect(results.lease('a-retry').backend).toBe('b2');
    expect(results.lease('a-retry').attempt).toBe(2);
    expect(results.tags().at(-1)).toBe('a-retry');
    expect(inFlight(balancer)).toEqual({ b1: 1, b2: 1 });
  });
});
