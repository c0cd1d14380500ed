import type { Rng } from '../core/rng.js';
import type { RequestClass } from '../core/scenario.js';
import { clientAddress, pickClass, SESSION_HEADER, sessionName } from '../core/workload.js';

const NO_HEADERS: Readonly<Record<string, string>> = {};

/**
 * What a generated request looks like, shared by the open- and closed-loop generators so both send
 * the same mix: a class drawn by its share, a session drawn uniformly, the class's route with a
 * query suffix (a query never changes which route prefix matches, so the replica classifies it as
 * intended), and a body of the class's size for methods that carry one. Classes and sessions come
 * from their own streams of the run's Rng, named as the simulator's workload names them, so the
 * live and simulated runs of one seed draw the same sequence of classes and sessions.
 */

export interface PlannedRequest {
  readonly cls: RequestClass;
  /** Its session (drawn in [0, sessions), or the caller's), or undefined when it has none. */
  readonly session: number | undefined;
  readonly method: string;
  readonly path: string;
  readonly body: Buffer | undefined;
  /** Who sends it: X-Forwarded-For (its session's client) and the session's name (core/workload.ts). */
  readonly headers: Readonly<Record<string, string>>;
}

const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

/** Who a request of `session` comes from (core/workload.ts): its client address and its session's name. */
function sessionHeaders(session: number): Readonly<Record<string, string>> {
  return { 'x-forwarded-for': clientAddress(session), [SESSION_HEADER]: sessionName(session) };
}

/**
 * The run's requests, one per call. The open loop lets the planner draw each request's session
 * among `sessions`; a closed loop passes its connection's own session (CLOSED_LOOP_SESSION_REQUESTS)
 * and creates the planner with `sessions` 0, so nothing is drawn for it.
 */
export function createRequestPlanner(classes: readonly RequestClass[], sessions: number, runRng: Rng): (session?: number) => PlannedRequest {
  const sessionDraws = runRng.stream('sessions');
  const classDraws = runRng.stream('classes');
  // One zero-filled buffer per class, reused: only its size matters to the replica.
  const bodies = new Map(classes.map((c) => [c.name, !BODYLESS.has(c.method.toUpperCase()) && c.bodyBytes > 0 ? Buffer.alloc(c.bodyBytes) : undefined]));
  // Request n of the run, counted from 0 as the simulator counts its requests: the replica draws
  // its cost from this index (RequestCosts), so live and simulated runs do the same work.
  let next = 0;
  const drawnHeaders = Array.from({ length: sessions }, (_, s) => sessionHeaders(s));
  return (given?: number) => {
    const cls = pickClass(classes, classDraws);
    const session = given ?? (sessions > 0 ? sessionDraws.int(sessions) : undefined);
    const n = next++;
    return {
      cls,
      session,
      method: cls.method.toUpperCase(),
      path: `${cls.route}${cls.route.includes('?') ? '&' : '?'}n=${n}${session === undefined ? '' : `&s=${session}`}`,
      body: bodies.get(cls.name),
      headers: session === undefined ? NO_HEADERS : (drawnHeaders[session] ?? sessionHeaders(session)),
    };
  };
}

/**
 * A client's cookies, as a browser keeps them for one site: Set-Cookie answers replace values by
 * name, and the jar renders the Cookie header. Attributes (Path, Max-Age, ...) are ignored: the
 * dispatcher's session cookie is the only one and lives for the run.
 */
export class CookieJar {
  private readonly values = new Map<string, string>();

  store(setCookie: string | readonly string[] | undefined): void {
    if (setCookie === undefined) return;
    for (const line of typeof setCookie === 'string' ? [setCookie] : setCookie) {
      const pair = line.split(';', 1)[0];
      const eq = pair.indexOf('=');
      if (eq > 0) this.values.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  header(): string | undefined {
    if (this.values.size === 0) return undefined;
    return [...this.values].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}
