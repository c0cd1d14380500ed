/**
 * The pure parts of `npm run bench:proxy`: reading a process's CPU time and memory from /proc,
 * reading wrk's report, and the medians and ratios the table is made of. No I/O here, so each is
 * unit-tested on captured text (test/bench/proxy-measure.test.ts).
 */

/** utime + stime (clock ticks, all threads) from the text of /proc/<pid>/stat. */
export function statCpuTicks(stat: string): number {
  const fields = statFields(stat);
  // Fields 14 and 15 of proc(5), counted from 1; fields[0] is field 3 (state).
  return Number(fields[11]) + Number(fields[12]);
}

/** The parent pid (field 4 of proc(5)) from the text of /proc/<pid>/stat. */
export function statParentPid(stat: string): number {
  return Number(statFields(stat)[1]);
}

/** The fields after the command name, which may itself hold spaces and parentheses: cut at the last ')'. */
function statFields(stat: string): string[] {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  return stat.slice(close + 2).trim().split(/\s+/);
}

/**
 * How long a task was runnable but waited for a CPU, in ms, from the text of /proc/<pid>/schedstat
 * (or a thread's /proc/<pid>/task/<tid>/schedstat): the second of its three fields, run-queue wait
 * in nanoseconds (the first is time on the CPU, the third the number of time slices). A proxy
 * pinned to a CPU that another process also wants waits here, and every request it holds waits
 * with it: the fixed-rate table shows it beside the latencies it explains.
 */
export function schedstatWaitMs(schedstat: string): number {
  const fields = schedstat.trim().split(/\s+/);
  if (fields.length !== 3 || fields.some((f) => !/^\d+$/.test(f))) throw new Error(`not a schedstat line: ${schedstat.slice(0, 80)}`);
  return Number(fields[1]) / 1e6;
}

/** Resident set size in bytes (VmRSS) from the text of /proc/<pid>/status; 0 for a process without memory (a zombie). */
export function statusRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Every pid of the tree rooted at `root` (itself first), from (pid, parent pid) pairs. */
export function processTree(root: number, parents: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

export interface WrkResult {
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly socketErrors: { readonly connect: number; readonly read: number; readonly write: number; readonly timeout: number };
  readonly non2xx: number;
}

const TIME_UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function wrkTimeMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`wrk: cannot read the time "${text}"`);
  return Number(m[1]) * TIME_UNIT_MS[m[2]];
}

const TIME = '([\\d.]+(?:us|ms|s|m|h))';

/** wrk 4's report with `--latency`. Socket errors and non-2xx lines are absent when there were none. */
export function parseWrk(text: string): WrkResult {
  const need = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(text);
    if (!m) throw new Error(`wrk: no ${what} in its report:\n${text}`);
    return m;
  };
  const total = need(/(\d+) requests in ([\d.]+(?:us|ms|s|m|h))/, 'request count');
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    durationS: wrkTimeMs(total[2]) / 1000,
    rps: Number(need(/Requests\/sec:\s+([\d.]+)/, 'Requests/sec')[1]),
    p50Ms: wrkTimeMs(need(new RegExp(`^\\s+50%\\s+${TIME}`, 'm'), 'p50')[1]),
    p99Ms: wrkTimeMs(need(new RegExp(`^\\s+99%\\s+${TIME}`, 'm'), 'p99')[1]),
    maxMs: wrkTimeMs(need(new RegExp(`Latency\\s+${TIME}\\s+${TIME}\\s+${TIME}`), 'latency line')[3]),
    socketErrors: {
      connect: Number(errors?.[1] ?? 0),
      read: Number(errors?.[2] ?? 0),
      write: Number(errors?.[3] ?? 0),
      timeout: Number(errors?.[4] ?? 0),
    },
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
  };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * CPU per request in µs: the process tree's CPU ticks over a run divided by the requests answered
 * in it. NaN when nothing was answered, so a dead proxy shows as "–", not as 0 µs.
 */
export function cpuPerRequestUs(ticks: number, ticksPerSecond: number, requests: number): number {
  return requests > 0 ? (ticks / ticksPerSecond) * 1e6 / requests : Number.NaN;
}

/** The median over rounds of a[i] / b[i]: a ratio from measurements taken side by side, not of two medians. */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`pairedRatio: ${a.length} against ${b.length} rounds`);
  return median(a.map((x, i) => x / b[i]));
}
