import { z } from 'zod';
import type { BackendId } from '../../core/types.js';
import type { BackendView, PickContext } from '../policy.js';
import { MAX_MAGLEV_TABLE_SIZE, MAX_VNODES } from '../../core/limits.js';
import { keyHash } from './hash.js';
import type { HashTable } from './hash-table.js';
import { MaglevTable, isPrime } from './maglev.js';
import { HashRing } from './ring.js';
import { ListMemo, viewsById } from '../list-memo.js';

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with
 * Bounded Loads", SODA 2018; HAProxy `hash-balance-factor`, added by Vimeo in 2016): a backend
 * whose load (its in-flight count, unless the caller counts something else: LoadOf) has reached
 * ceil(factor x (totalLoad + 1) x weight / totalWeight) is full, and the key walks on to its next
 * preference (ring successor or next Maglev slot). For equal weights that is the paper's
 * ceil(c x (m + 1) / n). Since the caps add up to more than the load, with factor >= 1 some
 * backend is never full: no backend exceeds its cap.
 * `boundedLoad: 0` turns the bound off (plain consistent hashing).
 *
 * Shared by the consistent-hash and session-sticky policies. The table is built over the members:
 * the backends in state healthy (and, in panic mode, those serving anyway), as the Balancer last
 * announced them (`learn`, from onMembershipChange), and rebuilt only when their ids or weights
 * change; ineligible ones (full at the Balancer's connection limit, avoided on a retry) are walked
 * past like full ones. A caller that never announces gets the members of each list it passes.
 * Cost per pick: the table lookup (ring O(log P), Maglev O(1)) and, with a bound, O(n) to sum the
 * loads; O(n) more when not every backend is eligible (the candidates' ids) or nothing was
 * announced (the membership signature). A rebuild is O(P log P) or O(M log M).
 */
/**
 * The options both hashing policies take. They bound different things (consistent-hash the requests
 * in flight, session-sticky the sessions placed), so each says what its cap is: `policies`
 * and docs/policies.md show the text.
 */
export const hashingOptions = (boundedLoad: { readonly default: number; readonly cap: string }) => ({
  algorithm: z.enum(['ring', 'maglev']).default('ring').describe('ring (ketama) or maglev lookup table'),
  vnodes: z.number().int().min(1).max(MAX_VNODES).default(100).describe('ring: points per unit of weight'),
  tableSize: z
    .number()
    .int()
    .min(2)
    .max(MAX_MAGLEV_TABLE_SIZE)
    .refine(isPrime, 'must be a prime number')
    .default(65537)
    .describe('maglev: lookup table size, a prime well above 100 x backends'),
  boundedLoad: z
    .union([z.literal(0), z.number().min(1).max(100)])
    .default(boundedLoad.default)
    .describe(`bounded-load factor c >= 1: cap each backend at ${boundedLoad.cap}; 0 = unbounded`),
});

/** Which request key to hash. */
export type HashKeySource = 'session' | 'client' | 'request';

const KEY_FIELD = { session: 'sessionKey', client: 'clientKey', request: 'requestKey' } as const satisfies Record<
  HashKeySource,
  keyof PickContext
>;

/**
 * The key to hash: the preferred one, else the first present of session, client and request key.
 * The live dispatcher knows the client address but sets a session key only for sticky policies;
 * the simulator has sessions but no addresses: falling back keeps a hashing policy meaningful in
 * both. Undefined only when the request has no key at all.
 */
export function hashKeyOf(ctx: PickContext, preferred: HashKeySource): string | undefined {
  return ctx[KEY_FIELD[preferred]] ?? ctx.sessionKey ?? ctx.clientKey ?? ctx.requestKey;
}

/**
 * What the bound counts on a backend: by default its requests in flight (HAProxy's
 * `hash-balance-factor`); session-sticky counts the sessions placed on it, the paper's balls.
 */
export type LoadOf = (b: BackendView) => number;
const inFlightOf: LoadOf = (b) => b.inFlight;

export interface HashingOptions {
  readonly algorithm: 'ring' | 'maglev';
  readonly vnodes: number;
  readonly tableSize: number;
  readonly boundedLoad: number;
}

const weightOf = (b: BackendView): number => b.weight;

/** In list order, as every total the bound compares is summed, so a kept total equals a fresh one to the bit. */
function sum(backends: readonly BackendView[], of: (b: BackendView) => number): number {
  let total = 0;
  for (const b of backends) total += of(b);
  return total;
}

/** The members a table is built over: membership is the Balancer's state, not momentary eligibility. */
function membersOf(backends: readonly BackendView[]): BackendView[] {
  // A backend that is healthy but full (maxConnPerBackend) or masked for a retry reads `healthy:
  // false` in a pick list and is walked past, so its keys return to it once it has room and the
  // table is not rebuilt on every such flip.
  return backends.filter((b) => b.state === 'healthy' || b.healthy);
}

export class HashPlacer {
  private built: { signature: string; table: HashTable } | undefined;
  /** The table over the members last announced; undefined until `learn` is called. */
  private announced: HashTable | undefined;
  /** The views of a list by id, and their total weight, for a pick where every backend is a candidate. */
  private readonly viewsById = viewsById();
  private readonly weightOf = new ListMemo((backends) => sum(backends, weightOf));

  constructor(private readonly options: HashingOptions) {}

  /**
   * The backend for `key` among `candidates` (eligible, so a subset of the healthy `backends`; pass
   * `backends` itself when every one is eligible): the first preference that is a candidate and not
   * full; if every candidate is full (only possible when `avoid` removed most of them), the first
   * candidate preference regardless of load.
   */
  place(
    backends: readonly BackendView[],
    candidates: readonly BackendView[],
    key: string,
    loadOf: LoadOf = inFlightOf,
    candidatesLoad?: number,
  ): BackendId | undefined {
    const table = this.announced ?? this.tableOf(membersOf(backends));
    // What is kept per list is kept only for a caller that announces its changes (ListMemo's contract).
    const whole = candidates === backends && this.announced !== undefined;
    const byId = whole ? this.viewsById.get(backends) : new Map(candidates.map((b) => [b.id, b]));
    const hasRoom = this.roomTest(candidates, loadOf, candidatesLoad, whole ? this.weightOf.get(backends) : undefined);
    let firstCandidate: BackendId | undefined;
    for (const id of table.preferences(keyHash(key))) {
      const b = byId.get(id);
      if (!b) continue;
      if (hasRoom(b)) return id;
      firstCandidate ??= id;
    }
    return firstCandidate;
  }

  /** The Balancer's views changed (onMembershipChange): rebuild the table if the members did. */
  learn(views: readonly BackendView[]): void {
    this.announced = this.tableOf(membersOf(views));
    this.viewsById.forget();
    this.weightOf.forget();
  }

  memberIds(): BackendId[] {
    return [...(this.built?.table.memberIds ?? [])];
  }

  /** The bound's test; the candidates' load and weight are summed here unless the caller keeps them. */
  private roomTest(candidates: readonly BackendView[], loadOf: LoadOf, candidatesLoad?: number, candidatesWeight?: number): (b: BackendView) => boolean {
    const factor = this.options.boundedLoad;
    if (factor === 0) return () => true;
    const totalLoad = candidatesLoad ?? sum(candidates, loadOf);
    const totalWeight = candidatesWeight ?? sum(candidates, weightOf);
    return (b) => loadOf(b) + 1 <= Math.ceil((factor * (totalLoad + 1) * b.weight) / totalWeight);
  }

  private tableOf(members: readonly BackendView[]): HashTable {
    const signature = members.map((b) => `${b.id}\u0000${b.weight}`).join('\u0001');
    if (this.built?.signature !== signature) {
      const table =
        this.options.algorithm === 'ring' ? new HashRing(members, this.options.vnodes) : new MaglevTable(members, this.options.tableSize);
      this.built = { signature, table };
    }
    return this.built.table;
  }
}
