import { describe, expect, it } from 'vitest';
import { parseScenario, type Scenario } from '../../core/scenario.js';
import { ReportSchema } from '../../report/schema.js';
import { simulate, simulatePolicy } from '../../sim/simulation.js';

// The simulator's transport and workload: reproducibility, closed loop, sessions, several
// dispatchers, faults with retries and modelled health checks, Condor owners.

function small(overrides: Record<string, unknown> = {}): Scenario {
  return parseScenario({
    name: 'small',
    seed: 5,
    hosts: [{ name: 'h', cores: 4, memoryMb: 16384 }],
    vms: [{ name: 'web', count: 4, host: 'h', vcpus: 1, memoryMb: 1024, virtualization: 'container' }],
    costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
    workload: { classes: [{ name: 'page', share: 1, cpuMs: 5, service: 'exponential' }], sessions: 50, arrival: { rateRps: 400 } },
    policies: ['round-robin', 'least-loaded'],
    duration: '20s',
    warmup: '1s',
    ...overrides,
  });
}

describe('simulate: the run', () => {
  it('is reproducible: same seed, same report; every policy sees the same arrivals', () => {
    const a = simulate(small());
    const b = simulate(small());
    expect(a).toEqual(b);
    expect(a.mode).toBe('simulate');
    expect(ReportSchema.safeParse(a).error).toBeUndefined();
    expect(a.runs[0].requests).toBe(a.runs[1].requests);
    // Poisson at 400 rps over the 19 s after warmup.
    expect(a.runs[0].requests).toBeGreaterThan(400 * 19 * 0.95);
    expect(a.runs[0].requests).toBeLessThan(400 * 19 * 1.05);
  });

  it('report is consistent: counts add up, shares sum to 1, percentiles ordered, CPU seconds match the work', () => {
    const run = simulatePolicy(small(), 'round-robin', { requests: 5000 });
    expect(run.requests).toBe(5000);
    expect(run.backends.reduce((s, b) => s + b.requests, 0)).toBe(run.requests - run.errors);
    expect(run.backends.reduce((s, b) => s + b.share, 0)).toBeCloseTo(1, 12);
    const l = run.latencyMs;
    expect(l.p50).toBeLessThanOrEqual(l.p90);
    expect(l.p90).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.p999);
    expect(l.p999).toBeLessThanOrEqual(l.max);
    // 5000 requests of 5 ms mean: about 25 CPU seconds over the measured window.
    const cpu = run.backends.reduce((s, b) => s + (b.cpuSeconds ?? 0), 0);
    expect(cpu).toBeGreaterThan(25 * 0.9);
    expect(cpu).toBeLessThan(25 * 1.1);
    expect(run.timeline?.length).toBeGreaterThan(5);
    expect(run.cdf?.at(-1)?.[1]).toBe(1);
  });

  it('closed loop: N clients keep exactly N requests in the system', () => {
    const s = small({ workload: { classes: [{ name: 'page', share: 1, cpuMs: 5, service: 'deterministic' }], sessions: 8, arrival: { connections: 8 } } });
    const run = simulatePolicy(s, 'round-robin', {});
    // 8 clients on 4 single-vCPU replicas, round robin: 2 requests share each replica, 10 ms each.
    expect(run.latencyMs.mean).toBeCloseTo(10, 1);
    expect(run.throughputRps).toBeGreaterThan(790);
    expect(run.throughputRps).toBeLessThan(810);
  });

  it('sessions keep their pin: session-sticky hits after the first pin of each session', () => {
    const run = simulatePolicy(small(), 'session-sticky', { requests: 5000 });
    expect(run.stickyHitRatio).toBeGreaterThan(0.98);
    const rr = simulatePolicy(small(), 'round-robin', { requests: 5000 });
    expect(rr.stickyHitRatio).toBeUndefined();
  });

  it('a sticky policy whose requests never carry a pin has no hit ratio (as compare reads it), not 100%', () => {
    const noSessions = small({ workload: { classes: [{ name: 'page', share: 1, cpuMs: 5 }], sessions: 0, arrival: { rateRps: 400 } } });
    const run = simulatePolicy(noSessions, 'session-sticky', { requests: 2000 });
    expect(run.requests).toBe(2000);
    expect(run.stickyHitRatio).toBeUndefined();
  });

  it('several dispatchers split the arrivals round robin and each balances only its own share', () => {
    const r = simulate(small({ policies: ['round-robin'] }), { dispatchers: 3, requests: 6000 });
    expect(r.environment?.dispatchers).toBe(3);
    const counts = r.runs[0].backends.map((b) => b.requests);
    // Three independent round robins starting at the same replica: still an even spread.
    for (const c of counts) expect(Math.abs(c - 1500)).toBeLessThan(30);
  });

  it('a crashed VM: outlier ejection takes it out after `consecutiveErrors` failed attempts, each retried elsewhere', () => {
    const s = small({ faults: [{ at: '5s', for: '10s', vm: 'web-1', kind: 'crash' }], dispatcher: { retries: 1 } });
    const run = simulatePolicy(s, 'round-robin', {});
    expect(run.errors).toBe(0);
    expect(run.retries).toBe(5);
    expect(run.backends.find((b) => b.id === 'web-1')?.errors).toBe(5);
  });

  it('a crashed VM: requests with a body are not retried (the same rule as live), so they fail', () => {
    const s = small({
      faults: [{ at: '5s', for: '10s', vm: 'web-1', kind: 'crash' }],
      dispatcher: { retries: 1 },
      workload: { classes: [{ name: 'upload', share: 1, cpuMs: 5, method: 'POST', bodyBytes: 100 }], sessions: 50, arrival: { rateRps: 400 } },
    });
    const run = simulatePolicy(s, 'round-robin', {});
    expect(run.retries).toBe(0);
    expect(run.errors).toBe(5);
  });

  it("a class's bodyDigest (the replica hashes its bodies) changes nothing in the model", () => {
    const upload = (bodyDigest: boolean) =>
      small({ workload: { classes: [{ name: 'upload', share: 1, cpuMs: 5, method: 'POST', bodyBytes: 100, bodyDigest }], sessions: 50, arrival: { rateRps: 400 } } });
    const hashed = simulatePolicy(upload(true), 'round-robin', {});
    expect(hashed.requests).toBeGreaterThan(0);
    expect(hashed).toEqual(simulatePolicy(upload(false), 'round-robin', {}));
  });

  it('a crashed VM with no outlier ejection: health checks take it out after interval * fall', () => {
    const s = small({
      faults: [{ at: '5s', for: '10s', vm: 'web-1', kind: 'crash' }],
      dispatcher: {
        retries: 1,
        retryBudget: { ratio: 1, minPerSecond: 1000 },
        outlier: { consecutiveErrors: 1_000_000 },
        healthCheck: { intervalMs: 1000, fall: 2, rise: 1 },
      },
    });
    const run = simulatePolicy(s, 'round-robin', {});
    const web1 = run.backends.find((b) => b.id === 'web-1');
    expect(run.retries).toBeGreaterThan(0);
    // Every failed attempt on web-1 was retried successfully on another replica.
    expect(run.errors).toBe(0);
    expect(web1?.errors).toBe(run.retries);
    // Detected after 2 s: about 2 s x 100 rps (its quarter of 400 rps) failed attempts, not 10 s worth.
    expect(run.retries).toBeGreaterThan(150);
    expect(run.retries).toBeLessThan(260);
  });

  it('closed loop through a crash with a full queue: every request is counted once, answered or failed', () => {
    // Refusals (queue full), failed attempts and their retries all end requests inside callbacks,
    // where a closed-loop client issues its next request at once: the driver reuses its
    // per-request objects, so a path that read a request after it finished would miscount here.
    const s = small({
      faults: [{ at: '5s', for: '10s', vm: 'web-1', kind: 'crash' }],
      dispatcher: { retries: 1, maxConnPerBackend: 1, queue: { maxLength: 2, timeoutMs: 50 }, outlier: { consecutiveErrors: 1_000_000 } },
      workload: { classes: [{ name: 'page', share: 1, cpuMs: 5, service: 'exponential' }], sessions: 8, arrival: { connections: 8 } },
    });
    const run = simulatePolicy(s, 'round-robin', {});
    // Attempts = requests that got a first attempt + retries; only a refusal (503) can leave a request without one.
    const attempts = run.backends.reduce((sum, b) => sum + b.requests, 0);
    const retries = run.retries ?? 0;
    expect(attempts).toBeLessThanOrEqual(run.requests + retries);
    expect(attempts).toBeGreaterThanOrEqual(run.requests - (run.errorsByCode?.['503'] ?? 0) + retries);
    expect(attempts).toBeLessThan(run.requests + retries);
    expect(run.errorsByCode?.['503']).toBeGreaterThan(0);
    expect(Object.values(run.errorsByCode ?? {}).reduce((a, b) => a + b, 0)).toBe(run.errors);
    // A retry only ever follows a failed attempt on web-1.
    const web1Errors = run.backends.find((b) => b.id === 'web-1')?.errors ?? 0;
    expect(run.retries).toBeGreaterThan(0);
    expect(run.retries).toBeLessThanOrEqual(web1Errors);
    expect(simulatePolicy(s, 'round-robin', {})).toEqual(run);
  });

  it('without retries a crash shows up as 502 errors (code "error", as the dispatcher labels them), each a failed attempt on web-1', () => {
    const s = small({
      faults: [{ at: '5s', for: '10s', vm: 'web-1', kind: 'crash' }],
      dispatcher: { retries: 0, outlier: { consecutiveErrors: 1_000_000 } },
    });
    const run = simulatePolicy(s, 'round-robin', {});
    expect(run.errors).toBeGreaterThan(100);
    expect(run.errorsByCode?.error).toBe(run.errors);
    expect(run.backends.find((b) => b.id === 'web-1')?.errors).toBe(run.errors);
  });

  it('a Condor owner suspends a harvested replica: requests sent before detection wait for it', () => {
    const s = small({
      hosts: [
        { name: 'h', cores: 4, memoryMb: 16384 },
        { name: 'desk', cores: 1, memoryMb: 4096, owner: [{ at: '5s', for: '5s' }] },
      ],
      vms: [
        { name: 'web', count: 3, host: 'h', vcpus: 1, memoryMb: 1024, virtualization: 'container' },
        { name: 'harvest', host: 'desk', vcpus: 1, memoryMb: 1024, virtualization: 'container', harvested: true },
      ],
    });
    const run = simulatePolicy(s, 'round-robin', {});
    // Requests sent to the suspended VM in the 2 s before health checks notice wait for the owner to
    // leave (5 s), then for the ~200 queued before them to drain (about 1 s more).
    expect(run.latencyMs.max).toBeGreaterThan(4500);
    expect(run.latencyMs.max).toBeLessThan(7500);
    expect(run.errors).toBe(0);
  });

  it('refuses bad options with clear messages', () => {
    expect(() => simulate(small(), { requests: 0 })).toThrow(/requests must be a positive integer/);
    expect(() => simulate(small(), { durationMs: 500 })).toThrow(/longer than the warmup/);
    expect(() => simulate(small(), { dispatchers: 0 })).toThrow(/dispatchers/);
  });
});
