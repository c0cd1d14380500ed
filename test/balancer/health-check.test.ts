import { describe, expect, it } from 'vitest';
import type { Cancel, Clock } from '../../core/clock.js';
import { VirtualClock } from '../../core/virtual-clock.js';
import { HealthChecker, type HealthCheckSettings, type HealthProbe } from '../../dispatcher/balancer/health-check.js';
import { setup } from './fixtures.js';

/**
 * A VirtualClock whose loop can stall, deterministically: a timer due during a stall fires when
 * the stall ends (in due order), as a real event loop blocked by a long synchronous task fires
 * its overdue timers; now() is the true time, so the lateness shows.
 */
class StallingClock implements Clock {
  private stallUntilMs = 0;
  constructor(readonly inner = new VirtualClock()) {}
  now(): number {
    return this.inner.now();
  }
  schedule(delayMs: number, fn: () => void): Cancel {
    let cancel = this.inner.schedule(delayMs, () => {
      const waitMs = this.stallUntilMs - this.inner.now();
      if (waitMs > 0) cancel = this.inner.schedule(waitMs, fn);
      else fn();
    });
    return () => cancel();
  }
  timer(): never {
    throw new Error('not used by the health checker');
  }
  /** From now, the loop runs nothing for `ms`. */
  stall(ms: number): void {
    this.stallUntilMs = this.inner.now() + ms;
  }
}

/**
 * Two backends and a checker. `answer(id, done)` is the probe: it may call done at once (as the
 * simulator's does), keep it for later, or never call it.
 */
function harness(answer: HealthProbe, opts: Partial<HealthCheckSettings> & { clock?: StallingClock } = {}) {
  const clock = opts.clock ?? new StallingClock();
  const { balancer } = setup({ backends: 2, clock: clock.inner });
  const probes: string[] = [];
  const checker = new HealthChecker({
    clock,
    balancer,
    settings: { intervalMs: 1000, timeoutMs: 300, rise: opts.rise ?? 2, fall: opts.fall ?? 3 },
    probe: (id, done) => {
      probes.push(`${clock.now()} ${id}`);
      return answer(id, done);
    },
  });
  const state = (id: string) => balancer.views().find((v) => v.id === id)!.state;
  const step = (ms = 1000) => clock.inner.advance(ms);
  return { clock, balancer, checker, probes, state, step };
}

describe('HealthChecker', () => {
  it('probes every backend at start and every interval; fall failures mark down, rise successes mark healthy', () => {
    let b1Up = true;
    const h = harness((id, done) => done(id !== 'b1' || b1Up));
    h.checker.start();
    expect(h.probes).toEqual(['0 b1', '0 b2']);
    b1Up = false;
    h.step();
    h.step();
    expect(h.state('b1')).toBe('healthy');
    h.step(); // third consecutive failure
    expect(h.state('b1')).toBe('down');
    expect(h.state('b2')).toBe('healthy');
    b1Up = true;
    h.step();
    expect(h.state('b1')).toBe('down');
    h.step(); // second consecutive success
    expect(h.state('b1')).toBe('healthy');
    h.checker.stop();
    const count = h.probes.length;
    h.step();
    h.step();
    expect(h.probes.length).toBe(count);
  });

  it('an answer that comes later settles the probe when it comes', () => {
    const pending: Array<() => void> = [];
    const h = harness((_id, done) => void pending.push(() => done(false)), { fall: 1 });
    h.checker.start();
    h.step(100);
    expect(h.state('b1')).toBe('healthy');
    for (const answer of pending.splice(0)) answer();
    expect([h.state('b1'), h.state('b2')]).toEqual(['down', 'down']);
  });

  it('a probe slower than timeoutMs fails and is cancelled, and is not stacked while outstanding', () => {
    const cancelled: string[] = [];
    const h = harness(
      (id, done) => {
        if (id !== 'b1') return done(true);
        return () => cancelled.push(`${h.clock.now()} ${id}`);
      },
      { fall: 1 },
    );
    h.checker.start();
    h.step(299);
    expect(h.state('b1')).toBe('healthy');
    h.step(1);
    expect(h.state('b1')).toBe('down');
    expect(cancelled).toEqual(['300 b1']);
    h.step(700);
    // The first b1 probe timed out, so b1 is probed again; b2 answered, so it is too.
    expect(h.probes).toEqual(['0 b1', '0 b2', '1000 b1', '1000 b2']);
    h.checker.stop();
  });

  it('a probe that throws is a failure; an answer after stop is ignored', () => {
    const h = harness((id, done) => {
      if (id === 'b1') throw new Error('connect refused');
      done(true);
    }, { fall: 1 });
    h.checker.start();
    expect([h.state('b1'), h.state('b2')]).toEqual(['down', 'healthy']);
    h.checker.stop();

    let release: (ok: boolean) => void = () => {};
    const late = harness((_id, done) => void (release = done), { fall: 1, rise: 1 });
    late.checker.start();
    late.checker.stop();
    release(false);
    late.step(0);
    expect(late.state('b2')).toBe('healthy');
  });

  it('follows membership changes and rejects bad settings', () => {
    const h = harness((_id, done) => done(true));
    h.checker.start();
    h.balancer.removeBackend('b1');
    h.balancer.addBackend({ id: 'b3' });
    h.step();
    expect(h.probes.slice(2).sort()).toEqual(['1000 b2', '1000 b3']);
    h.checker.stop();
    const make = (settings: HealthCheckSettings) => new HealthChecker({ clock: h.clock, balancer: h.balancer, settings, probe: (_id, done) => done(true) });
    expect(() => make({ intervalMs: 0, timeoutMs: 1, rise: 1, fall: 1 })).toThrow(/intervalMs/);
    expect(() => make({ intervalMs: 1, timeoutMs: 0, rise: 1, fall: 1 })).toThrow(/timeoutMs/);
    expect(() => make({ intervalMs: 1, timeoutMs: 1, rise: 0, fall: 1 })).toThrow(/rise/);
  });
});

describe('HealthChecker as the simulator drives it: a VM-status probe and resync on a status change', () => {
  it('a change is found intervalMs * fall (down) and * rise (up) after it, whatever the phase of the probes', () => {
    for (const changeAtMs of [1, 1234, 2999, 3000]) {
      let b1Running = true;
      const h = harness((id, done) => done(id !== 'b1' || b1Running), { fall: 3, rise: 2 });
      const transitions: string[] = [];
      h.checker.start();
      h.clock.schedule(changeAtMs, () => {
        b1Running = false;
        h.checker.resync('b1');
      });
      h.clock.schedule(changeAtMs + 5000, () => {
        b1Running = true;
        h.checker.resync('b1');
      });
      let last = h.state('b1');
      for (let t = 0; t < changeAtMs + 10_000; t++) {
        h.step(1);
        if (h.state('b1') !== last) transitions.push(`${h.clock.now()} ${(last = h.state('b1'))}`);
      }
      expect(transitions).toEqual([`${changeAtMs + 3000} down`, `${changeAtMs + 5000 + 2000} healthy`]);
      h.checker.stop();
    }
  });

  it('a change undone before it is found is never seen', () => {
    let b1Running = true;
    const h = harness((id, done) => done(id !== 'b1' || b1Running), { fall: 2 });
    h.checker.start();
    const flip = (running: boolean) => {
      b1Running = running;
      h.checker.resync('b1');
    };
    h.clock.schedule(500, () => flip(false));
    h.clock.schedule(2400, () => flip(true)); // one failed probe (1500) before it came back
    h.clock.schedule(2600, () => flip(false)); // that failure is not the first of the next streak
    h.step(4599);
    expect(h.state('b1')).toBe('healthy');
    h.step(1);
    expect(h.state('b1')).toBe('down');
  });
});

describe('HealthChecker when our own loop is late (issue 17)', () => {
  it('a timeout that fired late because the loop stalled is inconclusive, not a failure', () => {
    const h = harness((id, done) => (id === 'b1' ? undefined : done(true)), { fall: 1 });
    h.checker.start();
    h.clock.stall(2000); // the loop is busy from the probes' start until 2000: their timeouts fire 1700 ms late
    h.step(2000);
    expect(h.checker.inconclusive).toBe(1);
    expect(h.state('b1')).toBe('healthy');
    // With the loop on time again, the hung backend's next timeout is its failure.
    h.step(1300);
    expect(h.state('b1')).toBe('down');
    expect(h.checker.inconclusive).toBe(1);
  });

  it('an answer that was waiting behind the stall still counts; a timer late within the tolerance still fails', () => {
    const clock = new StallingClock();
    // b1 answers (a failure) 100 ms in, b2 hangs.
    const h = harness((id, done) => (id === 'b1' ? void clock.schedule(100, () => done(false)) : undefined), { fall: 1, clock });
    h.checker.start();
    h.clock.stall(2000);
    h.step(2000);
    expect([h.state('b1'), h.state('b2'), h.checker.inconclusive]).toEqual(['down', 'healthy', 1]);

    const mild = harness((_id, _done) => undefined, { fall: 1 });
    mild.checker.start();
    mild.clock.stall(310); // timeouts due at 300 fire at 310: 10 ms late, within timeoutMs / 10
    mild.step(310);
    expect([mild.state('b1'), mild.state('b2'), mild.checker.inconclusive]).toEqual(['down', 'down', 0]);
  });
});
