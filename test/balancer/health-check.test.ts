import { describe, expect, it } from 'vitest';
import { HealthChecker } from '../../dispatcher/health-check.js';
import { setup } from './fixtures.js';

/** Let settled probe promises deliver their answers. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function harness(answer: (id: string) => Promise<boolean>, opts: { rise?: number; fall?: number } = {}) {
  const { clock, balancer } = setup({ backends: 2 });
  const probes: string[] = [];
  const checker = new HealthChecker({
    clock,
    balancer,
    intervalMs: 1000,
    timeoutMs: 300,
    rise: opts.rise ?? 2,
    fall: opts.fall ?? 3,
    probe: (id) => {
      probes.push(`${clock.now()} ${id}`);
      return answer(id);
    },
  });
  const state = (id: string) => balancer.views().find((v) => v.id === id)!.state;
  /** Advance one interval and let the probes answer. */
  const step = async (ms = 1000) => {
    clock.advance(ms);
    await flush();
  };
  return { clock, balancer, checker, probes, state, step };
}

describe('HealthChecker', () => {
  it('probes every backend at start and every interval; fall failures mark down, rise successes mark healthy', async () => {
    let b1Up = true;
    const h = harness(async (id) => id !== 'b1' || b1Up);
    h.checker.start();
    await h.step(0);
    expect(h.probes).toEqual(['0 b1', '0 b2']);
    b1Up = false;
    await h.step();
    await h.step();
    expect(h.state('b1')).toBe('healthy');
    await h.step(); // third consecutive failure
    expect(h.state('b1')).toBe('down');
    expect(h.state('b2')).toBe('healthy');
    b1Up = true;
    await h.step();
    expect(h.state('b1')).toBe('down');
    await h.step(); // second consecutive success
    expect(h.state('b1')).toBe('healthy');
    h.checker.stop();
    const count = h.probes.length;
    await h.step();
    await h.step();
    expect(h.probes.length).toBe(count);
  });

  it('a probe slower than timeoutMs is a failure, and is not stacked while outstanding', async () => {
    const h = harness((id) => (id === 'b1' ? new Promise<boolean>(() => {}) : Promise.resolve(true)), { fall: 1 });
    h.checker.start();
    await h.step(299);
    expect(h.state('b1')).toBe('healthy');
    await h.step(1);
    expect(h.state('b1')).toBe('down');
    await h.step(700);
    // The first b1 probe timed out, so b1 is probed again; b2 answered, so it is too.
    expect(h.probes).toEqual(['0 b1', '0 b2', '1000 b1', '1000 b2']);
    h.checker.stop();
  });

  it('a probe that rejects or throws is a failure; a late answer after stop is ignored', async () => {
    let release: (ok: boolean) => void = () => {};
    const h = harness((id) => {
      if (id === 'b1') throw new Error('connect refused');
      return id === 'b2' ? Promise.reject(new Error('boom')) : Promise.resolve(true);
    }, { fall: 1 });
    h.checker.start();
    await h.step(0);
    expect([h.state('b1'), h.state('b2')]).toEqual(['down', 'down']);
    h.checker.stop();

    const late = harness(() => new Promise<boolean>((resolve) => (release = resolve)), { fall: 1, rise: 1 });
    late.checker.start();
    late.checker.stop();
    release(false);
    await late.step(0);
    expect(late.state('b2')).toBe('healthy');
  });

  it('follows membership changes and rejects bad settings', async () => {
    const h = harness(async () => true);
    h.checker.start();
    await h.step(0);
    h.balancer.removeBackend('b1');
    h.balancer.addBackend({ id: 'b3' });
    await h.step();
    expect(h.probes.slice(2)).toEqual(['1000 b2', '1000 b3']);
    h.checker.stop();
    expect(() => new HealthChecker({ clock: h.clock, balancer: h.balancer, intervalMs: 0, timeoutMs: 1, rise: 1, fall: 1, probe: async () => true })).toThrow(/intervalMs/);
    expect(() => new HealthChecker({ clock: h.clock, balancer: h.balancer, intervalMs: 1, timeoutMs: 1, rise: 0, fall: 1, probe: async () => true })).toThrow(/rise/);
  });
});
