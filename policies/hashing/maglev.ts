import type { BackendId } from '../../core/types.js';
import { keyHash } from './hash.js';
import { sortedMembers, type HashMember, type HashTable } from './hash-table.js';

/**
 * Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
 * NSDI 2016, §3.4; Envoy MAGLEV): each backend has a permutation of the M table slots,
 * offset = h1(id) mod M, skip = h2(id) mod (M - 1) + 1 (M prime, so every skip visits every slot);
 * backends take turns claiming their next free slot until the table is full. A key's home is
 * table[hash mod M]. Shares are within ~1% of the weights when M > 100 n; removing a backend moves
 * about twice as many keys as a ring would, for a much faster lookup.
 *
 * Weights follow Envoy's weighted Maglev: in round r a backend takes a turn only while it holds
 * fewer than r x weight / maxWeight slots. The walk past full or avoided backends visits the
 * following slots in order (Maglev itself has no bounded-load walk; this is the natural one).
 * Turn order, and so slot ties, go by member id. Build O(M log M) expected; lookup O(1).
 */
export class MaglevTable implements HashTable {
  readonly memberIds: readonly BackendId[];
  private readonly slots: Int32Array;

  constructor(members: readonly HashMember[], requestedSize: number) {
    if (!isPrime(requestedSize)) throw new Error(`maglev table size must be prime (got ${requestedSize})`);
    const sorted = sortedMembers(members);
    // Every backend needs a slot: with more backends than slots (added at runtime, or a small
    // table), the table grows to the next prime, rather than failing every pick.
    const tableSize = sorted.length > requestedSize ? nextPrime(sorted.length) : requestedSize;
    this.memberIds = sorted.map((m) => m.id);
    this.slots = new Int32Array(tableSize).fill(-1);
    if (sorted.length === 0) return;

    const offsets = sorted.map((m) => keyHash(m.id, 1) % tableSize);
    const skips = sorted.map((m) => (keyHash(m.id, 2) % (tableSize - 1)) + 1);
    const nextStep = new Array<number>(sorted.length).fill(0);
    const claimed = new Array<number>(sorted.length).fill(0);
    const maxWeight = Math.max(...sorted.map((m) => m.weight));
    let filled = 0;
    for (let round = 1; filled < tableSize; round++) {
      for (let i = 0; i < sorted.length && filled < tableSize; i++) {
        if (claimed[i] >= (round * sorted[i].weight) / maxWeight) continue;
        let slot: number;
        do {
          slot = (offsets[i] + nextStep[i] * skips[i]) % tableSize;
          nextStep[i] += 1;
        } while (this.slots[slot] >= 0);
        this.slots[slot] = i;
        claimed[i] += 1;
        filled += 1;
      }
    }
  }

  get entries(): number {
    return this.slots.length;
  }

  *preferences(hash: number): Iterable<BackendId> {
    const size = this.slots.length;
    const seen = new Set<number>();
    const start = hash % size;
    for (let k = 0; k < size && seen.size < this.memberIds.length; k++) {
      const owner = this.slots[(start + k) % size];
      if (owner < 0 || seen.has(owner)) continue;
      seen.add(owner);
      yield this.memberIds[owner];
    }
  }
}

/** The smallest prime >= n. */
export function nextPrime(n: number): number {
  let p = Math.max(2, Math.ceil(n));
  while (!isPrime(p)) p++;
  return p;
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}
