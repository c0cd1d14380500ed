import type { Command } from 'commander';
import { loadScenario, type ProxyEngineName } from '../core/scenario.js';
import type { Report } from '../core/report.js';
import type { Millis } from '../core/types.js';
import { runCompare } from '../loadtest/compare.js';
import { LoadAborted } from '../loadtest/loadgen.js';
import { checkPolicySpecs } from '../policies/index.js';
import { createCompareProgress } from './compare-progress.js';
import { ENGINE_HELP, parseEngine, withEngine, WORKERS_FLAG } from './dispatcher-options.js';
import { CliError, INTERRUPTED_EXIT } from './errors.js';
import { MAX_CONNECTIONS } from '../core/limits.js';
import { commandLine, parseCount, parseDurationFlag, parseRate, parseSloFlag, selectPolicies, SLO_HELP } from './flags.js';
import type { CliIo } from './io.js';
import { loadPolicies } from './policy-files.js';
import { checkReportFlags, finishReport } from './report-output.js';
import { againstSimText } from '../report/against-sim.js';

/**
 * `dispatchlab compare --scenario F [--policies a,b] [--duration 20s] [--warmup 2s] [--rate R |
 * --connections N] [--json OUT] [--html OUT] [--out DIR]`: each policy live on a fresh fleet, the
 * load from a child process; prints the table, then where the report went (what `npm start` runs).
 */

interface CompareFlags {
  scenario: string;
  policies?: string;
  duration?: Millis;
  warmup?: Millis;
  rate?: number;
  connections?: number;
  json?: string;
  html?: string;
  out?: string;
  slo?: string;
  engine?: ProxyEngineName;
  workers: number;
}

export function registerCompare(program: Command, io: CliIo): void {
  program
    .command('compare')
    .description('load-test each policy live on a fresh fleet of the scenario: table and report (JSON, HTML with charts, Markdown)')
    .requiredOption('--scenario <file>', 'scenario YAML file')
    .option('--policies <list>', "comma-separated policy names, the scenario's labels or policy files (.ts, .js) (default: the scenario's)")
    .option('--duration <d>', "run length per policy, warm-up included (default: the scenario's), e.g. 20s", parseDurationFlag('--duration'))
    .option('--warmup <d>', "unmeasured warm-up per policy (default: the scenario's), e.g. 2s", parseDurationFlag('--warmup', true))
    .option('--rate <rps>', 'open-loop Poisson load at this rate (default: the scenario\'s arrival)', parseRate('--rate'))
    .option('--connections <n>', 'closed-loop load (autocannon) with this many connections', parseCount('--connections', MAX_CONNECTIONS))
    .option('--json <file>', 'write the JSON report here and no other file but --html\'s; - for stdout (the table then goes to stderr)')
    .option('--html <file>', 'write the HTML report here, the Markdown summary beside it')
    .option('--slo <thresholds>', SLO_HELP, parseSloFlag)
    .option('--out <dir>', 'directory for report.json, report.html and report.md (default reports/<scenario>-<time>/)')
    .option('--engine <name>', ENGINE_HELP, parseEngine)
    .option(...WORKERS_FLAG)
    .action(async (flags: CompareFlags, command: Command) => {
      if (flags.rate !== undefined && flags.connections !== undefined) throw new CliError('--rate and --connections: give one or the other (open or closed loop)');
      const scenario = withEngine(loadScenario(flags.scenario, checkPolicySpecs), flags.engine);
      const warmupMs = flags.warmup ?? scenario.warmup;
      const durationMs = flags.duration ?? scenario.duration;
      if (durationMs <= warmupMs) throw new CliError(`--duration: ${durationMs} ms must be longer than the warm-up (${warmupMs} ms)`);
      checkReportFlags(flags);
      const policies = flags.policies === undefined ? scenario.policies : selectPolicies(scenario, flags.policies);
      await loadPolicies(policies, flags.policies === undefined ? 'policies' : '--policies');
      const progress = createCompareProgress(io.stderr);
      // Ctrl-C: stop the policy being measured, keep the ones that finished (exit 130, as a shell does).
      const interrupt = new AbortController();
      io.onStop(() => interrupt.abort());
      let report: Report;
      try {
        report = await runCompare({
          scenario,
          policies,
          durationMs,
          warmupMs,
          rateRps: flags.rate,
          connections: flags.connections,
          command: commandLine(command),
          onProgress: (p) => progress.update(p),
          signal: interrupt.signal,
          workers: flags.workers,
        });
      } catch (err) {
        if (!(err instanceof LoadAborted)) throw err;
        io.stderr.write(`${err.message}; no report\n`);
        io.fail(INTERRUPTED_EXIT);
        return;
      } finally {
        progress.stop();
      }
      await finishReport(io, report, flags, flags.scenario, scenario.slo, againstSimText(report.againstSim ?? []));
      if (report.interrupted !== undefined) {
        io.stderr.write(`compare: interrupted; the report holds the policies that finished, not ${report.interrupted.notFinished.join(', ')}\n`);
        io.fail(INTERRUPTED_EXIT);
      }
    });
}
