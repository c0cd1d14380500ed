import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { formatDuration } from '../core/duration.js';
import { loadScenario } from '../core/scenario.js';
import type { Millis } from '../core/types.js';
import { runOpenLoop } from '../loadtest/open-loop.js';
import type { PolicyRun } from '../core/report.js';
import { isSuccess } from '../core/request-events.js';
import { checkSlo, parseSlo, type SloResult } from '../core/slo.js';
import { STDOUT } from '../report/write.js';
import { checkReportFlags } from './report-output.js';
import type { LoadResult } from '../loadtest/load-plan.js';
import { CliError } from './errors.js';
import { parseCount, parseDurationFlag, parsePositive, parseSloFlag, SLO_HELP } from './flags.js';

/**
 * `dispatchlab load --scenario F --target URL [--rate R] [--duration D]`: a steady open-loop load
 * (the scenario's request classes and sessions, Poisson arrivals) against a dispatcher that runs
 * elsewhere, such as the compose demo's, so its metrics move while a user switches policies, stops
 * replicas or waits for an owner to come back. Unlike `compare` it measures nothing for a report:
 * it sends load in rounds (the open-loop generator's measured windows, back to back) and prints
 * one line per round. It runs until --duration is spent, or until SIGTERM/SIGINT without one.
 */

const DEFAULT_ROUND_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 10_000;

interface LoadOptions {
  scenario: string;
  target: string;
  rate?: number;
  duration?: Millis;
  round: Millis;
  maxInFlight: number;
  timeout: Millis;
  slo?: string;
  json?: string;
}

export function registerLoad(program: Command): void {
  program
    .command('load')
    .description('send a steady open-loop load of the scenario\'s requests to a running dispatcher')
    .requiredOption('--scenario <file>', 'scenario YAML file (request classes, sessions, seed, default rate)')
    .requiredOption('--target <url>', 'the dispatcher\'s URL, e.g. http://127.0.0.1:8080')
    .option('--rate <rps>', 'requests per second (default: the scenario\'s arrival rate)', parsePositive('--rate'))
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
      const url = URL.canParse(opts.target) ? new URL(opts.target) : undefined;
      // The generator speaks plain HTTP (node:http), as the dispatcher's proxy port does.
      if (url?.protocol !== 'http:') throw new CliError(`--target: expected an http:// URL such as http://127.0.0.1:8080, got "${opts.target}"`);

      if (opts.json !== undefined) checkReportFlags({ json: opts.json });
      const out = opts.json === STDOUT ? process.stderr : process.stdout;
      const rounds: Array<LoadResult & { readonly round: number; readonly slo?: SloResult }> = [];
      const writeJson = (): void => {
        if (opts.json === undefined) return;
        const text = `${JSON.stringify({ target: url.href, rateRps, slo: sloText, rounds }, null, 2)}\n`;
        if (opts.json === STDOUT) process.stdout.write(text);
        else writeFileSync(opts.json, text);
      };
      // A signal ends the round in progress early; its partial summary is printed like any round's.
      const interrupt = new AbortController();
      const stop = (signal: NodeJS.Signals): void => {
        process.stderr.write(`load: ${signal}, stopping\n`);
        interrupt.abort();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);

      out.write(`load: ${rateRps} requests/s to ${url.href}, rounds of ${formatDuration(opts.round)}\n`);
      for (let round = 0, sentMs = 0; !interrupt.signal.aborted && (opts.duration === undefined || sentMs < opts.duration); round++) {
        const durationMs = opts.duration === undefined ? opts.round : Math.min(opts.round, opts.duration - sentMs);
        const result = await runOpenLoop({
          kind: 'open',
          url: url.href,
          // A new seed per round, so rounds are not the same arrivals over and over.
          seed: scenario.seed + round,
          classes: scenario.workload.classes,
          sessions: scenario.workload.sessions,
          warmupMs: 0,
          durationMs,
          timeoutMs: opts.timeout,
          rateRps,
          maxInFlight: opts.maxInFlight,
        }, { signal: interrupt.signal });
        sentMs += durationMs;
        const { p50, p99 } = result.latencyMs;
        const codes = Object.entries(result.codes).map(([code, n]) => `${code}:${n}`).join(' ');
        // Latency over failed requests is not a latency: none is shown when nothing succeeded.
        const latency = result.requests > result.errors ? `p50 ${p50.toFixed(1)}ms p99 ${p99.toFixed(1)}ms` : 'no successful answer';
        const verdict = slo === undefined ? undefined : checkSlo(roundRun(result, interrupt.signal.aborted ? Math.min(durationMs, result.elapsedMs) : durationMs), slo);
        if (verdict?.pass === false) sloFailed = true;
        const sloText = verdict === undefined ? '' : verdict.pass ? ', SLO pass' : `, SLO FAIL: ${verdict.failed.join(', ')}`;
        rounds.push({ round: round + 1, ...result, ...(verdict === undefined ? {} : { slo: verdict }) });
        const partial = interrupt.signal.aborted ? ' (interrupted: partial round)' : '';
        out.write(`load: round ${round + 1}${partial}: ${result.requests} requests, ${result.errors} errors, ${latency} (${codes})${sloText}\n`);
      }
      writeJson();
      if (sloFailed) process.exitCode = 1;
    });
}

/** A round in the report's terms, for its SLO check: successful answers per second of the round. */
function roundRun(result: LoadResult, durationMs: Millis): PolicyRun {
  const ok = Object.entries(result.codes).reduce((sum, [code, n]) => sum + (isSuccess(code) ? n : 0), 0);
  return { policy: 'load', requests: result.requests, errors: result.errors, throughputRps: (ok * 1000) / durationMs, latencyMs: result.latencyMs, backends: [] };
}
