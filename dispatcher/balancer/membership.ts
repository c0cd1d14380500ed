import { MAX_BACKENDS, MAX_WEIGHT } from '../../core/limits.js';
import type { BackendId } from '../../core/types.js';
import type { BackendState, BackendView } from '../../policies/policy.js';
import { BackendRecord } from './backend.js';
import type { BackendStatus } from './types.js';
import { listNames } from '../../core/names.js';

/**
 * The Balancer's backend set: the records, the views policies read, and the counts admission
 * needs without scanning (backends in state healthy, backends a pick may choose now). Admin and
 * health-check changes land here; the owner hears of every state change and membership change
 * through `MembershipListener`, so it can tell the policy and re-run its queue.
 *
 * Panic mode, after Envoy's healthy panic threshold and Finagle's PanicMode: when fewer than
 * `panicThreshold` of the backends not draining are healthy, health checks and outlier ejection
 * are more likely wrong (a starved prober, a shared dependency, a burst of client errors) than
 * that many backends broken, and sending everything to the few left would overload them too. So
 * down and ejected backends become eligible again until enough are healthy. Checking it costs
 * nothing per request: it is re-derived only when a state changes.
 */

export interface BackendInit {
  id: BackendId;
  weight?: number;
  host?: string;
  /**
   * Anything the caller wants back on every lease of this backend (Lease.backendData): the
   * simulator keeps the backend's VM there, the live dispatcher its origin URL, so a dispatch
   * finds it without a lookup by id and no second table of backends exists beside this one.
   */
  data?: unknown;
}

export interface MembershipListener {
  stateChanged(rec: BackendRecord, from: BackendState, to: BackendState): void;
  /** Views were added, removed or changed state or weight: policies must relearn them. */
  membershipChanged(): void;
}

function validWeight(id: BackendId, weight: number): number {
  if (!(weight >= 0 && weight <= MAX_WEIGHT)) throw new Error(`backend "${id}": weight must be a number from 0 to ${MAX_WEIGHT}, got ${weight}`);
  return weight;
}

export class Membership {
  readonly records = new Map<BackendId, BackendRecord>();
  /** The views policies get in onMembershipChange and `views()`, in insertion order. */
  readonly viewList: BackendView[] = [];
  /** The views `pick` sees (full backends unhealthy); the same array when there is no limit. */
  readonly pickList: BackendView[];
  /** Backends in state healthy, and those a pick may choose now (healthy with a free slot). */
  healthyCount = 0;
  pickableCount = 0;
  /** Backends in state draining: the admin took them out, so they do not count towards panic. */
  private drainingCount = 0;
  panic = false;
  /** Backends inserted so far: the next one's BackendRecord.index. */
  private inserted = 0;

  constructor(
    /** 0 = no limit. */
    private readonly maxConnPerBackend: number,
    /** Fraction of the backends not draining that must be healthy; below it, panic. 0 = never. */
    private readonly panicThreshold: number,
    private readonly listener: MembershipListener,
  ) {
    this.pickList = maxConnPerBackend > 0 ? [] : this.viewList;
  }

  get size(): number {
    return this.records.size;
  }

  get(id: BackendId): BackendRecord {
    const rec = this.records.get(id);
    if (rec === undefined) throw new Error(`unknown backend "${id}" (known: ${listNames(this.records.keys())})`);
    return rec;
  }

  /** Add a backend without announcing it (the constructor announces all of them at once). */
  insert(b: BackendInit): void {
    if (typeof b.id !== 'string' || b.id === '') throw new Error(`backend id must be a non-empty string, got ${JSON.stringify(b.id)}`);
    if (this.records.has(b.id)) throw new Error(`backend "${b.id}" already exists`);
    if (this.records.size >= MAX_BACKENDS) throw new Error(`at most ${MAX_BACKENDS} backends`);
    const weight = validWeight(b.id, b.weight ?? 1);
    const rec = new BackendRecord(this, this.inserted++, b.id, weight, b.host, this.maxConnPerBackend, b.data);
    this.records.set(b.id, rec);
    this.viewList.push(rec.view);
    if (this.pickList !== this.viewList) this.pickList.push(rec.pickView);
    this.healthyCount++;
    this.pickableCount += rec.sync(this.panic) + 1;
    this.updatePanic();
  }

  add(b: BackendInit): void {
    this.insert(b);
    this.listener.membershipChanged();
  }

  /** The caller ends any ejection first; leases already out still end on the record. */
  remove(rec: BackendRecord): void {
    this.records.delete(rec.id);
    this.viewList.splice(this.viewList.indexOf(rec.view), 1);
    if (this.pickList !== this.viewList) this.pickList.splice(this.pickList.indexOf(rec.pickView), 1);
    if (rec.state === 'healthy') this.healthyCount--;
    if (rec.state === 'draining') this.drainingCount--;
    rec.removed = true;
    rec.state = rec.deriveState();
    this.pickableCount += rec.sync(this.panic);
    this.updatePanic();
    this.listener.membershipChanged();
  }

  setDraining(rec: BackendRecord, draining: boolean): void {
    rec.draining = draining;
    this.refresh(rec);
  }

  setWeight(id: BackendId, weight: number): void {
    const rec = this.get(id);
    rec.weight = validWeight(id, weight);
    rec.sync(this.panic);
    this.listener.membershipChanged();
  }

  /** Re-derive a backend's state after one of its flags changed; announce it if it did change. */
  refresh(rec: BackendRecord): void {
    const from = rec.state;
    const to = rec.deriveState();
    if (from === to) return;
    rec.state = to;
    if (from === 'healthy') this.healthyCount--;
    if (to === 'healthy') this.healthyCount++;
    if (from === 'draining') this.drainingCount--;
    if (to === 'draining') this.drainingCount++;
    this.pickableCount += rec.sync(this.panic);
    this.updatePanic();
    this.listener.stateChanged(rec, from, to);
    this.listener.membershipChanged();
  }

  /** A lease was taken on `rec` (hot path: no allocation). */
  take(rec: BackendRecord): void {
    rec.inFlight++;
    rec.requests++;
    this.pickableCount += rec.sync(this.panic);
  }

  /** A lease on `rec` ended (hot path: no allocation). */
  release(rec: BackendRecord): void {
    rec.inFlight--;
    this.pickableCount += rec.sync(this.panic);
  }

  /** Is there any eligible backend this request has not tried yet (full or not)? */
  hasCandidate(tried: ReadonlySet<BackendId> | undefined): boolean {
    const eligible = this.panic ? this.records.size - this.drainingCount : this.healthyCount;
    if (tried === undefined) return eligible > 0;
    let excluded = 0;
    for (const id of tried) if (this.records.get(id)?.view.healthy === true) excluded++;
    return eligible - excluded > 0;
  }

  /** Enter or leave panic mode after a count changed; on a change every view is re-derived. */
  private updatePanic(): void {
    const serving = this.records.size - this.drainingCount;
    const panic = serving > 0 && this.healthyCount < this.panicThreshold * serving;
    if (panic === this.panic) return;
    this.panic = panic;
    for (const rec of this.records.values()) this.pickableCount += rec.sync(panic);
  }

  /** Snapshot for admin APIs and reports. */
  statuses(): BackendStatus[] {
    return [...this.records.values()].map((r) => ({
      ...r.view,
      requests: r.requests,
      errors: r.errors,
      ejections: r.ejections,
      consecutiveFailures: r.consecutiveFailures,
      ejectedUntil: r.ejectedUntil,
    }));
  }
}
