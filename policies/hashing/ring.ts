import type { BackendId } from '../../core/types.js';
import { MAX_RING_POINTS } from '../../core/limits.js';
import { keyHash } from './hash.js';
import { sortedMembers, type HashMember, type HashTable } from './hash-table.js';

/**
 * Each backend's points: max(1, round(vnodes x weight / unit x scale)). The unit of weight is 1, or
 * the smallest positive weight when that is below 1, so the lightest backend gets vnodes points,
 * equal weights get equal points and fractional weights keep their ratios (counted per unit of 1,
 * four backends of weight 0.01 got one point each and split 400 keys 365/27/8/0). Whole-number
 * weights (all >= 1) count as they always did: unit 1, the same arithmetic, the same points.
 * scale is 1, or MAX_RING_POINTS / total wanted beyond the cap. A weight of 0 gets one point, as it
 * always did.
 *
 * The unit is never below 1/MAX_RING_POINTS of the largest weight: a lighter unit would only make
 * the totals overflow to Infinity (weights such as 1e-320 beside 256), and past that ratio the ring
 * is over its cap anyway, where the counts do not depend on the unit and the lightest backends get
 * one point.
 */
export function ringPointCounts(weights: readonly number[], vnodesPerWeight: number): number[] {
  let lightest = Infinity;
  let heaviest = 0;
  for (const w of weights) {
    if (w > 0 && w < lightest) lightest = w;
    if (w > heaviest) heaviest = w;
  }
  const unit = Math.min(1, Math.max(lightest, heaviest / MAX_RING_POINTS));
  const perUnit = weights.map((w) => vnodesPerWeight * (w / unit));
  const wanted = perUnit.reduce((sum, p) => sum + p, 0);
  const scale = wanted > MAX_RING_POINTS ? MAX_RING_POINTS / wanted : 1;
  return perUnit.map((p) => Math.max(1, Math.round(p * scale)));
}

/**
 * A consistent-hash ring (Karger et al., STOC 1997; ketama, as in nginx `hash … consistent`,
 * HAProxy `hash-type consistent`, Envoy RING_HASH): each backend owns vnodes points per unit of
 * weight, at least one, at keyHash("<id>#<i>"); the unit is 1, or the smallest weight when that is
 * below 1 (ringPointCounts). A key belongs to the first point clockwise from its hash. Removing one
 * of n backends moves only the keys it owned (~1/n), to its ring successors, unless it was the
 * lightest of weights below 1: a change of the smallest weight below 1 changes the unit, so every
 * backend's points, and keys move between the others too (as in Envoy's ring, which scales by the
 * smallest weight as well). Whole-number weights never move the unit. Ties (two points on
 * one hash) go to the lower member id. A ring is at most MAX_RING_POINTS (Envoy's
 * maximum_ring_size): beyond it every count is scaled down in proportion (each keeping one), so
 * weights keep their ratios and a rebuild stays short. Build O(P log P) for P points; lookup
 * O(log P) binary search, and the walk past full or avoided backends O(P) at worst.
 */
export class HashRing implements HashTable {
  readonly memberIds: readonly BackendId[];
  private readonly pointHashes: Uint32Array;
  private readonly pointOwners: Uint32Array;

  constructor(members: readonly HashMember[], vnodesPerWeight: number) {
    const sorted = sortedMembers(members);
    this.memberIds = sorted.map((m) => m.id);
    const points: { hash: number; owner: number }[] = [];
    const counts = ringPointCounts(sorted.map((m) => m.weight), vnodesPerWeight);
    sorted.forEach((m, owner) => {
      for (let i = 0; i < counts[owner]; i++) points.push({ hash: keyHash(`${m.id}#${i}`), owner });
    });
    points.sort((a, b) => a.hash - b.hash || a.owner - b.owner);
    this.pointHashes = Uint32Array.from(points, (p) => p.hash);
    this.pointOwners = Uint32Array.from(points, (p) => p.owner);
  }

  *preferences(hash: number): Iterable<BackendId> {
    const total = this.pointHashes.length;
    const seen = new Set<number>();
    const start = this.firstPointAtOrAfter(hash);
    for (let k = 0; k < total && seen.size < this.memberIds.length; k++) {
      const owner = this.pointOwners[(start + k) % total];
      if (seen.has(owner)) continue;
      seen.add(owner);
      yield this.memberIds[owner];
    }
  }

  get entries(): number {
    return this.pointHashes.length;
  }

  private firstPointAtOrAfter(hash: number): number {
    let lo = 0;
    let hi = this.pointHashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pointHashes[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo; // == length wraps to 0 in the caller's modulo
  }
}
