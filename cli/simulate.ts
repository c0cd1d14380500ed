import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { Report } from '../core/report.js';
import { join } from 'node:path';
import { loadScenario, type PolicySpec, type Scenario } from '../core/scenario.js';
import { sweepTable, writeSweep } from '../report/sweep.js';
import { parseSweep, SweepError, sweepRates, type SweepReport, type SweepSpec } from '../sim/sweep.js';
import { checkPolicySpecs } from '../policies/index.js';
import { simulate, type SimProgress } from '../sim/simulation.js';
import { theoryText } from '../report/theory.js';
import { createPolicyErrorLog } from '../dispatcher/policy-error-log.js';
import { CliError } from './errors.js';
import { defaultThreads, runSweepOnWorkers, simulateOnWorkers } from './sim-workers.js';
import { checkReportFlags, finishReport } from './report-output.js';
import { commandLine, parseCount, parseDurationFlag, parseSloFlag, selectPolicies, SLO_HELP } from './flags.js';
import { isTerminal, type CliIo, type Output } from './io.js';
import { loadPolicies } from './policy-files.js';

/**
 * `dispatchlab simulate --scenario F [--policies a,b] [--requests N | --duration D] [--dispatchers K]
 * [--jobs N] [--json OUT] [--html OUT] [--out DIR]`: the scenario's policies in virtual time (sim/),
 * the same table and report files as `compare`, then the analytic baselines when the scenario
 * admits them. The policies run at once on worker threads, one per core (or `--jobs`): each is an
 * independent run, so the report is the same as one policy after the other. A progress bar per
 * policy on a terminal, one plain line per policy otherwise (CI logs).
 */

interface SimulateFlags {
  scenario: string;
  policies?: string;
  requests?: number;
  duration?: number;
  dispatchers: number;
  jobs?: number;
  json?: string;
  html?: string;
  out?: string;
  slo?: string;
  sweep?: string;
}

export function registerSimulate(program: Command, io: CliIo): void {
  program
    .command('simulate')
    .description('run the policies on the simulated fleet in virtual time (no HTTP): table, report, theory baselines')
    .requiredOption('--scenario <file>', 'scenario YAML file')
    .option('--policies <list>', "comma-separated policy names, the scenario's labels or policy files (.ts, .js) (default: the scenario's)")
    .option('--requests <n>', 'measured requests per policy (after the warmup); replaces the duration', parseCount('--requests'))
    .option('--duration <d>', "simulated time per policy, warmup included (default: the scenario's), e.g. 30s", parseDurationFlag('--duration'))
    .option('--dispatchers <k>', 'independent dispatchers sharing the fleet, each with its own view', parseCount('--dispatchers'), 1)
    .option('--jobs <n>', 'policies (with --sweep: points) simulated at once, each on a worker thread with its own fleet in memory (default: one per CPU core)', parseCount('--jobs'))
    .option('--json <file>', 'write the JSON report here and no other file but --html\'s; - for stdout (the table then goes to stderr)')
    .option('--html <file>', 'write the HTML report here')
    .option('--slo <thresholds>', SLO_HELP, parseSloFlag)
    .option('--sweep <spec>', `latency against load: every policy at each point, e.g. rate=100..1000:10 or utilisation=0.1..0.95:10 (--requests per policy per point, default ${SWEEP_REQUESTS}); sweep.json, sweep.svg, sweep.html in --out`)
    .option('--out <dir>', 'directory for report.json, report.html and report.md (default reports/<scenario>-<time>/)')
    .action(async (flags: SimulateFlags, command: Command) => {
      if (flags.requests !== undefined && flags.duration !== undefined) throw new CliError('--requests and --duration: give one or the other');
      const scenario = loadScenario(flags.scenario, checkPolicySpecs);
      const policies = flags.policies === undefined ? scenario.policies : selectPolicies(scenario, flags.policies);
      if (flags.duration !== undefined && flags.duration <= scenario.warmup) {
        throw new CliError(`--duration: ${flags.duration} ms must be longer than the scenario's warmup (${scenario.warmup} ms)`);
      }
      await loadPolicies(policies, flags.policies === undefined ? 'policies' : '--policies');
      checkReportFlags(flags);
      if (flags.sweep !== undefined) {
        await runSweepCommand(io, scenario, policies, flags);
        return;
      }
      const progress = createProgress(io.stderr);
      const started = performance.now();
      const threads = flags.jobs ?? defaultThreads(policies.length);
      const options = { policies, requests: flags.requests, durationMs: flags.duration, dispatchers: flags.dispatchers, onProgress: progress.update };
      let report: Report;
      try {
        report =
          threads > 1 && policies.length > 1
            ? await simulateOnWorkers(scenario, options, threads)
            : simulate(scenario, { ...options, onPolicyError: createPolicyErrorLog() });
      } finally {
        progress.stop();
      }
      const wallMs = performance.now() - started;
      report = {
        ...report,
        createdAt: new Date().toISOString(),
        command: commandLine(command),
        environment: { ...report.environment, wallSeconds: +(wallMs / 1000).toFixed(3) },
      };
      await finishReport(io, report, flags, flags.scenario, scenario.slo, theoryText(report));
    });
}

const SWEEP_REQUESTS = 20_000;

async function runSweepCommand(io: CliIo, scenario: Scenario, policies: readonly PolicySpec[], flags: SimulateFlags): Promise<void> {
  if (flags.json !== undefined || flags.html !== undefined || flags.duration !== undefined || flags.slo !== undefined) {
    throw new CliError('--sweep: writes sweep.json, sweep.svg and sweep.html into --out, for --requests per point; --json, --html, --duration and --slo do not apply');
  }
  let rates: number[];
  let spec: SweepSpec;
  try {
    spec = parseSweep(flags.sweep ?? '');
    rates = sweepRates(scenario, spec);
  } catch (err) {
    if (err instanceof SweepError) throw new CliError(`--sweep: ${err.message}`);
    throw err;
  }
  const requests = flags.requests ?? SWEEP_REQUESTS;
  const points = await runSweepOnWorkers(
    scenario,
    rates,
    policies,
    requests,
    (done, total) => io.stderr.write(`sweep: ${done}/${total} points\n`),
    flags.jobs ?? defaultThreads(rates.length),
  );
  const report: SweepReport = { mode: 'simulate', scenario: scenario.name, seed: scenario.seed, sweep: spec, requestsPerPoint: requests, points };
  io.stdout.write(`${sweepTable(report)}\n`);
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, '').replace(/:/g, '-');
  const written = await writeSweep(report, flags.out ?? join('reports', `${scenario.name}-sweep-${stamp}`));
  io.stdout.write(`report: ${written.dir}\n`);
}

/** How often the progress bars are redrawn from progress updates. */
const PROGRESS_REDRAW_MS = 100;

function createProgress(stream: Output): { update: (p: SimProgress) => void; stop: () => void } {
  if (!isTerminal(stream)) {
    return {
      update: (p) => {
        if (p.done) stream.write(`simulated ${p.policy} (${p.policyIndex + 1}/${p.policies}): ${p.issued} requests, ${(p.simulatedMs / 1000).toFixed(1)} s of virtual time\n`);
      },
      stop: () => undefined,
    };
  }
  // A bar per policy, since policies may run at once (worker threads): each moves on its own line.
  const bars = new cliProgress.MultiBar(
    { format: '{policy} [{bar}] {percentage}% | {issued} requests | {simSeconds} s simulated', stream, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const steps = 1000;
  const byPolicy = new Map<number, cliProgress.SingleBar>();
  let drawnAtMs = 0;
  return {
    update: (p) => {
      const payload = { policy: `${p.policy} (${p.policyIndex + 1}/${p.policies})`, issued: p.issued, simSeconds: (p.simulatedMs / 1000).toFixed(1) };
      let bar = byPolicy.get(p.policyIndex);
      const first = bar === undefined;
      if (bar === undefined) {
        bar = bars.create(steps, 0, payload);
        byPolicy.set(p.policyIndex, bar);
      }
      bar.update(Math.round(p.fraction * steps), payload);
      // A MultiBar redraws on a timer only, which never fires while a policy runs in this thread
      // (one policy, or --jobs 1): redraw from here too, at most ten times a second, and at once
      // for a policy's first news.
      const nowMs = Date.now();
      if (first || nowMs - drawnAtMs >= PROGRESS_REDRAW_MS) {
        drawnAtMs = nowMs;
        bars.update();
      }
    },
    stop: () => bars.stop(),
  };
}
