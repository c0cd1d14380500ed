import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuPerRequestUs, median, statCpuTicks } from './proxy-measure.js';

/**
 * `npm run bench:replica [-- --rounds N] [--duration S] [--connections C] [--rate R] [--cpu-prof DIR]`: what one replica's
 * HTTP side costs, outside the model (issue 11's "time outside the model"). One `dispatchlab host`
 * process serving one replica whose requests cost nothing in the model (cpuMs 0), driven by
 * autocannon from this process on 127.0.0.1 with a fixed number of kept-alive connections; the
 * figure is the host process's own CPU time (utime + stime from /proc) per answered request, so the
 * load generator's cost is not in it. Everything a request pays there is HTTP parsing and writing,
 * the replica's handler, the hypervisor's submit and completion, and the metrics.
 *
 * Prints one line per round and the median; BENCHMARKS.md ("Replica HTTP side") records runs of
 * it by hand, since a before/after comparison needs two builds. --cpu-prof writes the host's V8
 * profile into DIR (load it in Chrome DevTools or speedscope) to see where the time goes.
 */

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const rounds = positive('--rounds', flags.rounds);
const durationS = positive('--duration', flags.duration);
const connections = positive('--connections', flags.connections);
/** Requests per second over all connections; unset: as fast as the replica answers (closed loop). */
const rateRps = flags.rate === undefined ? undefined : positive('--rate', flags.rate);
const WARMUP_S = 1;
const TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const root = fileURLToPath(new URL('..', import.meta.url));

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: expected a positive whole number, got "${text}"`);
  return n;
}

const SCENARIO = `name: replica-bench
hosts: [{ name: bench, cores: 1, memoryMb: 1024 }]
vms: [{ name: web, host: bench, vcpus: 1, memoryMb: 512, virtualization: container }]
workload:
  classes: [{ name: page, share: 1, route: /, cpuMs: 0, service: deterministic }]
`;

const dir = mkdtempSync(join(os.tmpdir(), 'dispatchlab-bench-replica-'));
const scenarioFile = join(dir, 'replica-bench.yaml');
writeFileSync(scenarioFile, SCENARIO);
const nodeFlags = flags['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', flags['cpu-prof']];
const child = spawn(
  process.execPath,
  [...nodeFlags, join(root, 'dist/cli/main.js'), 'host', '--scenario', scenarioFile, '--host', 'bench', '--base-port', '0'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

try {
  const url = await replicaUrl();
  // The generated requests' form (loadtest/request-plan.ts): the replica reads the index.
  const target = `${url}/page?n=7`;
  await drive(target, WARMUP_S);
  const perRequestUs: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const before = cpuTicks();
    const result = await drive(target, durationS);
    const cpuUs = cpuPerRequestUs(cpuTicks() - before, TICKS_PER_S, result.requests.total);
    perRequestUs.push(cpuUs);
    const failed = result.errors + result.non2xx;
    process.stdout.write(
      `round ${round}: ${result.requests.total} requests in ${durationS} s (${Math.round(result.requests.total / durationS)} req/s, ` +
        `${failed} failed), host CPU ${cpuUs.toFixed(1)} µs/request\n`,
    );
  }
  const load = rateRps === undefined ? `${connections} connections` : `${connections} connections, ${rateRps} req/s`;
  process.stdout.write(`median: ${median(perRequestUs).toFixed(1)} µs/request (${load}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)})\n`);
} finally {
  child.kill('SIGTERM');
  await exited;
  rmSync(dir, { recursive: true, force: true });
}

function cpuTicks(): number {
  return statCpuTicks(readFileSync(`/proc/${child.pid}/stat`, 'utf8'));
}

/** The replica's URL from the host's first line of output (`web http://127.0.0.1:PORT`). */
async function replicaUrl(): Promise<string> {
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const m = /^web (http:\S+)$/m.exec(output);
    if (m) return m[1];
    if (child.exitCode !== null) throw new Error(`the host exited before it listened:\n${output}`);
    await sleep(50);
  }
  throw new Error(`the host did not listen within 30 s:\n${output}`);
}

function drive(url: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url, connections, duration: seconds, timeout: 5, ...(rateRps === undefined ? {} : { overallRate: rateRps }) });
}
