import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/core/virtual-clock.js';

describe('VirtualClock', () => {
  it('runs events in time order, and same-time events in scheduling order', () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.schedule(20, () => log.push(`b@${clock.now()}`));
    clock.schedule(10, () => log.push(`a@${clock.now()}`));
    clock.schedule(20, () => log.push(`c@${clock.now()}`));
    clock.schedule(20, () => {
      log.push(`d@${clock.now()}`);
      clock.schedule(0, () => log.push(`e@${clock.now()}`));
    });
    clock.runUntilIdle();
    expect(log).toEqual(['a@10', 'b@20', 'c@20', 'd@20', 'e@20']);
  });

  it('cancel drops an event, and cancelling twice or after it ran is harmless', () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    const cancel = clock.schedule(5, () => log.push(5));
    const ran = clock.schedule(1, () => log.push(1));
    cancel();
    cancel();
    clock.runUntilIdle();
    ran();
    expect(log).toEqual([1]);
    expect(clock.eventsRun).toBe(1);
  });

  it('runUntil runs what is due (inclusive) and sets the time; advance is relative', () => {
    const clock = new VirtualClock(100);
    const log: number[] = [];
    for (const d of [5, 10, 15]) clock.schedule(d, () => log.push(clock.now()));
    clock.runUntil(110);
    expect(log).toEqual([105, 110]);
    expect(clock.now()).toBe(110);
    clock.advance(2);
    expect(clock.now()).toBe(112);
    expect(log).toEqual([105, 110]);
    clock.advance(10);
    expect(log).toEqual([105, 110, 115]);
  });

  it('clamps negative delays to now and never goes back in time', () => {
    const clock = new VirtualClock(50);
    let at = -1;
    clock.schedule(-10, () => (at = clock.now()));
    clock.runUntil(40);
    expect(clock.now()).toBe(50);
    clock.runUntilIdle();
    expect(at).toBe(50);
  });

  it('runUntilIdle fails loudly on a model that never settles', () => {
    const clock = new VirtualClock();
    const loop = (): void => void clock.schedule(1, loop);
    loop();
    expect(() => clock.runUntilIdle(1000)).toThrow(/still busy after 1000 events/);
  });
});
