import type { IncomingMessage } from 'node:http';
import { SESSION_HEADER } from '../core/workload.js';
import type { SessionKeying } from '../policies/policy.js';
import type { ProxyRequest } from './proxy-message.js';
import { isRetryable, type RequestInfo } from './balancer/types.js';
import type { SessionSigner } from './session-cookie.js';

/**
 * The one place that reads a request's line, headers and cookies to build the Balancer's
 * RequestInfo: the path (absolute-form request lines reduced to it), whether a failed attempt may
 * be retried, and, for policies that key on sessions, the session key and the verified pin.
 */

export interface ParsedRequest {
  readonly info: RequestInfo;
  /**
   * Cookie mode: the session id to sign into the cookie, and whether it was just made (no valid
   * cookie came in), in which case the cookie is issued whatever the lease says.
   */
  readonly cookieSession?: { readonly id: string; readonly fresh: boolean };
}


/**
 * The origin-form path of a request target. An absolute-form target (`GET http://elsewhere/x`, as
 * sent to forward proxies) is reduced to its path and query: the authority is ignored, because the
 * backend is chosen only from the configured set. Anything else that is not a path (an authority
 * such as `host:443`, garbage) gives undefined, to be answered 400. (CONNECT never gets here: the
 * proxy server answers it 405 from its 'connect' event.)
 */
export function originPath(target: string | undefined): string | undefined {
  if (target === undefined || target === '') return undefined;
  if (target.startsWith('/') || target === '*') return target;
  if (!/^https?:\/\//i.test(target)) return undefined;
  try {
    const url = new URL(target);
    return `${url.pathname}${url.search}`;
  } catch {
    return undefined;
  }
}

/**
 * True when the request carries a body (a length above 0, or chunked). Such a request is node:http's
 * IncomingMessage, a stream: the fast front (fast-front.ts) hands every request with a body to node:http.
 */
export function hasBody(req: ProxyRequest): req is ProxyRequest & IncomingMessage {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** The client key: X-Forwarded-For's first (the original client's) address when trusted, else the socket's. */
export function clientKeyOf(req: ProxyRequest, from: ClientAddressSource): string | undefined {
  if (from === 'x-forwarded-for') {
    const header = req.headers['x-forwarded-for'];
    const first = (Array.isArray(header) ? header[0] : header)?.split(',', 1)[0].trim();
    if (first) return first;
  }
  return req.socket.remoteAddress;
}

export type ClientAddressSource = 'x-forwarded-for' | 'socket';

/** The session a trusted front names (X-Session-Id), if it is a plausible id. */
function namedSession(req: ProxyRequest): string | undefined {
  const value = req.headers[SESSION_HEADER];
  const name = Array.isArray(value) ? value[0] : value;
  return name !== undefined && /^[\w.:-]{1,64}$/.test(name) ? name : undefined;
}

/** `n` of a generated request's query (loadtest/request-plan.ts), its index in the run. */
function generatedIndex(query: string): number | undefined {
  const match = /(?:^|&)n=(\d{1,15})(?:&|$)/.exec(query);
  return match === null ? undefined : Number(match[1]);
}

export function readRequestInfo(
  req: ProxyRequest,
  path: string,
  session: SessionKeying | undefined,
  signer: SessionSigner,
  clientFrom: ClientAddressSource,
): ParsedRequest {
  const clientKey = clientKeyOf(req, clientFrom);
  const queryAt = path.indexOf('?');
  const requestKey = queryAt < 0 ? path : path.slice(0, queryAt);
  const retryable = isRetryable(req.method ?? '', hasBody(req));
  const index = queryAt < 0 ? undefined : generatedIndex(path.slice(queryAt + 1));
  if (!session) return { info: { clientKey, requestKey, retryable, index } };

  switch (session.key) {
    case 'client':
      return { info: { clientKey, requestKey, retryable, index, sessionKey: clientKey } };
    case 'header': {
      const name = (session.headerName ?? 'x-session-id').toLowerCase();
      const value = req.headers[name];
      const sessionKey = Array.isArray(value) ? value[0] : value;
      return { info: { clientKey, requestKey, retryable, index, sessionKey: sessionKey || undefined } };
    }
    case 'cookie': {
      const raw = req.headers.cookie;
      const pin = raw ? signer.pinIn(raw, session.cookieName) : undefined;
      // A missing, malformed or tampered cookie starts a new session: never trust an unsigned pin.
      // Behind a trusted front (clientAddress x-forwarded-for) the front may name the new session
      // (the load generator does, as the simulator names it); a name only places it, never pins it.
      const sessionId = pin?.sessionId ?? (clientFrom === 'x-forwarded-for' ? namedSession(req) : undefined) ?? signer.newSessionId();
      return {
        info: { clientKey, requestKey, retryable, index, sessionKey: sessionId, pinned: pin?.backend },
        cookieSession: { id: sessionId, fresh: pin === undefined },
      };
    }
  }
}
