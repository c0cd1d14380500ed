import type { BackendId } from '../core/types.js';
import type { BackendView } from './policy.js';

/**
 * A value a policy derives from the backend list it is handed (running weight totals, the views by
 * id), kept while it is handed the same array and forgotten on onMembershipChange: the Balancer
 * passes one array and announces every change to it, membership, weights and states alike.
 */
export class ListMemo<T> {
  private of: readonly BackendView[] | undefined;
  private value: T | undefined;

  constructor(private readonly derive: (backends: readonly BackendView[]) => T) {}

  get(backends: readonly BackendView[]): T {
    if (backends !== this.of || this.value === undefined) {
      this.value = this.derive(backends);
      this.of = backends;
    }
    return this.value;
  }

  forget(): void {
    this.of = undefined;
    this.value = undefined;
  }
}

/** The list's views by id: a lookup instead of a scan of the list. */
export function viewsById(): ListMemo<ReadonlyMap<BackendId, BackendView>> {
  return new ListMemo((backends) => new Map(backends.map((b) => [b.id, b])));
}
