import type { ProxyRequest } from './proxy-message.js';

/**
 * Requests the proxy refuses before the Balancer sees them (issue 17.8), each the way a
 * production proxy does:
 * - more than MAX_REQUEST_HEADERS headers: 431 (Envoy's max_headers_count, 100 by default; HAProxy
 *   refuses past tune.http.maxhdr, 101). Node silently drops headers past its own count (about a
 *   thousand), which lost a client's `Connection: close` and `Host`: refusing far below that means
 *   no request is ever forwarded with part of its headers gone;
 * - TRACE and TRACK: 405 (nginx and HAProxy refuse TRACE; it echoes the request, cookies included,
 *   to whoever can read the response: cross-site tracing);
 * - HTTP/0.9 (`GET /` with no version, which Node's parser accepts): no status line exists in
 *   0.9, so the connection is closed unanswered, as nginx does for 0.9 requests it will not serve.
 */

export const MAX_REQUEST_HEADERS = 100;

export type GuardVerdict =
  | { readonly kind: 'close' }
  | { readonly kind: 'answer'; readonly status: number; readonly error: string; readonly headers?: Record<string, string> };

/** Undefined when the request may go on. */
export function guardRequest(req: ProxyRequest): GuardVerdict | undefined {
  if (req.httpVersionMajor < 1) return { kind: 'close' };
  if (req.rawHeaders.length > 2 * MAX_REQUEST_HEADERS) {
    return { kind: 'answer', status: 431, error: `too many request headers: at most ${MAX_REQUEST_HEADERS}`, headers: { connection: 'close' } };
  }
  if (req.method === 'TRACE' || req.method === 'TRACK') {
    return { kind: 'answer', status: 405, error: `${req.method} is not supported`, headers: { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS' } };
  }
  return undefined;
}
