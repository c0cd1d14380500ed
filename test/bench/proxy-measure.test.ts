import { describe, expect, it } from 'vitest';
import { cpuPerRequestUs, median, pairedRatio, parseWrk, processTree, schedstatWaitMs, statCpuTicks, statParentPid, statusRssBytes } from '../../bench/proxy-measure.js';

// A node process whose command name holds a space and a parenthesis, as the kernel may show it.
const STAT = '4321 (node (main) x) S 4300 4321 24441 0 -1 4194560 9000 0 12 0 1234 567 8 9 20 0 11 0 1194099 1083056128 31250 18446744073709551615';

describe('/proc parsing', () => {
  it('reads utime + stime and the parent pid past a command name with spaces and parentheses', () => {
    expect(statCpuTicks(STAT)).toBe(1234 + 567);
    expect(statParentPid(STAT)).toBe(4300);
  });

  it('reads VmRSS in bytes, and 0 for a process without memory', () => {
    expect(statusRssBytes('Name:\tnginx\nVmHWM:\t   30000 kB\nVmRSS:\t   21504 kB\nRssAnon:\t 4000 kB\n')).toBe(21504 * 1024);
    expect(statusRssBytes('Name:\tnginx\nState:\tZ (zombie)\n')).toBe(0);
  });

  it('reads the run-queue wait of /proc/<pid>/schedstat in ms, and refuses anything else', () => {
    // On the CPU 12.5 s, waited for it 0.3275 s, 48,211 time slices.
    expect(schedstatWaitMs('12500000000 327500000 48211\n')).toBe(327.5);
    expect(() => schedstatWaitMs(STAT)).toThrow(/not a schedstat line/);
  });

  it('collects a process tree from (pid, parent) pairs, leaving other trees out', () => {
    const parents = new Map([[10, 1], [11, 10], [12, 10], [13, 11], [20, 1], [21, 20]]);
    expect(processTree(10, parents).sort()).toEqual([10, 11, 12, 13]);
    expect(processTree(21, parents)).toEqual([21]);
  });
});

const WRK_CLEAN = `Running 10s test @ http://127.0.0.1:18771/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.01ms  204.51us   6.72ms   89.12%
    Req/Sec    63.61k     2.34k   67.81k    76.00%
  Latency Distribution
     50%  960.00us
     75%    1.06ms
     90%    1.19ms
     99%    1.68ms
  632909 requests in 10.00s, 91.76MB read
Requests/sec:  63287.55
Transfer/sec:      9.18MB
`;

const WRK_ERRORS = `Running 10s test @ http://127.0.0.1:40001/
  1 threads and 1000 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   237.10ms  300.01ms   1.97s    88.00%
    Req/Sec     5.30k   800.00     7.00k    70.00%
  Latency Distribution
     50%   84.99ms
     75%  200.00ms
     90%  500.00ms
     99%    1.20s
  52690 requests in 10.01s, 7.60MB read
  Socket errors: connect 3, read 1, write 0, timeout 192
  Non-2xx or 3xx responses: 7
Requests/sec:   5263.74
Transfer/sec:    777.00KB
`;

describe('parseWrk', () => {
  it('reads a clean run, converting every latency unit to ms', () => {
    const r = parseWrk(WRK_CLEAN);
    expect(r).toMatchObject({ requests: 632909, durationS: 10, rps: 63287.55, maxMs: 6.72, non2xx: 0 });
    expect(r.p50Ms).toBeCloseTo(0.96, 10);
    expect(r.p99Ms).toBe(1.68);
    expect(r.socketErrors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
  });

  it('reads socket errors, timeouts, non-2xx answers and latencies in seconds', () => {
    const r = parseWrk(WRK_ERRORS);
    expect(r.socketErrors).toEqual({ connect: 3, read: 1, write: 0, timeout: 192 });
    expect(r.non2xx).toBe(7);
    expect(r.p99Ms).toBe(1200);
    expect(r.maxMs).toBe(1970);
    expect(r.durationS).toBeCloseTo(10.01, 10);
  });

  it('refuses a report without --latency percentiles rather than making them up', () => {
    const noLatency = WRK_CLEAN.replace(/ {2}Latency Distribution[\s\S]*?(?= {2}632909)/, '');
    expect(() => parseWrk(noLatency)).toThrow(/p50/);
  });
});

describe('medians and ratios', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('pairs rounds before taking the median of their ratios', () => {
    // Round 2 caught the first proxy on a busy moment: paired, two rounds of three say 0.5; the ratio of medians would say 0.2.
    expect(pairedRatio([10, 2, 30], [20, 50, 60])).toBe(0.5);
    expect(() => pairedRatio([1, 2], [1])).toThrow(/rounds/);
  });

  it('turns CPU ticks and requests into µs per request, NaN when nothing was answered', () => {
    expect(cpuPerRequestUs(150, 100, 100_000)).toBe(15);
    expect(cpuPerRequestUs(3, 100, 0)).toBeNaN();
  });
});
