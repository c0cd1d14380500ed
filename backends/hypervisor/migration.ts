/**
 * How long a harvested VM's migration takes, by mode (host `migrate:`); the host applies the plan.
 *
 * checkpoint (Condor's checkpoint/restart, stop-and-copy): the VM stops at once and is down while
 * its whole memory is written and restarted elsewhere:
 *
 *   downtimeMs = baseMs + msPerGb * memoryGb,  precopyMs = 0
 *
 * live (iterative pre-copy, Clark et al., "Live migration of virtual machines", NSDI 2005): the VM
 * keeps running while round 0 copies all of its memory and each later round copies what the guest
 * dirtied during the round before, at the copy rate B (from msPerGb) against the dirty rate D:
 *
 *   sent_0 = memoryMb,  sent_{i+1} = min(memoryMb, D * sent_i / B)
 *
 * Pre-copy stops when what is left is at most stopCopyMb, after maxRounds rounds, or when a round
 * would not shrink it (D >= B: the guest dirties memory as fast as it is copied); then the VM stops
 * for the last copy:
 *
 *   precopyMs = sum over the rounds of sent_i / B,  downtimeMs = resumeMs + left / B
 *
 * so the downtime depends on the dirty rate, not on the memory size, unless pre-copy cannot converge.
 */
import type { MigrationMode } from '../../core/scenario.js';
import type { MigrationCost } from './cost-model.js';

export interface MigrationPlan {
  /** Time the VM keeps running while its memory is pre-copied (0 for checkpoint). */
  readonly precopyMs: number;
  /** Time the VM makes no progress. */
  readonly downtimeMs: number;
  /** Pre-copy rounds run (0 for checkpoint). */
  readonly rounds: number;
}

export function migrationPlan(memoryMb: number, mode: MigrationMode, cost: MigrationCost): MigrationPlan {
  const msPerMb = cost.msPerGb / 1024;
  if (mode === 'checkpoint') return { precopyMs: 0, downtimeMs: cost.baseMs + memoryMb * msPerMb, rounds: 0 };
  const { dirtyMbPerS, maxRounds, stopCopyMb, resumeMs } = cost.live;
  let leftMb = memoryMb;
  let precopyMs = 0;
  let rounds = 0;
  while (rounds < maxRounds && leftMb > stopCopyMb) {
    const roundMs = leftMb * msPerMb;
    const dirtiedMb = Math.min(memoryMb, (dirtyMbPerS * roundMs) / 1000);
    precopyMs += roundMs;
    rounds++;
    const converging = dirtiedMb < leftMb;
    leftMb = dirtiedMb;
    if (!converging) break;
  }
  return { precopyMs, downtimeMs: resumeMs + leftMb * msPerMb, rounds };
}
