import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { formatDuration } from '../core/duration.js';
import { loadScenario } from '../core/scenario.js';
import type { Millis } from '../core/types.js';
import { LoadgenMetrics } from '../loadtest/loadgen-metrics.js';
import { runOpenLoop } from '../loadtest/open-loop.js';
import { CliError } from './errors.js';
import { parseCount, parseDurationFlag, parsePort, parsePositive } from './flags.js';
import type { CliIo } from './io.js';

/**
 * `dispatchlab load --scenario F --target URL[,URL...] [--rate R] [--duration D]`: a steady
 * open-loop load (the scenario's request classes and sessions, Poisson arrivals) against
 * dispatchers that run elsewhere, such as the compose demo's, so their metrics move while a user
 * switches policies, stops replicas or waits for an owner to come back. Unlike `compare` it
 * measures nothing for a report: it sends load in rounds (the open-loop generator's measured
 * windows, back to back) and prints one line per round. It runs until --duration is spent, or
 * until SIGTERM/SIGINT without one.
 *
 * Several dispatchers on one fleet (the live twin of `simulate --dispatchers K`): arrival i goes to
 * dispatcher i mod K. They are the targets given, and with --all-addresses every address each
 * target's name resolves to, looked up again every round, so a compose service scaled while the
 * load runs (`--scale extra-dispatcher=3`, whose containers share the name) is picked up.
 */
const DEFAULT_ROUND_MS = 10_000;

interface LoadOptions {
  scenario: string;
  target: string;
  allAddresses: boolean;
  metricsPort?: number;
  metricsBind: string;
  rate?: number;
  duration?: Millis;
  round: Millis;
  maxInFlight: number;
  timeout: Millis;
}

export function registerLoad(program: Command, io: CliIo): void {
  program
    .command('load')
    .description('send a steady open-loop load of the scenario\'s requests to a running dispatcher')
    .requiredOption('--scenario <file>', 'scenario YAML file (request classes, sessions, seed, default rate)')
    .requiredOption('--target <urls>', 'the dispatcher\'s URL, e.g. http://127.0.0.1:8080, or several, comma-separated: arrival i goes to dispatcher i mod K')
    .option('--all-addresses', 'every address a target\'s name resolves to is a dispatcher of its own (a scaled compose service); looked up every round', false)
    .option('--metrics-port <port>', 'serve the generator\'s Prometheus metrics (what it sent, per dispatcher) on this port', parsePort('--metrics-port'))
    .option('--metrics-bind <address>', 'address for --metrics-port', '127.0.0.1')
    .option('--rate <rps>', 'requests per second (default: the scenario\'s arrival rate)', parsePositive('--rate'))
    .option('--duration <time>', 'stop after this long, e.g. 5m (default: until SIGTERM/SIGINT)', parseDurationFlag('--duration'))
    .option('--round <time>', 'length of one round, one printed line each', parseDurationFlag('--round'), DEFAULT_ROUND_MS)
    .option('--max-in-flight <n>', 'arrivals beyond this many outstanding requests are dropped, not sent', parseCount('--max-in-flight'), 512)
    .option('--timeout <time>', 'a request unanswered after this long counts as a timeout', parseDurationFlag('--timeout'), 10_000)
    .action(async (opts: LoadOptions) => {
      const scenario = loadScenario(opts.scenario);
      const rateRps = opts.rate ?? ('rateRps' in scenario.workload.arrival ? scenario.workload.arrival.rateRps : undefined);
      if (rateRps === undefined) throw new CliError(`--rate: ${opts.scenario} has a closed-loop arrival; give a rate in requests per second`);
      const targets = opts.target.split(',').map(parseTarget);
      const metrics = new LoadgenMetrics();
      if (opts.metricsPort !== undefined) process.stdout.write(`load: metrics on ${(await metrics.serve(opts.metricsPort, opts.metricsBind)).url}\n`);

      io.onStop((signal) => {
        io.stderr.write(`load: ${signal}, stopping\n`);
        io.exit(0);
      });

      io.stdout.write(`load: ${rateRps} requests/s to ${targets.map((t) => t.href).join(', ')}, rounds of ${formatDuration(opts.round)}\n`);
      for (let round = 0, sentMs = 0; opts.duration === undefined || sentMs < opts.duration; round++) {
        const durationMs = opts.duration === undefined ? opts.round : Math.min(opts.round, opts.duration - sentMs);
        const dispatchers = opts.allAddresses ? await everyAddress(targets) : targets.map((t) => t.href);
        metrics.spreadOver(dispatchers.length);
        const result = await runOpenLoop({
          kind: 'open',
          url: dispatchers[0],
          dispatchers,
          // A new seed per round, so rounds are not the same arrivals over and over.
          seed: scenario.seed + round,
          classes: scenario.workload.classes,
          sessions: scenario.workload.sessions,
          warmupMs: 0,
          durationMs,
          timeoutMs: opts.timeout,
          rateRps,
          maxInFlight: opts.maxInFlight,
        }, { onRequestEnd: (code, dispatcher) => metrics.requestEnded(code, dispatcher) });
        sentMs += durationMs;
        const { p50, p99 } = result.latencyMs;
        const codes = Object.entries(result.codes).map(([code, n]) => `${code}:${n}`).join(' ');
        io.stdout.write(
          `load: round ${round + 1}: ${result.requests} requests, ${result.errors} errors, p50 ${p50.toFixed(1)}ms p99 ${p99.toFixed(1)}ms (${codes}) over ${dispatchers.length} dispatcher(s)\n`,
        );
      }
    });
}

/** One --target entry: an http:// URL (the generator speaks plain HTTP, as the proxy port does). */
function parseTarget(text: string): URL {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url?.protocol !== 'http:') throw new CliError(`--target: expected an http:// URL such as http://127.0.0.1:8080, got "${text}"`);
  return url;
}

/**
 * Every address the targets' names resolve to, one dispatcher URL each, sorted so that arrival i
 * goes to the same dispatcher whichever order the resolver answered in. A name that resolves to
 * nothing is an error: the dispatchers it stands for are not up.
 */
export async function everyAddress(targets: readonly URL[]): Promise<string[]> {
  const urls = new Set<string>();
  for (const target of targets) {
    const name = target.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(name) ? [name] : (await lookup(name, { all: true }).catch((err: Error) => {
      throw new CliError(`--target ${target.href}: ${err.message}`);
    })).map((a) => a.address);
    for (const address of addresses) {
      const url = new URL(target.href);
      url.hostname = isIP(address) === 6 ? `[${address}]` : address;
      urls.add(url.href);
    }
  }
  return [...urls].sort();
}
