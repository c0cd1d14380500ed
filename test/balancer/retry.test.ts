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

  it("retries a 502, 503 or 504 answer when `retryOn` has gateway-error (Envoy's retry_on: gateway-error), counted against the backend", () => {
    const { balancer, results } = setup({ backends: 2, settings: { retryOn: ['gateway-error'], retries: 3 } });
    for (const status of [502, 503, 504]) {
      balancer.begin(GET, results.for(`${status}`));
      const lease = results.lease(`${status}`);
      expect(lease.backend).toBe('b1');
      lease.end({ kind: 'response', status });
      expect(lease.retry(results.for(`${status} again`))).toBe(true);
      expect(results.lease(`${status} again`)).toMatchObject({ backend: 'b2', attempt: 2 });
      results.lease(`${status} again`).end({ kind: 'response', status: 200 });
    }
    const b1 = balancer.backends().find((b) => b.id === 'b1');
    expect(b1).toMatchObject({ errors: 3, consecutiveFailures: 3 });
    expect(balancer.stats().retries).toBe(3);
  });

  it('with gateway-error, still never retries another status, a request with a body, or past `retries`', () => {
    const { balancer, results } = setup({ backends: 3, settings: { retryOn: ['gateway-error'], retries: 1 } });
    const noCall = (r: Admission) => {
      throw new Error(`unexpected ${JSON.stringify(r)}`);
    };
    for (const status of [500, 501, 505, 404, 200]) {
      balancer.begin(GET, results.for(`${status}`));
      results.lease(`${status}`).end({ kind: 'response', status });
      expect(results.lease(`${status}`).retry(noCall)).toBe(false);
    }
    balancer.begin(POST, results.for('post'));
    results.lease('post').end({ kind: 'response', status: 503 });
    expect(results.lease('post').retry(noCall)).toBe(false);
    balancer.begin(GET, results.for('1'));
    results.lease('1').end({ kind: 'response', status: 503 });
    expect(results.lease('1').retry(results.for('2'))).toBe(true);
    results.lease('2').end({ kind: 'response', status: 503 });
    expect(results.lease('2').retry(noCall)).toBe(false);
    expect(balancer.stats().retries).toBe(1);
  });

  it('retries only the conditions `retryOn` names: without connect-failure or per-try-timeout, those are answered', () => {
    const { balancer, results } = setup({ backends: 2, settings: { retryOn: ['reset'] } });
    const noCall = (r: Admission) => {
      throw new Error(`unexpected ${JSON.stringify(r)}`);
    };
    for (const [tag, outcome] of [
      ['connect', { kind: 'connect-error' }],
      ['per-try', { kind: 'timeout', perTry: true }],
      ['gateway', { kind: 'response', status: 503 }],
    ] as const) {
      balancer.begin(GET, results.for(tag));
      results.lease(tag).end(outcome);
      expect(results.lease(tag).retry(noCall)).toBe(false);
    }
    balancer.begin(GET, results.for('reset'));
    results.lease('reset').end({ kind: 'reset' });
    expect(results.lease('reset').retry(results.for('reset again'))).toBe(true);
  });

  it('reserveRetry takes the same decision before the attempt ends; a reserved retry goes ahead after end', () => {
    const { balancer, results } = setup({
      backends: 3,
      // One failure ejects: the end of the reserved attempt takes b1 out, and the retry still goes.
      settings: { retryOn: ['gateway-error'], outlier: { consecutiveErrors: 1 } },
    });
    balancer.begin(POST, results.for('post'));
    expect(results.lease('post').reserveRetry({ kind: 'response', status: 503 })).toBe(false);
    results.lease('post').end({ kind: 'response', status: 200 });

    balancer.begin(GET, results.for('ok'));
    expect(results.lease('ok').reserveRetry({ kind: 'response', status: 404 })).toBe(false);
    // Nothing changed: the lease is still out, and no retry was counted.
    expect(inFlight(balancer)).toEqual({ b1: 1, b2: 0, b3: 0 });
    expect(balancer.stats().retries).toBe(0);
    results.lease('ok').end({ kind: 'response', status: 404 });

    balancer.begin(GET, results.for('gw'));
    const lease = results.lease('gw');
    expect(lease.backend).toBe('b1');
    expect(lease.reserveRetry({ kind: 'response', status: 502 })).toBe(true);
    expect(balancer.stats().retries).toBe(1);
    expect(inFlight(balancer)).toEqual({ b1: 1, b2: 0, b3: 0 });
    expect(lease.retry(results.for('early'))).toBe(false); // not before end
    lease.end({ kind: 'response', status: 502 });
    expect(balancer.backends().find((b) => b.id === 'b1')?.ejections).toBe(1);
    expect(lease.reserveRetry({ kind: 'response', status: 502 })).toBe(false); // not after end
    expect(lease.retry(results.for('gw again'))).toBe(true);
    expect(results.lease('gw again')).toMatchObject({ backend: 'b2', attempt: 2 });
    expect(lease.retry(results.for('twice'))).toBe(false);
    expect(balancer.stats()).toMatchObject({ retries: 1, dispatched: 4 });
  });
});
