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

/**
 * Time since a policy's run started, as the bar shows it. The generator's warm-up phase lasts its
 * planned length plus the drain after it, so the measured phase is placed after the warm-up that
 * really happened, not the planned one: the bar never jumps back, and shows the real warm-up.
 */
export function createElapsed(): (p: CompareProgress) => number {
  let index = -1;
  let warmedMs = 0;
  return (p) => {
    if (p.index !== index) {
      index = p.index;
      warmedMs = 0;
    }
    const t = p.tick;
    if (t === undefined) return 0;
    if (t.phase === 'warmup') {
      warmedMs = Math.max(warmedMs, t.elapsedMs);
      return t.elapsedMs;
    }
    return Math.max(p.warmupMs, warmedMs) + t.elapsedMs;
  };
}

function describe(p: CompareProgress, elapsedMs: number): { elapsedS: string; requests: number; rate: string; errors: number; phase: string } {
  const t = p.tick;
  return {
    elapsedS: (elapsedMs / 1000).toFixed(1),
    requests: t?.requests ?? 0,
    rate: (t?.rateRps ?? 0).toFixed(0),
    errors: t?.errors ?? 0,
    phase: t?.phase ?? 'starting',
  };
}

function plainProgress(stream: Output): ProgressView {
  let lastMs = -Infinity;
  const elapsed = createElapsed();
  return {
    update(p) {
      const now = performance.now();
      const d = describe(p, elapsed(p));
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
  let current: { index: number; bar: cliProgress.SingleBar; totalMs: number } | undefined;
  const elapsed = createElapsed();
  return {
    update(p) {
      if (p.stage === 'done') {
        // No tick with 'done': keep the last numbers on the finished bar.
        if (current !== undefined) current.bar.update(current.totalMs);
        return;
      }
      const elapsedMs = elapsed(p);
      const d = describe(p, elapsedMs);
      const payload = { policy: p.policy.padEnd(16), elapsed: d.elapsedS, phase: d.phase.padEnd(7), requests: d.requests, rate: d.rate, errors: d.errors };
      if (current?.index !== p.index) current = { index: p.index, bar: bars.create(p.warmupMs + p.durationMs, 0, payload), totalMs: p.warmupMs + p.durationMs };
      // A warm-up that ran long (its drain) moves the end out, rather than the bar running past it.
      if (p.tick?.phase !== 'warmup' && elapsedMs - (p.tick?.elapsedMs ?? 0) + p.durationMs > current.totalMs) {
        current.totalMs = elapsedMs - (p.tick?.elapsedMs ?? 0) + p.durationMs;
        current.bar.setTotal(current.totalMs);
      }
      current.bar.update(Math.min(current.totalMs, elapsedMs), payload);
    },
    stop: () => bars.stop(),
  };
}

export function createCompareProgress(stream: Output): ProgressView {
  return isTerminal(stream) ? barProgress(stream) : plainProgress(stream);
}
