import { z } from 'zod';
import { createInFlightMetric } from './in-flight.js';
import type { LoadMetric } from './load-metric.js';
import { createPeakEwmaMetric, peakEwmaOptions } from './peak-ewma.js';
import { createReportedMetric, reportedOptions } from './reported.js';

/** The load metrics a policy's `metric` option may name, and the options they read. */
export const LOAD_METRICS = ['in-flight', 'reported', 'peak-ewma'] as const;
export type LoadMetricName = (typeof LOAD_METRICS)[number];

/**
 * The options every policy that takes a `metric` accepts. Flat rather than nested, so a scenario
 * says `{ metric: reported, refreshMs: 500 }`; each metric reads only its own options.
 */
export const loadMetricOptions = {
  metric: z.enum(LOAD_METRICS).default('in-flight').describe('load metric: the dispatcher\'s in-flight count, the load the VM reports, or peak EWMA of latency'),
  ...reportedOptions,
  ...peakEwmaOptions,
};

export type LoadMetricOptions = z.output<z.ZodObject<typeof loadMetricOptions>>;

export function createLoadMetric(options: LoadMetricOptions): LoadMetric {
  switch (options.metric) {
    case 'in-flight':
      return createInFlightMetric();
    case 'reported':
      return createReportedMetric({ refreshMs: options.refreshMs });
    case 'peak-ewma':
      return createPeakEwmaMetric({ decayMs: options.decayMs, defaultRttMs: options.defaultRttMs });
  }
}

