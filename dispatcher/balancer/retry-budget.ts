import type { Millis } from '../../core/types.js';

/**
 * Retry budget, after Finagle's RetryBudget and Linkerd 2's retry budgets: over a sliding window,
 * retries may not exceed `ratio` of the requests plus a floor of `minPerSecond` per second of
 * window (so a quiet service can still retry). It stops retry storms: when a backend fails,
 * retries can add at most `ratio` extra load instead of multiplying it.
 *
 * The window is kept as a ring of fixed buckets (10 of 1 s for the default 10 s window) with running
 * sums, so deposit and withdraw are O(1) amortised: moving time forward clears at most one
 * window's worth of buckets. The window therefore slides in bucket steps, as Finagle's does.
 */
export interface RetryBudgetOptions {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs?: Millis;
  readonly buckets?: number;
}

export class RetryBudget {
  private readonly ratio: number;
  private readonly floorRetries: number;
  private readonly bucketMs: Millis;
  private readonly requests: Float64Array;
  private readonly retries: Float64Array;
  private requestSum = 0;
  private retrySum = 0;
  /** Absolute index (time / bucketMs) of the newest bucket. */
  private current = 0;

  constructor(opts: RetryBudgetOptions) {
    const windowMs = opts.windowMs ?? 10_000;
    const buckets = opts.buckets ?? 10;
    if (!(opts.ratio >= 0 && opts.ratio <= 1)) throw new Error(`retry budget: ratio must be in [0, 1], got ${opts.ratio}`);
    if (!(opts.minPerSecond >= 0)) throw new Error(`retry budget: minPerSecond must be >= 0, got ${opts.minPerSecond}`);
    if (!(windowMs > 0) || !Number.isInteger(buckets) || buckets < 1) {
      throw new Error(`retry budget: need windowMs > 0 and an integer buckets >= 1, got ${windowMs} and ${buckets}`);
    }
    this.ratio = opts.ratio;
    this.floorRetries = opts.minPerSecond * (windowMs / 1000);
    this.bucketMs = windowMs / buckets;
    this.requests = new Float64Array(buckets);
    this.retries = new Float64Array(buckets);
  }

  /** Count one request (first attempts only). */
  deposit(nowMs: Millis): void {
    const slot = this.advance(nowMs);
    this.requests[slot]++;
    this.requestSum++;
  }

  /** Spend one retry if the budget allows it; false (and nothing spent) otherwise. */
  tryWithdraw(nowMs: Millis): boolean {
    const slot = this.advance(nowMs);
    if (this.retrySum + 1 > this.ratio * this.requestSum + this.floorRetries) return false;
    this.retries[slot]++;
    this.retrySum++;
    return true;
  }

  /** Clear buckets that fell out of the window; returns the slot of the current bucket. */
  private advance(nowMs: Millis): number {
    const size = this.requests.length;
    const bucket = Math.floor(nowMs / this.bucketMs);
    if (bucket > this.current) {
      const from = Math.max(this.current + 1, bucket - size + 1);
      for (let b = from; b <= bucket; b++) {
        const slot = b % size;
        this.requestSum -= this.requests[slot];
        this.retrySum -= this.retries[slot];
        this.requests[slot] = 0;
        this.retries[slot] = 0;
      }
      this.current = bucket;
    }
    return this.current % size;
  }
}
