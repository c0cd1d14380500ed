import type { Cancel, Clock } from '../../core/clock.js';
import type { DispatcherSettings } from '../../core/scenario.js';
import type { BackendId, Millis } from '../../core/types.js';
import type { Balancer } from './balancer.js';

/**
 * Active health checks, after HAProxy's `check inter <interval> rise <n> fall <n>`: each backend
 * is probed every `intervalMs`; `fall` consecutive failures mark it down, `rise` consecutive
 * successes mark it healthy again. Backends start healthy.
 *
 * One checker for both modes, on the injected Clock. The probe is a callback, so it can answer
 * synchronously (the simulator reads the VM's status) or later (live: an HTTP GET of the health
 * path); whichever comes first of its answer and `timeoutMs` settles it, and a probe that throws
 * fails. A backend whose probe is still out is not probed again, so a slow one never piles up
 * probes.
 *
 * A timed-out probe whose timeout timer itself fired late, by more than `lateToleranceMs`, is
 * inconclusive, neither pass nor fail (issue 17): our own loop was stalled, so the answer may be
 * sitting unread and the backend cannot be blamed. The virtual clock is never late, so this only
 * acts live.
 */
export type HealthProbe = (id: BackendId, done: (ok: boolean) => void) => void | Cancel;

export type HealthCheckSettings = Pick<DispatcherSettings['healthCheck'], 'intervalMs' | 'timeoutMs' | 'rise' | 'fall'>;

export interface HealthCheckerOptions {
  clock: Clock;
  balancer: Pick<Balancer, 'views' | 'setHealth' | 'healthCheckPassed'>;
  settings: HealthCheckSettings;
  probe: HealthProbe;
  /** How late the timeout timer may fire and still blame the backend; default timeoutMs / 10. */
  lateToleranceMs?: Millis;
}

interface ProbeState {
  up: boolean;
  successes: number;
  failures: number;
  probing: boolean;
  cancelNext: Cancel | undefined;
}

export class HealthChecker {
  /** Timed-out probes not counted because the timeout timer fired too late to blame the backend. */
  inconclusive = 0;
  private readonly states = new Map<BackendId, ProbeState>();
  private readonly lateToleranceMs: Millis;
  private cancelSweep: Cancel | undefined;
  /** Bumped by stop(), so answers to probes sent before it are ignored. */
  private generation = 0;

  constructor(private readonly opts: HealthCheckerOptions) {
    const { intervalMs, timeoutMs } = opts.settings;
    if (!(intervalMs > 0)) throw new Error(`health check: intervalMs must be > 0, got ${intervalMs}`);
    if (!(timeoutMs > 0)) throw new Error(`health check: timeoutMs must be > 0, got ${timeoutMs}`);
    for (const key of ['rise', 'fall'] as const) {
      const n = opts.settings[key];
      if (!Number.isInteger(n) || n < 1) throw new Error(`health check: ${key} must be an integer >= 1, got ${n}`);
    }
    this.lateToleranceMs = opts.lateToleranceMs ?? timeoutMs / 10;
  }

  /** Probe every backend now, then every intervalMs. */
  start(): void {
    if (this.cancelSweep !== undefined) return;
    this.sweep();
  }

  stop(): void {
    this.cancelSweep?.();
    this.cancelSweep = undefined;
    for (const state of this.states.values()) state.cancelNext?.();
    this.generation++;
    this.states.clear();
  }

  /**
   * Start `id`'s cycle afresh: its streak is forgotten and its next probe is one interval from
   * now. The simulator calls it when a VM's status changes, so the change is found after the
   * prober's worst-case delay, intervalMs * fall (down) or * rise (up), exactly, run after run.
   */
  resync(id: BackendId): void {
    const state = this.states.get(id);
    if (state === undefined) return;
    state.successes = 0;
    state.failures = 0;
    this.scheduleNext(id, state);
  }

  /** Each interval, pick up backends added since and forget removed ones; new ones are probed now. */
  private sweep(): void {
    // Armed first, so at each interval the sweep runs before the backends' own probes and a removed
    // backend is forgotten before it would be probed.
    this.cancelSweep = this.opts.clock.schedule(this.opts.settings.intervalMs, () => this.sweep());
    const present = new Set<BackendId>();
    for (const view of this.opts.balancer.views()) {
      present.add(view.id);
      if (this.states.has(view.id)) continue;
      const state: ProbeState = { up: true, successes: 0, failures: 0, probing: false, cancelNext: undefined };
      this.states.set(view.id, state);
      this.cycle(view.id, state);
    }
    for (const [id, state] of this.states) {
      if (present.has(id)) continue;
      state.cancelNext?.();
      this.states.delete(id);
    }
  }

  private cycle(id: BackendId, state: ProbeState): void {
    if (!state.probing) this.probe(id, state);
    this.scheduleNext(id, state);
  }

  private scheduleNext(id: BackendId, state: ProbeState): void {
    state.cancelNext?.();
    state.cancelNext = this.opts.clock.schedule(this.opts.settings.intervalMs, () => this.cycle(id, state));
  }

  private probe(id: BackendId, state: ProbeState): void {
    const { clock, settings } = this.opts;
    const generation = this.generation;
    const timeoutDueMs = clock.now() + settings.timeoutMs;
    let settled = false;
    let cancelProbe: Cancel | undefined;
    const settle = (ok: boolean | 'inconclusive'): void => {
      if (settled) return;
      settled = true;
      cancelTimeout();
      state.probing = false;
      if (generation !== this.generation || this.states.get(id) !== state) return;
      if (ok === 'inconclusive') this.inconclusive++;
      else this.record(id, state, ok);
    };
    state.probing = true;
    const cancelTimeout = clock.schedule(settings.timeoutMs, () => {
      cancelProbe?.();
      settle(clock.now() - timeoutDueMs > this.lateToleranceMs ? 'inconclusive' : false);
    });
    try {
      const cancel = this.opts.probe(id, (ok) => settle(ok === true));
      if (!settled && typeof cancel === 'function') cancelProbe = cancel;
    } catch {
      settle(false);
    }
  }

  private record(id: BackendId, state: ProbeState, ok: boolean): void {
    if (ok) {
      state.failures = 0;
      state.successes++;
      // A pass also ends an outlier ejection early (Envoy's successful_active_health_check_uneject_host).
      this.opts.balancer.healthCheckPassed(id);
      if (!state.up && state.successes >= this.opts.settings.rise) {
        state.up = true;
        this.opts.balancer.setHealth(id, true);
      }
    } else {
      state.successes = 0;
      state.failures++;
      if (state.up && state.failures >= this.opts.settings.fall) {
        state.up = false;
        this.opts.balancer.setHealth(id, false);
      }
    }
  }
}
