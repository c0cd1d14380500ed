import type { RequestCost } from '../backends/hypervisor/types.js';
import { drawDuration, type Draws, IndexedDraws, type Rng } from './rng.js';
import type { RequestClass } from './scenario.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The request classes of a scenario: which class a path belongs to (longest route prefix wins),
 * and one concrete draw of its native cost. Shared by the replica servers and the simulator: the
 * cost of request i is drawn from RequestCosts at index i in both, so `compare` and `simulate` of
 * one seed run literally the same work.
 */

/** The class whose `route` is the longest prefix of `path`; undefined when none matches. */
export function classify(classes: readonly RequestClass[], path: string): RequestClass | undefined {
  let best: RequestClass | undefined;
  for (const c of classes) {
    if (path.startsWith(c.route) && (best === undefined || c.route.length > best.route.length)) best = c;
  }
  return best;
}

/** One request's native cost: CPU time drawn from the class's distribution, the rest scaled with it. */
export function drawCost(cls: RequestClass, rng: Draws): RequestCost {
  return drawCostInto(cls, rng, { cpuMs: 0, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 });
}

/** drawCost written into `out`, which it returns: the simulator keeps one per request object, not one per request. */
export function drawCostInto(cls: RequestClass, rng: Draws, out: Mutable<RequestCost>): RequestCost {
  out.memoryMb = cls.memoryMb;
  if (cls.cpuMs === 0) {
    out.cpuMs = 0;
    out.ioOps = cls.ioOps;
    out.pageTableUpdates = cls.pageTableUpdates;
    return out;
  }
  const cpuMs = drawDuration(rng, cls.service, cls.cpuMs, cls.sigma);
  // A longer request does proportionally more I/O and page-table work: scale them with the draw.
  const scale = cpuMs / cls.cpuMs;
  out.cpuMs = cpuMs;
  out.ioOps = cls.ioOps * scale;
  out.pageTableUpdates = cls.pageTableUpdates * scale;
  return out;
}

/** Pick a class by its `share` with one uniform draw. */
export function pickClass(classes: readonly RequestClass[], rng: Rng): RequestClass {
  let u = rng.next();
  for (const c of classes) {
    u -= c.share;
    if (u < 0) return c;
  }
  return classes[classes.length - 1];
}

/**
 * Request i's native cost as a function of (seed, i) alone: the simulator's driver and every live
 * replica (which reads i from the generated request's `n` query parameter) draw it here.
 */
export class RequestCosts {
  private readonly draws: IndexedDraws;

  constructor(seed: number) {
    this.draws = new IndexedDraws(seed, 'costs');
  }

  of(cls: RequestClass, index: number): RequestCost {
    return drawCost(cls, this.draws.at(index));
  }

  /** of(), written into `out`. */
  into(cls: RequestClass, index: number, out: Mutable<RequestCost>): RequestCost {
    return drawCostInto(cls, this.draws.at(index), out);
  }
}

/**
 * Who a generated request comes from, the same live and simulated. Each session is one client (a
 * browser: one address, one cookie jar), named by an address of the IPv6 documentation range
 * 2001:db8::/32 (RFC 3849) that no network routes; live, the load generator says so in
 * X-Forwarded-For, as the front proxy or CDN before a real balancer does, and the dispatcher takes
 * it as the client key when `dispatcher.clientAddress` is `x-forwarded-for` (the default). A
 * request of no session, or any request when the dispatcher reads the socket instead, comes from
 * the generator's own address.
 */
export const GENERATOR_ADDRESS = '127.0.0.1';

export function clientAddress(session: number | undefined): string {
  if (session === undefined || session < 0) return GENERATOR_ADDRESS;
  // Session s is host s + 1 of the range, in the last two 16-bit groups: one group of more than
  // four hex digits is not an address, and a front proxy would drop it from X-Forwarded-For.
  const host = session + 1;
  const high = Math.floor(host / 0x1_0000);
  const low = (host % 0x1_0000).toString(16);
  return high === 0 ? `2001:db8::${low}` : `2001:db8::${high.toString(16)}:${low}`;
}

/**
 * Sessions in a closed loop (scenario `arrival: { connections }`), live and simulated alike: each
 * connection is one user, who starts a new session (a new client address, session name and cookie
 * jar) every CLOSED_LOOP_SESSION_REQUESTS requests, so that a session is long enough for
 * stickiness to matter and a run still sees many. Sessions are numbered 0, 1, 2, ... in the order
 * they start; `workload.sessions` is for the open loop only.
 */
export const CLOSED_LOOP_SESSION_REQUESTS = 200;

/** The header a generated request names its session in (session-sticky `key: header` reads it by default). */
export const SESSION_HEADER = 'x-session-id';

export function sessionName(session: number): string {
  return `s${session}`;
}
