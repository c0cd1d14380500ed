import type { RequestCost } from '../backends/hypervisor/types.js';
import type { Rng } from '../core/rng.js';
import type { RequestClass, Scenario } from '../core/scenario.js';
import { clientAddress, pickClass, RequestCosts, sessionName } from '../core/workload.js';
import type { Millis } from '../core/types.js';

/**
 * The simulated clients: what each request is (session, class, native cost) and, for the open loop,
 * when it arrives. Every kind of draw has its own Rng stream (gaps, sessions, classes), so
 * request i is the same request whichever policy runs and however the run unfolds: the policies
 * are compared on the same work, as `compare` does with one seed. The streams are named as the
 * live open-loop generator names its own (loadtest/open-loop.ts, request-plan.ts), so a seed gives
 * the same arrival times, sessions and classes live and simulated; request i's cost is a function
 * of (seed, i) (RequestCosts), drawn by the live replica that serves it from the same index.
 *
 * - Open loop: Poisson arrivals at `arrival.rateRps` (exponential gaps); each request belongs to a
 *   session drawn uniformly from 0..sessions-1, like the live open-loop generator.
 * - Closed loop: `arrival.connections` clients, each sending its next request the moment the
 *   previous one is answered (no think time, like autocannon); client c is session c mod sessions,
 *   as each autocannon connection keeps its own cookie jar.
 *
 * A session keeps its pin the way a client keeps its cookie: after a response from a sticky policy
 * whose lease says `repin`, the simulation stores the backend with `pin`, and the next request of
 * that session carries it as `pinned`.
 */

export class SimWorkload {
  readonly openLoop: boolean;
  /** Open loop: requests per second. */
  readonly rateRps: number;
  /** Closed loop: clients. */
  readonly connections: number;
  private readonly meanGapMs: Millis;
  private readonly sessionKeys: string[];
  private readonly clients: string[];
  private readonly pins: Array<string | undefined>;
  /** Whether any session was pinned yet. */
  private pinned = false;
  private readonly gaps: Rng;
  private readonly sessionDraws: Rng;
  private readonly classDraws: Rng;
  private readonly costs: RequestCosts;
  private readonly classes: readonly RequestClass[];

  constructor(scenario: Scenario, rng: Rng) {
    const arrival = scenario.workload.arrival;
    this.openLoop = 'rateRps' in arrival;
    this.rateRps = 'rateRps' in arrival ? arrival.rateRps : 0;
    this.connections = 'connections' in arrival ? arrival.connections : 0;
    this.meanGapMs = this.openLoop ? 1000 / this.rateRps : 0;
    const sessions = scenario.workload.sessions;
    this.sessionKeys = Array.from({ length: sessions }, (_, i) => sessionName(i));
    this.clients = Array.from({ length: sessions }, (_, i) => clientAddress(i));
    this.pins = new Array<string | undefined>(sessions).fill(undefined);
    this.classes = scenario.workload.classes;
    this.gaps = rng.stream('arrivals');
    this.sessionDraws = rng.stream('sessions');
    this.classDraws = rng.stream('classes');
    this.costs = new RequestCosts(scenario.seed);
  }

  /** Open loop: time to the next arrival. */
  nextGapMs(): Millis {
    return this.gaps.exponential(this.meanGapMs);
  }

  /** The next request's session (-1 without sessions); `connection` is the closed-loop client sending it. */
  nextSession(connection: number): number {
    const sessions = this.sessionKeys.length;
    if (sessions === 0) return -1;
    return this.openLoop ? this.sessionDraws.int(sessions) : connection % sessions;
  }

  nextClass(): RequestClass {
    return this.classes.length === 1 ? this.classes[0] : pickClass(this.classes, this.classDraws);
  }

  /** Request `index`'s native cost, written into `out`: the same draw a live replica makes for it (RequestCosts). */
  costOf(cls: RequestClass, index: number, out: { -readonly [K in keyof RequestCost]: RequestCost[K] }): RequestCost {
    return this.costs.into(cls, index, out);
  }

  /** The client the session's requests come from, as the live generator names it (X-Forwarded-For). */
  clientKey(session: number): string {
    return session < 0 ? clientAddress(undefined) : this.clients[session];
  }

  sessionKey(session: number): string | undefined {
    return session < 0 ? undefined : this.sessionKeys[session];
  }

  pinnedOf(session: number): string | undefined {
    // Most policies never pin: then the pins (one slot per session, a cache miss on large session counts) are not read.
    return session < 0 || !this.pinned ? undefined : this.pins[session];
  }

  pin(session: number, backend: string): void {
    if (session < 0) return;
    this.pins[session] = backend;
    this.pinned = true;
  }
}
