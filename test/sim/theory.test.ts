import { describe, expect, it } from 'vitest';
import { erlangArrivalSigma, erlangC, mm1, mmc, powerOfD, randomAssignment, roundRobinAssignment, supermarketTime, utilisationOf } from '../../sim/theory.js';

describe('queueing theory baselines', () => {
  it('M/M/1: W = 1/(mu - lambda)', () => {
    // mu = 100/s (10 ms), lambda = 70/s: W = 1/30 s.
    const q = mm1(70, 10);
    expect(q.meanResponseMs).toBeCloseTo(1000 / 30, 9);
    expect(q.meanWaitMs).toBeCloseTo(1000 / 30 - 10, 9);
  });

  it('random assignment splits the stream evenly into M/M/1 queues', () => {
    expect(randomAssignment(700, 10, 10).meanResponseMs).toBeCloseTo(mm1(70, 10).meanResponseMs, 9);
  });

  it('round robin: E_1/M/1 is M/M/1 (sigma = rho), and more phases (more regular arrivals) wait less', () => {
    expect(erlangArrivalSigma(70, 10, 1)).toBeCloseTo(0.7, 12);
    expect(roundRobinAssignment(70, 10, 1).meanResponseMs).toBeCloseTo(mm1(70, 10).meanResponseMs, 9);
    // E_2/M/1 by hand: phase rate 0.1/ms and mu 0.1/ms (rho 0.5) give sigma = (1 / (2 - sigma))^2,
    // whose root in (0, 1) is (3 - sqrt(5)) / 2.
    expect(erlangArrivalSigma(100, 10, 2)).toBeCloseTo((3 - Math.sqrt(5)) / 2, 12);
    expect(roundRobinAssignment(700, 10, 10).meanResponseMs).toBeLessThan(randomAssignment(700, 10, 10).meanResponseMs);
  });

  it('random over k-vCPU replicas is M/M/k per replica', () => {
    expect(randomAssignment(700, 10, 5, 2).meanResponseMs).toBeCloseTo(mmc(140, 10, 2).meanResponseMs, 12);
  });

  it('Erlang C matches the textbook closed form for small c', () => {
    // c = 2, a = 1 (rho = 0.5): C = (a^2/2 / (1 - rho)) / (1 + a + a^2/2/(1 - rho)) = 1 / 3.
    expect(erlangC(2, 1)).toBeCloseTo(1 / 3, 12);
    // c = 1 reduces to rho.
    expect(erlangC(1, 0.7)).toBeCloseTo(0.7, 12);
    // c = 3, a = 2.4 by the direct formula.
    const a = 2.4;
    const c = 3;
    const top = (a ** c / 6) * (1 / (1 - a / c));
    const direct = top / (1 + a + a ** 2 / 2 + top);
    expect(erlangC(c, a)).toBeCloseTo(direct, 12);
  });

  it('M/M/1 is M/M/c with c = 1, and M/M/c is stable for hundreds of servers', () => {
    expect(mmc(70, 10, 1).meanResponseMs).toBeCloseTo(mm1(70, 10).meanResponseMs, 9);
    const big = mmc(9000, 10, 100);
    expect(big.probWait).toBeGreaterThan(0);
    expect(big.probWait).toBeLessThan(1);
    expect(Number.isFinite(big.meanWaitMs)).toBe(true);
  });

  it('supermarket limit: d = 2 at 0.9 is the published sum, far below M/M/1', () => {
    const expected = [0, 2, 6, 14, 30, 62, 126, 254].reduce((s, e) => s + 0.9 ** e, 0);
    expect(supermarketTime(0.9, 2)).toBeCloseTo(expected, 6);
    expect(supermarketTime(0.9, 1)).toBeCloseTo(10, 9);
    expect(supermarketTime(0.9, 3)).toBeLessThan(supermarketTime(0.9, 2));
    expect(powerOfD(9000, 10, 100, 2).meanResponseMs).toBeCloseTo(expected * 10, 5);
  });

  it('orders central queue < power-of-two < round robin < random at high load', () => {
    expect(utilisationOf(9000, 10, 100)).toBeCloseTo(0.9, 12);
    const central = mmc(9000, 10, 100).meanResponseMs;
    const powerOfTwo = powerOfD(9000, 10, 100, 2).meanResponseMs;
    const roundRobin = roundRobinAssignment(9000, 10, 100).meanResponseMs;
    expect(central).toBeLessThan(powerOfTwo);
    expect(powerOfTwo).toBeLessThan(roundRobin);
    expect(roundRobin).toBeLessThan(randomAssignment(9000, 10, 100).meanResponseMs);
  });

  it('refuses unstable or meaningless inputs', () => {
    expect(() => mm1(100, 10)).toThrow(/unstable/);
    expect(() => mmc(100, 10, 0)).toThrow(/servers/);
    expect(() => supermarketTime(1, 2)).toThrow(/utilisation/);
  });
});
