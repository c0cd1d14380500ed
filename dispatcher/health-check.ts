import type { Cancel, Clock } from '../core/clock.js';
import type { BackendId, Millis } from '../core/types.js';
import type { Balancer } from './balancer/balancer.js';

/**
 * Active health checks, after HAProxy's `check inter <interval> rise <n> fall <n>`: every
 * `intervalMs` each backend is probed; `fall` consecutive failures mark it down, `rise`
 * consecutive successes mark it healthy again. Backends start healthy.
 *
 * Transport-neutral: the probe is injected (an HTTP GET of /healthz live, a model query in the
 * simulator) and raced against `timeoutMs` on the injected clock; a probe that times out, rejects
 * or throws counts as a failure. A backend whose previous probe is still out is not probed again,
 * so a slow backend never piles up probes.
 */
export interface HealthCheckerOptions {
  clock: Clock;
  balancer: Balancer;
  intervalMs: Millis;
  timeoutMs: Millis;
  rise: number;
  fall: number;
  probe: (id: BackendId) => Promise<boolean>;
}

interface ProbeState {
  up: boolean;
  successes: number;
  failures: number;
  probing: boolean;
}

export class HealthChecker {
  private readonly states = new Map<BackendId, ProbeState>();
  private cancelTick: Cancel | undefined;
  /** Bumped by stop(), so answers to probes sent before it are ignored. */
  private generation = 0;

  constructor(private readonly opts: HealthCheckerOptions) {
    if (!(opts.intervalMs > 0)) throw new Error(`health check: intervalMs must be > 0, got ${opts.intervalMs}`);
    if (!(opts.timeoutMs > 0)) throw new Error(`health check: timeoutMs must be > 0, got ${opts.timeoutMs}`);
    for (const key of ['rise', 'fall'] as const) {
      if (!Number.isInteger(opts[key]) || opts[key] < 1) throw new Error(`health check: ${key} must be an integer >= 1, got ${opts[key]}`);
    }
  }

  /** Probe every backend now, then every intervalMs. */
  start(): void {
    if (this.cancelTick !== undefined) return;
    this.tick();
  }

  stop(): void {
    this.cancelTick?.();
    this.cancelTick = undefined;
    this.generation++;
    this.states.clear();
  }

  private tick(): void {
    const present = new Set<BackendId>();
    for (const view of this.opts.balancer.views()) {
      present.add(view.id);
      let state = this.states.get(view.id);
      if (state === undefined) {
        state = { up: true, successes: 0, failures: 0, probing: false };
        this.states.set(view.id, state);
      }
      if (!state.probing) this.probe(view.id, state);
    }
    for (const id of this.states.keys()) if (!present.has(id)) this.states.delete(id);
    this.cancelTick = this.opts.clock.schedule(this.opts.intervalMs, () => this.tick());
  }

  private probe(id: BackendId, state: ProbeState): void {
    const generation = this.generation;
    let settled = false;
    const settle = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      cancelTimeout();
      state.probing = false;
      if (generation === this.generation && this.states.get(id) === state) this.record(id, state, ok);
    };
    state.probing = true;
    const cancelTimeout = this.opts.clock.schedule(this.opts.timeoutMs, () => settle(false));
    let answer: Promise<boolean>;
    try {
      answer = this.opts.probe(id);
    } catch {
      settle(false);
      return;
    }
    answer.then(
      (ok) => settle(ok === true),
      () => settle(false),
    );
  }

  private record(id: BackendId, state: ProbeState, ok: boolean): void {
    if (ok) {
      state.failures = 0;
      state.successes++;
      if (!state.up && state.successes >= this.opts.rise) {
        state.up = true;
        this.opts.balancer.setHealth(id, true);
      }
    } else {
      state.successes = 0;
      state.failures++;
      if (state.up && state.failures >= this.opts.fall) {
        state.up = false;
        this.opts.balancer.setHealth(id, false);
      }
    }
  }
}
