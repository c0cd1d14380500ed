import type { RequestCost } from '../backends/hypervisor/types.js';
import type { Rng } from '../core/rng.js';
import type { RequestClass, Scenario } from '../core/scenario.js';
import { CLOSED_LOOP_SESSION_REQUESTS, clientAddress, pickClass, RequestCosts, sessionName } from '../core/workload.js';
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
 *   previous one is answered (no think time, like autocannon). Each is one user, who starts a new
 *   session every CLOSED_LOOP_SESSION_REQUESTS requests, numbered in the order sessions start, as
 *   the live closed loop's connections do (loadtest/closed-loop.ts); a client's session is kept in
 *   the client's slot (its key, address and pin), which a new session overwrites.
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
  /** By session (open loop) or by client slot (closed loop): the session's name, client address and pin. */
  private readonly sessionKeys: string[];
  private readonly clients: string[];
  private readonly pins: Array<string | undefined>;
  /** Closed loop: requests each client has sent, and the sessions started so far. */
  private readonly sent: number[];
  private sessionsStarted = 0;
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
    // A closed loop's slots get their sessions' names as the sessions start (nextSession).
    const slots = this.openLoop ? scenario.workload.sessions : this.connections;
    this.sessionKeys = Array.from({ length: slots }, (_, i) => (this.openLoop ? sessionName(i) : ''));
    this.clients = Array.from({ length: slots }, (_, i) => (this.openLoop ? clientAddress(i) : ''));
    this.pins = new Array<string | undefined>(slots).fill(undefined);
    this.sent = new Array<number>(this.openLoop ? 0 : slots).fill(0);
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

  /**
   * The next request's session, as the slot that keeps it (-1 without sessions); `connection` is the
   * closed-loop client sending it, whose slot starts a new session every CLOSED_LOOP_SESSION_REQUESTS.
   */
  nextSession(connection: number): number {
    if (this.openLoop) {
      const sessions = this.sessionKeys.length;
      return sessions === 0 ? -1 : this.sessionDraws.int(sessions);
    }
    if (this.sent[connection]++ % CLOSED_LOOP_SESSION_REQUESTS === 0) {
      const session = this.sessionsStarted++;
      this.sessionKeys[connection] = sessionName(session);
      this.clients[connection] = clientAddress(session);
      this.pins[connection] = undefined;
    }
    return connection;
  }

  /** Closed loop: every client's next request starts a new session (live, a phase's new connections do). */
  startNewSessions(): void {
    this.sent.fill(0);
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
