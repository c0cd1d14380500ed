import { describe, expect, it } from 'vitest';
import { bench, latencyMs, timing } from './fixtures.js';

const vm = (name: string, extra: Record<string, unknown> = {}) => ({ name, memoryMb: 512, ...extra });

describe('CPU sharing inside a VM (one request = one thread)', () => {
  it('two 100 ms requests on a 1-vCPU VM both finish at 200 ms', () => {
    const b = bench({ cores: 4, memoryMb: 4096 }, [vm('a', { vcpus: 1 })]);
    const jobs = [b.submit('a', { cpuMs: 100 }), b.submit('a', { cpuMs: 100 })];
    b.clock.runUntilIdle();
    for (const job of jobs) {
      expect(timing(job).finishedAt).toBeCloseTo(200, 9);
      expect(timing(job).queuedMs).toBeCloseTo(100, 9);
      expect(timing(job).stealMs).toBeCloseTo(0, 9);
    }
  });

  it('two 100 ms requests on a 2-vCPU VM both finish at 100 ms', () => {
    const b = bench({ cores: 4, memoryMb: 4096 }, [vm('a', { vcpus: 2 })]);
    const jobs = [b.submit('a', { cpuMs: 100 }), b.submit('a', { cpuMs: 100 })];
    b.clock.runUntilIdle();
    for (const job of jobs) expect(timing(job).finishedAt).toBeCloseTo(100, 9);
  });

  it('a request never uses more than one vCPU', () => {
    const b = bench({ cores: 4, memoryMb: 4096 }, [vm('a', { vcpus: 4 })]);
    const job = b.submit('a', { cpuMs: 100 });
    b.clock.runUntilIdle();
    expect(latencyMs(job)).toBeCloseTo(100, 9);
  });

  it('processor sharing: a short request overtakes a long one, and the long one speeds up after', () => {
    const b = bench({ cores: 1, memoryMb: 4096 }, [vm('a', { vcpus: 1 })]);
    const long = b.submit('a', { cpuMs: 100 });
    b.clock.advance(10);
    const short = b.submit('a', { cpuMs: 10 });
    b.clock.runUntilIdle();
    // 10 ms alone, 20 ms sharing (10 ms of work each), then 80 ms left alone.
    expect(timing(short).finishedAt).toBeCloseTo(30, 9);
    expect(timing(long).finishedAt).toBeCloseTo(110, 9);
  });

  it('cancelling a request gives its share back and reports cancelled once', () => {
    const b = bench({ cores: 1, memoryMb: 4096 }, [vm('a', { vcpus: 1 })]);
    const results: string[] = [];
    const handle = b.host.submit('a', { cpuMs: 100, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 }, (r) => results.push(r.ok ? 'ok' : r.reason));
    const other = b.submit('a', { cpuMs: 100 });
    b.clock.advance(50);
    handle.cancel();
    handle.cancel();
    b.clock.runUntilIdle();
    expect(results).toEqual(['cancelled']);
    // 25 ms of work in the first 50 ms, then 75 ms alone.
    expect(timing(other).finishedAt).toBeCloseTo(125, 9);
    expect(b.host.snapshot().vms[0].completed).toBe(1);
  });

  it('callbacks may submit and stop re-entrantly (a closed loop), each called back once', () => {
    const b = bench({ cores: 1, memoryMb: 4096 }, [vm('a', { vcpus: 1 })]);
    const finished: number[] = [];
    let cancelled = 0;
    const next = (): void => {
      b.host.submit('a', { cpuMs: 10, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 }, (r) => {
        if (!r.ok) {
          cancelled++;
          return;
        }
        finished.push(r.timing.finishedAt);
        if (finished.length === 10) b.host.stop();
        else next();
      });
    };
    next();
    next();
    b.clock.runUntilIdle();
    // Two requests always share the vCPU, so they finish in pairs every 20 ms; stop() at 100 ms
    // cancels the one the 9th callback had just started.
    expect(finished).toHaveLength(10);
    expect(finished[8]).toBeCloseTo(100, 9);
    expect(finished[9]).toBeCloseTo(100, 9);
    expect(cancelled).toBe(1);
  });

  it("a job's time adds up: service + steal + queued + suspended = latency", () => {
    const b = bench({ cores: 1, memoryMb: 4096 }, [vm('a', { vcpus: 1 }), vm('b', { vcpus: 1 })]);
    const jobs = [b.submit('a', { cpuMs: 30 }), b.submit('a', { cpuMs: 50 }), b.submit('b', { cpuMs: 40 })];
    b.clock.runUntilIdle();
    for (const job of jobs) {
      const t = timing(job);
      expect(t.serviceMs + t.stealMs + t.queuedMs + t.suspendedMs).toBeCloseTo(t.finishedAt - t.submittedAt, 9);
    }
    expect(timing(jobs[2]).serviceMs).toBeCloseTo(40, 9);
  });
});

describe('sharing physical cores between VMs', () => {
  it('2 VMs x 2 busy vCPUs on 2 cores: each vCPU at half speed, steal = half the wanted time', () => {
    const b = bench({ cores: 2, memoryMb: 4096 }, [vm('a', { vcpus: 2 }), vm('b', { vcpus: 2 })]);
    const jobs = ['a', 'a', 'b', 'b'].map((name) => b.submit(name, { cpuMs: 100 }));
    b.clock.runUntilIdle();
    for (const job of jobs) {
      expect(timing(job).finishedAt).toBeCloseTo(200, 9);
      expect(timing(job).stealMs).toBeCloseTo(100, 9);
      expect(timing(job).serviceMs).toBeCloseTo(100, 9);
    }
    for (const snap of b.host.snapshot().vms) {
      expect(snap.cpuSeconds).toBeCloseTo(0.2, 9);
      expect(snap.stealSeconds).toBeCloseTo(0.2, 9);
    }
  });

  it('a neighbour arriving mid-request slows a busy VM from that instant on, and its counters add up (VMs are charged lazily)', () => {
    const b = bench({ cores: 2, memoryMb: 4096 }, [vm('a', { vcpus: 2 }), vm('b', { vcpus: 2 }), vm('idle', { vcpus: 1, background: { cpuCores: 0.5 } })]);
    // Host: 2 cores; 'idle' always takes its 0.5 core of background work, a and b share the rest.
    const a = [b.submit('a', { cpuMs: 100 }), b.submit('a', { cpuMs: 100 })];
    b.clock.runUntil(20);
    // 0..20: a wants 2 cores, gets 1.5 (0.75 per job): 15 ms done each.
    const bJobs = [b.submit('b', { cpuMs: 30 }), b.submit('b', { cpuMs: 30 })];
    b.clock.runUntilIdle();
    // From 20: a and b each want 2 cores and get 0.75 (0.375 per job): b's jobs finish at 20 + 30 / 0.375 = 100;
    // a has done 15 + 80 * 0.375 = 45 by then, and the 55 left at 0.75 per job take 73.33 ms more.
    for (const job of bJobs) expect(timing(job).finishedAt).toBeCloseTo(100, 9);
    for (const job of a) {
      expect(timing(job).finishedAt).toBeCloseTo(100 + 55 / 0.75, 9);
      expect(timing(job).serviceMs).toBeCloseTo(100, 9);
    }
    const end = 100 + 55 / 0.75;
    const snaps = Object.fromEntries(b.host.snapshot().vms.map((v) => [v.vm, v]));
    expect(snaps.a.cpuSeconds).toBeCloseTo(0.2, 9);
    expect(snaps.b.cpuSeconds).toBeCloseTo(0.06, 9);
    // Never touched by an event of its own, still charged its 0.5 core for the whole run.
    expect(snaps.idle.cpuSeconds).toBeCloseTo((0.5 * end) / 1000, 9);
    expect(snaps.idle.stealSeconds).toBeCloseTo(0, 9);
  });

  it('weights 2:1 give CPU 2:1', () => {
    const b = bench({ cores: 2, memoryMb: 4096 }, [vm('a', { vcpus: 2, weight: 2 }), vm('b', { vcpus: 2, weight: 1 })]);
    for (const name of ['a', 'a', 'b', 'b']) b.submit(name, { cpuMs: 10_000 });
    b.clock.advance(300);
    const [a, c] = b.host.snapshot().vms;
    expect(a.cpuSeconds).toBeCloseTo(0.4, 9);
    expect(c.cpuSeconds).toBeCloseTo(0.2, 9);
    expect(a.stealSeconds).toBeCloseTo(0.2, 9);
    expect(c.stealSeconds).toBeCloseTo(0.4, 9);
  });

  it('a cap holds even on an idle host, and the capped time counts as steal', () => {
    const b = bench({ cores: 4, memoryMb: 4096 }, [vm('a', { vcpus: 2, capCores: 0.5 })]);
    const jobs = [b.submit('a', { cpuMs: 100 }), b.submit('a', { cpuMs: 100 })];
    b.clock.advance(100);
    expect(b.host.snapshot().vms[0].cpuSeconds).toBeCloseTo(0.05, 9);
    b.clock.runUntilIdle();
    for (const job of jobs) {
      expect(timing(job).finishedAt).toBeCloseTo(400, 9);
      expect(timing(job).stealMs).toBeCloseTo(300, 9);
    }
  });

  it('what a satisfied VM leaves over goes to the others (water-filling)', () => {
    const b = bench({ cores: 3, memoryMb: 4096 }, [vm('small', { vcpus: 1 }), vm('big', { vcpus: 3 })]);
    const small = b.submit('small', { cpuMs: 100 });
    const big = [0, 1, 2].map(() => b.submit('big', { cpuMs: 100 }));
    b.clock.runUntilIdle();
    // Fair share 1.5 each; small wants 1, so big gets 2 for its 3 requests, then all 3 cores.
    expect(latencyMs(small)).toBeCloseTo(100, 9);
    // 100 ms at 2/3 core each (66.7 ms of work), then 33.3 ms left at a full core.
    for (const job of big) expect(latencyMs(job)).toBeCloseTo(100 + 100 / 3, 9);
  });

  it("Type 2: the host OS's own load takes its share of the cores; a VM weighs per runnable vCPU thread", () => {
    const b = bench({ hypervisor: 'type2', cores: 2, memoryMb: 4096, hostLoad: 1 }, [vm('a', { vcpus: 2 })]);
    const jobs = [b.submit('a', { cpuMs: 100 }), b.submit('a', { cpuMs: 100 })];
    b.clock.runUntilIdle();
    // Two vCPU threads against one host process: the VM gets 2/3 of 2 cores, 2/3 core per request.
    for (const job of jobs) {
      expect(timing(job).finishedAt).toBeCloseTo(150, 9);
      expect(timing(job).stealMs).toBeCloseTo(50, 9);
    }
  });

  it('Type 2, the issue\'s example: a 4-vCPU VM beside host load 3 on 4 cores gets 16/7 cores, not 1', () => {
    const perThread = bench({ hypervisor: 'type2', cores: 4, memoryMb: 8192, hostLoad: 3 }, [vm('a', { vcpus: 4 })]);
    for (let i = 0; i < 4; i++) perThread.submit('a', { cpuMs: 1000 });
    perThread.clock.advance(700);
    expect(perThread.host.snapshot().vms[0].cpuSeconds).toBeCloseTo((0.7 * 16) / 7, 9);
    // The per-process view (VirtualBox's VM as one weight, like one host process): 1 core.
    const perProcess = bench({ hypervisor: 'type2', type2Sharing: 'per-process', cores: 4, memoryMb: 8192, hostLoad: 3 }, [vm('a', { vcpus: 4 })]);
    for (let i = 0; i < 4; i++) perProcess.submit('a', { cpuMs: 1000 });
    perProcess.clock.advance(700);
    expect(perProcess.host.snapshot().vms[0].cpuSeconds).toBeCloseTo(0.7, 9);
  });

  it('Type 2 per-process sharing: the VM counts once, whatever its vCPUs', () => {
    const b = bench({ hypervisor: 'type2', type2Sharing: 'per-process', cores: 2, memoryMb: 4096, hostLoad: 1 }, [vm('a', { vcpus: 2 })]);
    const jobs = [b.submit('a', { cpuMs: 100 }), b.submit('a', { cpuMs: 100 })];
    b.clock.runUntilIdle();
    for (const job of jobs) {
      expect(timing(job).finishedAt).toBeCloseTo(200, 9);
      expect(timing(job).stealMs).toBeCloseTo(100, 9);
    }
  });

  it('a noisy neighbour with background load slows a replica on a contended host', () => {
    const b = bench({ cores: 1, memoryMb: 4096 }, [vm('web', { vcpus: 1 }), vm('batch', { vcpus: 1, serves: false, background: { cpuCores: 1 } })]);
    const job = b.submit('web', { cpuMs: 100 });
    b.clock.runUntilIdle();
    expect(latencyMs(job)).toBeCloseTo(200, 9);
    expect(b.host.snapshot().vms[1].cpuSeconds).toBeCloseTo(0.1, 9);
  });

  it('load reports running requests per vCPU, scaled by the slowdown from steal', () => {
    const alone = bench({ cores: 2, memoryMb: 4096 }, [vm('a', { vcpus: 2 }), vm('b', { vcpus: 2 })]);
    alone.submit('a', { cpuMs: 100 });
    expect(alone.host.snapshot().vms[0].load).toBeCloseTo(0.5, 9);
    alone.submit('a', { cpuMs: 100 });
    alone.submit('a', { cpuMs: 100 });
    expect(alone.host.snapshot().vms[0].load).toBeCloseTo(1.5, 9);
    alone.submit('b', { cpuMs: 100 });
    alone.submit('b', { cpuMs: 100 });
    // Each VM now gets 1 core instead of the 2 its vCPUs would give: twice slower.
    expect(alone.host.snapshot().vms[0].load).toBeCloseTo(3, 9);
    expect(alone.host.snapshot().vms[1].load).toBeCloseTo(2, 9);
  });
});
