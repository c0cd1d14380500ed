import cliProgress from 'cli-progress';
import type { CompareProgress } from '../loadtest/compare.js';
import { isTerminal, type Output } from './io.js';

/**
 * Progress of `compare`: on a terminal, one bar per policy run (policy, elapsed, requests, current
 * rate, errors); otherwise (CI, pipes) a plain line every few seconds and one per finished run.
 * Written to stderr, so stdout holds only the table and the report path.
 */

export interface ProgressView {
  update(p: CompareProgress): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 3000;

function describe(p: CompareProgress): { elapsedS: string; requests: number; rate: string; errors: number; phase: string } {
  const t = p.tick;
  const offsetMs = t?.phase === 'warmup' ? 0 : p.warmupMs;
  return {
    elapsedS: (((t?.elapsedMs ?? 0) + (t ? offsetMs : 0)) / 1000).toFixed(1),
    requests: t?.requests ?? 0,
    rate: (t?.rateRps ?? 0).toFixed(0),
    errors: t?.errors ?? 0,
    phase: t?.phase ?? 'starting',
  };
}

function plainProgress(stream: Output): ProgressView {
  let lastMs = -Infinity;
  return {
    update(p) {
      const now = performance.now();
      const d = describe(p);
      const label = `${p.policy} (${p.index + 1}/${p.total})`;
      if (p.stage === 'starting') stream.write(`compare: ${label}: starting a fresh fleet\n`);
      else if (p.stage === 'done') stream.write(`compare: ${label}: done\n`);
      else if (now - lastMs >= PLAIN_EVERY_MS) {
        lastMs = now;
        stream.write(`compare: ${label}: ${d.phase} ${d.elapsedS}s, ${d.requests} requests, ${d.rate} req/s, ${d.errors} errors\n`);
      }
    },
    stop: () => undefined,
  };
}

function barProgress(stream: NodeJS.WriteStream): ProgressView {
  const bars = new cliProgress.MultiBar(
    {
      format: '{policy} [{bar}] {elapsed}s {phase} | {requests} requests | {rate} req/s | {errors} errors',
      stream,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let current: { index: number; bar: cliProgress.SingleBar } | undefined;
  return {
    update(p) {
      const totalMs = p.warmupMs + p.durationMs;
      if (p.stage === 'done') {
        // No tick with 'done': keep the last numbers on the finished bar.
        current?.bar.update(totalMs);
        return;
      }
      const d = describe(p);
      const payload = { policy: p.policy.padEnd(16), elapsed: d.elapsedS, phase: d.phase.padEnd(7), requests: d.requests, rate: d.rate, errors: d.errors };
      if (current?.index !== p.index) current = { index: p.index, bar: bars.create(totalMs, 0, payload) };
      current.bar.update(Math.min(totalMs, Number(d.elapsedS) * 1000), payload);
    },
    stop: () => bars.stop(),
  };
}

export function createCompareProgress(stream: Output): ProgressView {
  return isTerminal(stream) ? barProgress(stream) : plainProgress(stream);
}
