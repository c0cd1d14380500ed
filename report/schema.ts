import { z } from 'zod';

/**
 * The report format (types in core/report.ts) as a zod schema, for
 * tools that read a report back and for tests. Objects are loose: fields may be added.
 */

const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const count = z.number().int().nonnegative();
const fraction = z.number().min(0).max(1);

const LatencySummarySchema = z.object({ mean: finite.nonnegative(), p50: finite.nonnegative(), p90: finite.nonnegative(), p99: finite.nonnegative(), p999: finite.nonnegative(), max: finite.nonnegative() });

const BackendShareSchema = z.object({
  id: z.string().min(1),
  host: z.string(),
  kind: z.string().min(1).optional(),
  requests: count,
  share: fraction,
  errors: count.optional(),
  cpuSeconds: finite.nonnegative().optional(),
  stealSeconds: finite.nonnegative().optional(),
});

const VmUsageSchema = z.object({ vm: z.string().min(1), host: z.string(), serves: z.boolean(), cpuSeconds: finite.nonnegative(), stealSeconds: finite.nonnegative() });

const PolicyRunSchema = z.object({
  policy: z.string().min(1),
  requests: count,
  errors: count,
  dropped: count.optional(),
  late: count.optional(),
  sendLagMs: z.object({ p99: finite.nonnegative(), max: finite.nonnegative() }).optional(),
  throughputRps: finite.nonnegative(),
  latencyMs: LatencySummarySchema,
  clientLatencyMs: LatencySummarySchema.optional(),
  backends: z.array(BackendShareSchema),
  vms: z.array(VmUsageSchema).optional(),
  imbalance: finite.min(0).optional(),
  jain: fraction.optional(),
  stickyHitRatio: fraction.optional(),
  retries: count.optional(),
  queueWaitMs: z.object({ mean: finite.nonnegative(), p99: finite.nonnegative() }).optional(),
  timerLatenessMs: z.object({ mean: finite.nonnegative(), p99: finite.nonnegative() }).optional(),
  modelMeanMs: finite.nonnegative().optional(),
  errorsByCode: z.record(z.string(), count).optional(),
  timeline: z.array(z.object({ tMs: finite, p50: finite.nonnegative(), p99: finite.nonnegative(), rps: finite.nonnegative() })).optional(),
  timelineWarmupMs: finite.nonnegative().optional(),
  cdf: z.array(z.tuple([finite.nonnegative(), fraction])).optional(),
  slo: z.object({ pass: z.boolean(), failed: z.array(z.string()) }).optional(),
});

export const ReportSchema = z.object({
  mode: z.enum(['live', 'simulate']),
  scenario: z.string().min(1),
  seed: z.number().int(),
  createdAt: z.string().optional(),
  command: z.string().optional(),
  environment: z.record(z.string(), z.unknown()).optional(),
  runs: z.array(PolicyRunSchema).min(1),
  slo: z.string().optional(),
  interrupted: z.object({ notFinished: z.array(z.string()) }).optional(),
  againstSim: z
    .array(
      z.object({
        policy: z.string(),
        liveMeanMs: finite,
        simulatedMeanMs: finite,
        liveP99Ms: finite,
        simulatedP99Ms: finite,
        meanRatio: finite,
        timerLatenessMs: finite,
        liveModelMeanMs: finite.nonnegative().optional(),
        verdict: z.enum(['agrees', 'explained', 'decisions-differ', 'diverges']),
      }),
    )
    .optional(),
  theory: z.record(z.string(), z.unknown()).optional(),
});
