import { z } from 'zod';
import { createPeakEwmaMetric, peakEwmaOptions } from './load/peak-ewma.js';
import type { PolicyDefinition } from './policy.js';
import { choicesOption, PowerOfChoices } from './power-of-two.js';

/**
 * Peak EWMA: Finagle's `Balancers.p2cPeakEwma` (and Linkerd's default): power of two choices over
 * the peak-EWMA latency metric, cost = ewmaRttMs * (inFlight + 1), decay time `decayMs` (Finagle's
 * default 10 s). See load/peak-ewma.ts for the estimator and power-of-two.ts for the sampling
 * (distinct backends) and the tie-break (uniformly at random). Linkerd's 2016 experiment (one of
 * 11 backends slowed to 2 s) shows it degrading only above p99.9, where round robin degrades above
 * p95 and least-loaded above p99.
 * Cost: O(d) per pick, O(1) per completion, O(n) state.
 */
const options = z.strictObject({
  choices: choicesOption,
  ...peakEwmaOptions,
});

export const peakEwma: PolicyDefinition<typeof options> = {
  name: 'peak-ewma',
  summary: "Finagle's p2cPeakEwma: power of two choices over peak-EWMA latency x (in-flight + 1)",
  options,
  create: (o, deps) =>
    new PowerOfChoices('peak-ewma', o.choices, 'distinct', createPeakEwmaMetric(o), deps.rng.stream('peak-ewma')),
};
