import type { Cancel } from '../../core/clock.js';
import type { BackendId, Millis } from '../../core/types.js';
import type { BackendState, BackendView } from '../../policies/policy.js';

/**
 * One backend as the Balancer tracks it: the flags state derives from, the counters reports show,
 * and the views policies read. Views are long-lived objects updated in place, never rebuilt per
 * request.
 *
 * Two views per backend when there is a concurrency limit: `view` tells the truth about the
 * backend (`healthy`: eligible for new requests, which is state healthy, or in panic mode also
 * down or ejected), `pickView` is what `Policy.pick` sees, where an eligible but full backend
 * reads `healthy: false`, so no policy can choose it. Without a limit they are the
 * same object.
 */

/** BackendView with writable fields; only the Balancer writes them. */
export class MutableView implements BackendView {
  /**
   * The record behind the view, so a policy's pickView leads the Balancer to its backend without a
   * lookup by id. A private field: spreading a view (statuses(), admin APIs) copies the BackendView
   * fields only, and no policy can reach the record.
   */
  readonly #record: BackendRecord;
  weight: number;
  healthy = true;
  state: BackendState = 'healthy';
  inFlight = 0;
  reportedLoad: number | undefined = undefined;
  reportedAt: Millis | undefined = undefined;

  constructor(
    record: BackendRecord,
    readonly id: BackendId,
    weight: number,
    readonly host: string | undefined,
  ) {
    this.#record = record;
    this.weight = weight;
  }

  /** The record of `view` if it is a Balancer's view; undefined for any other value a policy returns. */
  static recordOf(view: unknown): BackendRecord | undefined {
    return typeof view === 'object' && view !== null && #record in view ? view.#record : undefined;
  }
}

export class BackendRecord {
  readonly view: MutableView;
  readonly pickView: MutableView;
  state: BackendState = 'healthy';
  inFlight = 0;
  requests = 0;
  errors = 0;
  ejections = 0;
  consecutiveFailures = 0;
  /** Set by active health checks. */
  up = true;
  /** Set by the admin: finish what it has, take nothing new. */
  draining = false;
  /** Removed from the Balancer; in-flight leases may still end on it. */
  removed = false;
  ejectedUntil: Millis | undefined = undefined;
  cancelEjection: Cancel | undefined = undefined;

  constructor(
    /** The Membership that made it: a view handed back by a policy must be its own Balancer's. */
    readonly owner: object,
    /**
     * Its position in the order the Balancer was given and added backends (never reused, not moved
     * by removals): Lease.backendIndex, which request-event sinks use to find their own entry of
     * the backend without a lookup by id.
     */
    readonly index: number,
    readonly id: BackendId,
    public weight: number,
    readonly host: string | undefined,
    /** 0 = no limit. */
    private readonly maxConn: number,
    /** BackendInit.data, handed back on its leases. */
    readonly data: unknown,
  ) {
    this.view = new MutableView(this, id, weight, host);
    this.pickView = maxConn > 0 ? new MutableView(this, id, weight, host) : this.view;
  }

  /**
   * Draining wins over down, down over ejected: each is a longer-lived reason to keep traffic off.
   * A removed backend reads as down for the leases still ending on it.
   */
  deriveState(): BackendState {
    if (this.removed) return 'down';
    if (this.draining) return 'draining';
    if (!this.up) return 'down';
    if (this.ejectedUntil !== undefined) return 'ejected';
    return 'healthy';
  }

  get hasFreeSlot(): boolean {
    return this.maxConn === 0 || this.inFlight < this.maxConn;
  }

  /**
   * In panic mode (too few backends healthy) down and ejected backends take traffic again; a
   * draining or removed one never does: that is the admin's decision, not a health verdict.
   */
  servesInPanic(): boolean {
    return (this.state === 'down' && !this.removed) || this.state === 'ejected';
  }

  /**
   * Copy state, eligibility, weight and in-flight into the views. Returns how eligibility for picking changed
   * (-1, 0 or +1), so Membership keeps its count of pickable backends without scanning.
   */
  sync(panic: boolean): number {
    const view = this.view;
    const pick = this.pickView;
    const wasPickable = pick.healthy;
    view.state = this.state;
    view.healthy = this.state === 'healthy' || (panic && this.servesInPanic());
    view.inFlight = this.inFlight;
    view.weight = this.weight;
    if (pick !== view) {
      pick.state = this.state;
      pick.inFlight = this.inFlight;
      pick.weight = this.weight;
      pick.healthy = view.healthy && this.hasFreeSlot;
    }
    return Number(pick.healthy) - Number(wasPickable);
  }

  reportLoad(load: number, atMs: Millis): void {
    this.view.reportedLoad = this.pickView.reportedLoad = load;
    this.view.reportedAt = this.pickView.reportedAt = atMs;
  }
}
