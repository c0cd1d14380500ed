import type { BackendId } from '../../core/types.js';
import { MAX_RING_POINTS } from '../../core/limits.js';
import { keyHash } from './hash.js';
import { sortedMembers, type HashMember, type HashTable } from './hash-table.js';

/**
 * A consistent-hash ring (Karger et al., STOC 1997; ketama, as in nginx `hash … consistent`,
 * HAProxy `hash-type consistent`, Envoy RING_HASH): each backend owns round(vnodes x weight) points
 * (at least one) at keyHash("<id>#<i>"); a key belongs to the first point clockwise from its hash.
 * Removing one of n backends moves only the keys it owned (~1/n), to its ring successors.
 * Ties (two points on one hash) go to the lower member id. A ring is at most MAX_RING_POINTS
 * (Envoy's maximum_ring_size): beyond it every count is scaled down in proportion, so weights keep
 * their ratios and a rebuild stays short. Build O(P log P) for P points; lookup
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
    const wanted = sorted.reduce((sum, m) => sum + vnodesPerWeight * m.weight, 0);
    const scale = wanted > MAX_RING_POINTS ? MAX_RING_POINTS / wanted : 1;
    sorted.forEach((m, owner) => {
      const count = Math.max(1, Math.round(vnodesPerWeight * m.weight * scale));
      for (let i = 0; i < count; i++) points.push({ hash: keyHash(`${m.id}#${i}`), owner });
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
