/**
 * The chaos run's slow-upload pacing (RELIABILITY.md, "Shutdown and slow clients"), as plain
 * functions of the time so they are tested without a wall clock.
 *
 * Opening a thousand uploads in one turn, and re-opening hundreds in one turn when their deadlines
 * end them together, is a burst the test rig makes: each open is an accept, a routing and (a large
 * body) an upstream connect in the dispatcher, all in the same few milliseconds. OpenPacer spaces
 * opens at least `intervalMs` apart, as a token bucket of depth one would: an open asked for when
 * the last one is long past goes at once, a crowd of them is spread over time. An interval of 0
 * opens every one at once (the old rig's burst, kept to measure it).
 */
export class OpenPacer {
  private lastAtMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly intervalMs: number) {
    if (!(intervalMs >= 0) || !Number.isFinite(intervalMs)) throw new Error(`the open interval must be a finite number of ms >= 0, got ${intervalMs}`);
  }

  /** When an open asked for at `nowMs` goes: now, or `intervalMs` after the one before it. */
  next(nowMs: number): number {
    this.lastAtMs = Math.max(nowMs, this.lastAtMs + this.intervalMs);
    return this.lastAtMs;
  }
}

/**
 * How many uploads were open on average over a span: the integral of the count over time, divided
 * by the time. Changes come in time order; `average` covers the first change to `endMs`.
 */
export class OpenCount {
  private open = 0;
  private fromMs: number | undefined;
  private sinceMs = 0;
  private openMsSum = 0;

  /** One more (delta 1) or one fewer (delta -1) open at `nowMs`. */
  change(nowMs: number, delta: number): void {
    this.advance(nowMs);
    this.open += delta;
  }

  get current(): number {
    return this.open;
  }

  /** The time-weighted mean count from the first change to `endMs` (0 for an empty span). */
  average(endMs: number): number {
    this.advance(endMs);
    const spanMs = this.fromMs === undefined ? 0 : endMs - this.fromMs;
    return spanMs > 0 ? this.openMsSum / spanMs : 0;
  }

  private advance(nowMs: number): void {
    if (this.fromMs === undefined) this.fromMs = nowMs;
    else this.openMsSum += this.open * (nowMs - this.sinceMs);
    this.sinceMs = nowMs;
  }
}
