import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/rng.js';
import { parseScenario } from '../../core/scenario.js';
import { CLOSED_LOOP_SESSION_REQUESTS, clientAddress, sessionName } from '../../core/workload.js';
import { SimWorkload } from '../../sim/workload.js';
import { simulatePolicy } from '../../sim/simulation.js';

function closedLoopInput(connections: number, sessions = 0) {
  return {
    name: 'closed',
    hosts: [{ name: 'h', cores: 4, memoryMb: 16384 }],
    vms: [{ name: 'web', count: 4, host: 'h', vcpus: 1, memoryMb: 1024, virtualization: 'container' }],
    costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
    workload: { classes: [{ name: 'page', share: 1, cpuMs: 5 }], sessions, arrival: { connections } },
    policies: ['session-sticky'],
    duration: '10s',
    warmup: '1s',
  };
}

function closedLoop(connections: number, sessions: number) {
  return parseScenario(closedLoopInput(connections, sessions));
}

describe('closed-loop sessions in the simulator, as the live closed loop has them (loadtest/closed-loop.ts)', () => {
  it('each client is one user who starts a new session every CLOSED_LOOP_SESSION_REQUESTS requests, numbered as they start; workload.sessions does not apply', () => {
    const w = new SimWorkload(closedLoop(2, 0), createRng(1));
    // Client 1 sends first, then both in turn, as replies come back in a closed loop.
    const order = [1, ...Array.from({ length: 3 * CLOSED_LOOP_SESSION_REQUESTS }, (_, i) => i % 2)];
    const sent = [0, 0];
    const started: number[] = [];
    for (const client of order) {
      const slot = w.nextSession(client);
      expect(slot).toBe(client);
      if (sent[client]++ % CLOSED_LOOP_SESSION_REQUESTS === 0) {
        started.push(client);
        // A new session has no pin yet, even if the client's last one had.
        expect(w.pinnedOf(slot)).toBeUndefined();
      }
      const session = started.lastIndexOf(client);
      expect(w.sessionKey(slot)).toBe(sessionName(session));
      expect(w.clientKey(slot)).toBe(clientAddress(session));
      w.pin(slot, `web-${client + 1}`);
      expect(w.pinnedOf(slot)).toBe(`web-${client + 1}`);
    }
    // Client 1 started session 0 and client 0 session 1; client 1, one request ahead, starts its second session first.
    expect(started).toEqual([1, 0, 1, 0]);
  });

  it('a sticky policy sees those sessions in a closed loop with workload.sessions 0: pins are kept and hit', () => {
    const run = simulatePolicy(closedLoop(8, 0), 'session-sticky', {});
    expect(run.requests).toBeGreaterThan(8 * CLOSED_LOOP_SESSION_REQUESTS);
    expect(run.stickyHitRatio).toBeGreaterThan(0.99);
  });

  it("drainAfterWarmup (compare's twin): clients answered past the warm-up send nothing until it has drained, then all start the window on new sessions", () => {
    const w = new SimWorkload(closedLoop(2, 0), createRng(1));
    w.nextSession(0);
    w.nextSession(1);
    const before = [w.sessionKey(0), w.sessionKey(1)];
    w.startNewSessions();
    w.nextSession(1);
    w.nextSession(0);
    // Numbered as they start, after the two of the warm-up: live, the window's connections are new ones.
    expect(before).toEqual([sessionName(0), sessionName(1)]);
    expect([w.sessionKey(0), w.sessionKey(1)]).toEqual([sessionName(3), sessionName(2)]);

    const scenario = closedLoop(8, 0);
    const drained = simulatePolicy(scenario, 'session-sticky', { drainAfterWarmup: true });
    const straight = simulatePolicy(scenario, 'session-sticky', {});
    // The window starts once the warm-up's last request is answered, after its end; without the drain, at it.
    expect(straight.timelineWarmupMs).toBe(1000);
    expect(drained.timelineWarmupMs).toBeGreaterThan(1000);
    expect(drained.errors).toBe(0);
    expect(drained.requests).toBeGreaterThan(8 * CLOSED_LOOP_SESSION_REQUESTS);

    // One client of 5 ms requests keeps one in flight, the window's first included: at most one per 5 ms of its 9 s.
    const one = parseScenario({ ...closedLoopInput(1), workload: { classes: [{ name: 'page', share: 1, cpuMs: 5, service: 'deterministic' }], sessions: 0, arrival: { connections: 1 } } });
    const single = simulatePolicy(one, 'round-robin', { drainAfterWarmup: true });
    expect(single.requests).toBeGreaterThan(1500);
    expect(single.requests).toBeLessThanOrEqual(9000 / 5 + 1);
  });
});
