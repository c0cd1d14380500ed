import { writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Option, type Command } from 'commander';
import { formatDuration } from '../core/duration.js';
import type { PolicyRun } from '../core/report.js';
import { isSuccess } from '../core/request-events.js';
import { loadScenario } from '../core/scenario.js';
import { checkSlo, parseSlo, type SloResult } from '../core/slo.js';
import type { Millis } from '../core/types.js';
import type { LoadResult } from '../loadtest/load-plan.js';
import { LoadgenMetrics } from '../loadtest/loadgen-metrics.js';
import { runOpenLoop } from '../loadtest/open-loop.js';
import { STDOUT } from '../report/write.js';
import { CliError } from './errors.js';
import { parseCount, parseDurationFlag, parsePort, parseRate, parseSloFlag, SLO_HELP } from './flags.js';
import type { CliIo } from './io.js';
import { checkReportFlags } from './report-output.js';

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
const DEFAULT_TIMEOUT_MS = 10_000;

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
  slo?: string;
  json?: string;
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
    .option('--rate <rps>', 'requests per second (default: the scenario\'s arrival rate)', parseRate('--rate'))
    .option('--duration <time>', 'stop after this long, e.g. 5m (default: until SIGTERM/SIGINT)', parseDurationFlag('--duration'))
    .addOption(new Option('--round <time>', 'length of one round, one printed line each').argParser(parseDurationFlag('--round')).default(DEFAULT_ROUND_MS, formatDuration(DEFAULT_ROUND_MS)))
    .option('--max-in-flight <n>', 'arrivals beyond this many outstanding requests are dropped, not sent', parseCount('--max-in-flight'), 512)
    .addOption(new Option('--timeout <time>', 'a request unanswered after this long counts as a timeout').argParser(parseDurationFlag('--timeout')).default(DEFAULT_TIMEOUT_MS, formatDuration(DEFAULT_TIMEOUT_MS)))
    .option('--slo <thresholds>', `${SLO_HELP}, in any round`, parseSloFlag)
    .option('--json <file>', 'at the end, write every round\'s counts and latencies as JSON here; - for stdout (the round lines then go to stderr)')
    .action(async (opts: LoadOptions) => {
      const scenario = loadScenario(opts.scenario);
      const sloText = opts.slo ?? scenario.slo;
      const slo = sloText === undefined ? undefined : parseSlo(sloText);
      let sloFailed = false;
      const rateRps = opts.rate ?? ('rateRps' in scenario.workload.arrival ? scenario.workload.arrival.rateRps : undefined);
      if (rateRps === undefined) throw new CliError(`--rate: ${opts.scenario} has a closed-loop arrival; give a rate in requests per second`);
      const targets = opts.target.split(',').map(parseTarget);
      if (opts.json !== undefined) checkReportFlags({ json: opts.json });
      const out = opts.json === STDOUT ? io.stderr : io.stdout;
      const metrics = new LoadgenMetrics();
      const metricsServer = opts.metricsPort === undefined ? undefined : await metrics.serve(opts.metricsPort, opts.metricsBind);
      if (metricsServer !== undefined) out.write(`load: metrics on ${metricsServer.url}\n`);
      const rounds: Array<LoadResult & { readonly round: number; readonly slo?: SloResult }> = [];
      const writeJson = (): void => {
        if (opts.json === undefined) return;
        const text = `${JSON.stringify({ targets: targets.map((t) => t.href), rateRps, slo: sloText, rounds }, null, 2)}\n`;
        if (opts.json === STDOUT) io.stdout.write(text);
        else writeFileSync(opts.json, text);
      };
      // A signal ends the round in progress early; its partial summary is printed like any round's.
      const interrupt = new AbortController();
      io.onStop((signal) => {
        io.stderr.write(`load: ${signal}, stopping\n`);
        interrupt.abort();
      });

      out.write(`load: ${rateRps} requests/s to ${targets.map((t) => t.href).join(', ')}, rounds of ${formatDuration(opts.round)}\n`);
      for (let round = 0, sentMs = 0; !interrupt.signal.aborted && (opts.duration === undefined || sentMs < opts.duration); round++) {
        const durationMs = opts.duration === undefined ? opts.round : Math.min(opts.round, opts.duration - sentMs);
        const dispatchers = opts.allAddresses ? await everyAddress(targets) : targets.map((t) => t.href);
        metrics.spreadOver(dispatchers.length);
        const result = await runOpenLoop(
          {
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
          },
          { onRequestEnd: (code, dispatcher) => metrics.requestEnded(code, dispatcher), signal: interrupt.signal },
        );
        sentMs += durationMs;
        const { p50, p99 } = result.latencyMs;
        const codes = Object.entries(result.codes).map(([code, n]) => `${code}:${n}`).join(' ');
        // Latency over failed requests is not a latency: none is shown when nothing succeeded.
        const latency = result.requests > result.errors ? `p50 ${p50.toFixed(1)}ms p99 ${p99.toFixed(1)}ms` : 'no successful answer';
        const verdict = slo === undefined ? undefined : checkSlo(roundRun(result, interrupt.signal.aborted ? Math.min(durationMs, result.elapsedMs) : durationMs), slo);
        if (verdict?.pass === false) sloFailed = true;
        const sloLine = verdict === undefined ? '' : verdict.pass ? ', SLO pass' : `, SLO FAIL: ${verdict.failed.join(', ')}`;
        rounds.push({ round: round + 1, ...result, ...(verdict === undefined ? {} : { slo: verdict }) });
        const partial = interrupt.signal.aborted ? ' (interrupted: partial round)' : '';
        out.write(
          `load: round ${round + 1}${partial}: ${result.requests} requests, ${result.errors} errors, ${latency} (${codes}) over ${dispatchers.length} dispatcher(s)${sloLine}\n`,
        );
      }
      writeJson();
      await metricsServer?.close();
      if (sloFailed) io.fail(1);
    });
}

/** A round in the report's terms, for its SLO check: successful answers per second of the round. */
function roundRun(result: LoadResult, durationMs: Millis): PolicyRun {
  const ok = Object.entries(result.codes).reduce((sum, [code, n]) => sum + (isSuccess(code) ? n : 0), 0);
  return { policy: 'load', requests: result.requests, errors: result.errors, throughputRps: (ok * 1000) / durationMs, latencyMs: result.latencyMs, backends: [] };
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
