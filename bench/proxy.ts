import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { replaceSection } from './markdown-section.js';
import type { ChildUsage } from './proxy-child.js';

/**
 * `npm run bench:proxy`: the dispatcher's throughput and CPU per request beside a direct-to-replica
 * baseline measured in the same run. The replica and the dispatcher each run in a child process;
 * autocannon (closed loop, 32 connections) runs here. Rounds alternate direct / through the
 * dispatcher so drift on a shared machine hits both; medians are reported, and the table goes into
 * BENCHMARKS.md ("Proxy throughput"). Runtime: about ROUNDS * 2 * ROUND_S seconds.
 */

const ROUNDS = 4;
const ROUND_S = 5;
const CONNECTIONS = 32;
const childScript = fileURLToPath(new URL('./proxy-child.ts', import.meta.url));

function startChild(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(childScript, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (msg) => resolve({ child, url: (msg as { url: string }).url }));
    child.once('exit', (code) => reject(new Error(`bench child ${args[0]} exited with ${code}`)));
  });
}

function usage(child: ChildProcess): Promise<ChildUsage> {
  return new Promise((resolve) => {
    child.once('message', (msg) => resolve(msg as ChildUsage));
    child.send('usage');
  });
}

interface Round {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Dispatcher CPU per proxied request (µs); undefined for direct rounds. */
  readonly cpuPerRequestUs?: number;
}

async function load(url: string): Promise<autocannon.Result> {
  return autocannon({ url: `${url}/bench`, connections: CONNECTIONS, duration: ROUND_S });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

function toRound(r: autocannon.Result, cpuPerRequestUs?: number): Round {
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts, cpuPerRequestUs };
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0];
  const replica = await startChild(['replica']);
  const dispatcher = await startChild(['dispatcher', replica.url]);
  const direct: Round[] = [];
  const proxied: Round[] = [];
  try {
    await load(dispatcher.url); // warm up both paths (JIT, pools)
    for (let i = 0; i < ROUNDS; i++) {
      direct.push(toRound(await load(replica.url)));
      const before = await usage(dispatcher.child);
      const result = await load(dispatcher.url);
      const after = await usage(dispatcher.child);
      proxied.push(toRound(result, (after.cpuMicros - before.cpuMicros) / Math.max(1, after.requests - before.requests)));
      process.stderr.write(`round ${i + 1}/${ROUNDS}: direct ${direct[i].rps.toFixed(0)} req/s, dispatcher ${proxied[i].rps.toFixed(0)} req/s\n`);
    }
  } finally {
    dispatcher.child.disconnect();
    replica.child.disconnect();
  }

  const summary = (rounds: Round[]) => ({
    rps: median(rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
  });
  const d = summary(direct);
  const p = summary(proxied);
  const cpuUs = median(proxied.map((r) => r.cpuPerRequestUs!));
  const section = [
    '## Proxy throughput',
    '',
    `Command: \`npm run bench:proxy\` (bench/proxy.ts). ${new Date().toISOString().slice(0, 10)}, ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}.`,
    `autocannon closed loop, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${ROUND_S} s per path, medians; one replica (cpuMs 0) and the`,
    'dispatcher (round-robin, http-proxy on node:http with a keep-alive Agent) each in a child process, the generator in the parent, all on the same machine.',
    '',
    '| path | req/s | p50 ms | p99 ms | errors | dispatcher CPU per request |',
    '|---|---|---|---|---|---|',
    `| direct to the replica | ${d.rps.toFixed(0)} | ${d.p50} | ${d.p99} | ${d.errors} | – |`,
    `| through the dispatcher | ${p.rps.toFixed(0)} | ${p.p50} | ${p.p99} | ${p.errors} | ${cpuUs.toFixed(1)} µs |`,
    '',
    `Load average (1 min) when the run started: ${loadBefore.toFixed(1)}; on a shared machine other work lowers both paths, so read the ratio.`,
    `Ratio dispatcher / direct: ${(p.rps / d.rps).toFixed(2)} in throughput. autocannon's latency resolution is 1 ms. The replica is itself an`,
    'express app in front of the hypervisor model, so "direct" is the replica\'s own ceiling, not a bare Node server\'s.',
    '',
  ].join('\n');
  replaceSection(fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url)), 'Proxy throughput', section);
  process.stdout.write(`${section}\n`);
}

void main().catch((err: unknown) => {
  process.stderr.write(`bench:proxy: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
