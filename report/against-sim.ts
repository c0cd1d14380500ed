import type { AgainstSimRow, Report } from '../core/report.js';

/**
 * `compare`'s check of itself: the same scenario, policies and seed simulated, beside the live
 * numbers. The simulator runs the same Balancer, policies, hypervisor model and request costs
 * without a machine in the way, so a live mean well above the simulated one that the hosts' timer
 * lateness does not explain says the machine, not the model, set the live latency: the live
 * numbers should not be read as the policies' (README, "Live against simulated").
 */


function within(live: number, simulated: number, relative: number, absoluteMs: number): boolean {
  return Math.abs(live - simulated) <= relative * simulated + absoluteMs;
}

export function againstSimulation(live: Report, simulated: Report): AgainstSimRow[] {
  const byPolicy = new Map(simulated.runs.map((r) => [r.policy, r]));
  return live.runs.flatMap((run) => {
    const sim = byPolicy.get(run.policy);
    if (sim === undefined || run.requests === run.errors || sim.requests === sim.errors) return [];
    const latenessMs = run.timerLatenessMs?.mean ?? 0;
    const agrees = within(run.latencyMs.mean, sim.latencyMs.mean, 0.1, 1) && within(run.latencyMs.p99, sim.latencyMs.p99, 0.2, 2);
    // Lateness is added once per completion; queueing can amplify it, so allow it twice over.
    const explained = within(run.latencyMs.mean, sim.latencyMs.mean, 0.1, 1 + 2 * latenessMs);
    return [
      {
        policy: run.policy,
        liveMeanMs: run.latencyMs.mean,
        simulatedMeanMs: sim.latencyMs.mean,
        liveP99Ms: run.latencyMs.p99,
        simulatedP99Ms: sim.latencyMs.p99,
        meanRatio: run.latencyMs.mean / sim.latencyMs.mean,
        timerLatenessMs: latenessMs,
        verdict: agrees ? 'agrees' : explained ? 'explained' : 'diverges',
      },
    ];
  });
}

const f = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** Under the live table: one line per policy, and a warning when any diverges. */
export function againstSimText(rows: readonly AgainstSimRow[]): string {
  if (rows.length === 0) return '';
  const lines = [
    'live against simulated (same scenario, seed and work; ms):',
    ...rows.map(
      (r) =>
        `  ${r.policy.padEnd(20)} mean ${f(r.liveMeanMs)} vs ${f(r.simulatedMeanMs)} (x${r.meanRatio.toFixed(2)})  p99 ${f(r.liveP99Ms)} vs ${f(r.simulatedP99Ms)}  timer lateness ${f(r.timerLatenessMs)}  ${r.verdict}`,
    ),
  ];
  const diverging = rows.filter((r) => r.verdict === 'diverges').map((r) => r.policy);
  if (diverging.length > 0) {
    lines.push(
      `warning: ${diverging.join(', ')}: live latency is above the simulation by more than the measured timer lateness explains; the machine was probably too busy for these live numbers to measure the policies`,
    );
  }
  return lines.join('\n');
}
