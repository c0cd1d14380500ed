import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../core/virtual-clock.js';
import { DeadlineQueue, type DeadlineOwner } from '../../dispatcher/balancer/deadlines.js';

class Owner implements DeadlineOwner {
  generation = 0;
  passed: Array<[number, number]> = [];
  constructor(private readonly clock: VirtualClock) {}
  awaits(_queue: DeadlineQueue, generation: number): boolean {
    return generation === this.generation;
  }
  deadlinePassed(_queue: DeadlineQueue, generation: number): void {
    this.passed.push([generation, this.clock.now()]);
  }
}

describe('DeadlineQueue', () => {
  it('calls each owner that still waits at exactly its deadline, in order, and skips finished ones', () => {
    const clock = new VirtualClock();
    const q = new DeadlineQueue(clock, 100);
    const a = new Owner(clock);
    const b = new Owner(clock);
    a.generation = 1;
    q.add(a, 1);
    clock.advance(30);
    b.generation = 1;
    q.add(b, 1);
    clock.advance(10);
    b.generation = 2; // b finished (or moved on) before its deadline
    q.add(b, 2);
    clock.runUntilIdle();
    expect(a.passed).toEqual([[1, 100]]);
    expect(b.passed).toEqual([[2, 140]]);
    expect(q.size).toBe(0);
  });

  it('drops finished deadlines from its head as new ones come, so it holds only what waits', () => {
    const clock = new VirtualClock();
    const q = new DeadlineQueue(clock, 1000);
    const owners = Array.from({ length: 5000 }, () => new Owner(clock));
    for (const [i, owner] of owners.entries()) {
      owner.generation = 1;
      q.add(owner, 1);
      clock.advance(0.1);
      if (i >= 3) owners[i - 3].generation = 2; // requests finish a few arrivals later
    }
    expect(q.size).toBeLessThan(10);
    clock.runUntilIdle();
    expect(owners.filter((o) => o.passed.length > 0)).toHaveLength(3);
  });
});
