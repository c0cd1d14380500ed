import type { BackendId } from '../../core/types.js';

/** A member of a hash table: a backend and its weight (its share of the key space). */
export interface HashMember {
  readonly id: BackendId;
  readonly weight: number;
}

/** A consistent-hash lookup structure (ring or Maglev table), built once per membership. */
export interface HashTable {
  readonly memberIds: readonly BackendId[];
  /** Ring points or Maglev slots: what a build costs, in time and memory. */
  readonly entries: number;
  /**
   * The members in this key's order of preference, each once: the first is the key's home, the
   * next ones are where it goes when the earlier ones are full or to be avoided. Lazy, so the usual
   * lookup stops at the first.
   */
  preferences(keyHash: number): Iterable<BackendId>;
}

/** Members in id order, so a table depends only on the membership, not on the Balancer's order. */
export function sortedMembers(members: readonly HashMember[]): HashMember[] {
  return [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
