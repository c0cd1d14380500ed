import type { IncomingHttpHeaders } from 'node:http';
import type { ProxyRequest } from './proxy-message.js';

/**
 * Header hygiene for a proxy (RFC 9110 §7.6.1): hop-by-hop headers describe one connection, so
 * they are dropped in both directions, together with any header the Connection header names.
 * Forwarding them would be wrong, and here also costly: a client's `Connection: close` sent
 * upstream would close a pooled keep-alive socket. `Expect` is answered by our own server (Node
 * sends the 100 Continue) and is not passed on. `X-Forwarded-For/-Proto` are appended to, so the
 * backend sees the whole chain.
 */

/**
 * Hop-by-hop headers, and those for this hop's proxy (its credentials, its challenge). Proxy-Status
 * (RFC 9209) is not among them: intermediaries append to it for the client.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect',
  'proxy-authorization', 'proxy-authenticate', 'proxy-authentication-info',
]);

/** The same but Connection, which the response side overwrites: deleting it first would make the headers a slow dictionary object. */
const HOP_BY_HOP_BUT_CONNECTION: ReadonlySet<string> = new Set([...HOP_BY_HOP].filter((name) => name !== 'connection'));

function dropHopByHop(headers: IncomingHttpHeaders, names: ReadonlySet<string>): void {
  const connection = headers.connection;
  // The usual values name no header beyond the list below (Keep-Alive is in it): no split then.
  if (connection && connection !== 'keep-alive' && connection !== 'close') {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      // Never let Connection name an end-to-end header we rely on to frame the body.
      if (name && name !== 'content-length' && name !== 'transfer-encoding' && headers[name] !== undefined) delete headers[name];
    }
  }
  // Most messages carry none of them, and a message has fewer headers than the list has names: its
  // own names are looked up in the list (a look-up of ten names each, in any object, cost twice
  // as much). A `delete` turns the object into a slow dictionary: only of what is there.
  for (const name in headers) if (names.has(name)) delete headers[name];
}

function appendList(headers: IncomingHttpHeaders, name: string, value: string): void {
  const previous = headers[name];
  const text = Array.isArray(previous) ? previous.join(', ') : previous;
  headers[name] = text ? `${text}, ${value}` : value;
}

/**
 * Rewrite `req.headers` in place into what goes upstream (http-proxy copies them). Call once per
 * request, not per attempt, so a retry does not append twice. Returns whether the client asked to
 * close its connection after this response.
 */
export function prepareUpstreamHeaders(req: ProxyRequest): { clientClose: boolean } {
  const headers = req.headers;
  const connection = headers.connection;
  const clientClose =
    connection === undefined
      ? req.httpVersion === '1.0'
      : /(?:^|,)\s*close\s*(?:,|$)/i.test(connection) || (req.httpVersion === '1.0' && !/keep-alive/i.test(connection));
  dropHopByHop(headers, HOP_BY_HOP);
  appendList(headers, 'x-forwarded-for', req.socket.remoteAddress ?? 'unknown');
  appendList(headers, 'x-forwarded-proto', 'http');
  if (headers['x-forwarded-host'] === undefined && headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
  return { clientClose };
}

/**
 * Rewrite a backend response's headers in place before they are copied to the client. The
 * backend's Transfer-Encoding goes too: the body arrives decoded, and our server frames it for
 * the client's connection (chunked, or closed at the end for HTTP/1.0). Upstream, each engine
 * frames the request body itself.
 */
export function prepareDownstreamHeaders(headers: IncomingHttpHeaders, clientClose: boolean): void {
  dropHopByHop(headers, HOP_BY_HOP_BUT_CONNECTION);
  if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding'];
  headers.connection = clientClose ? 'close' : 'keep-alive';
}
