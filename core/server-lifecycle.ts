import type { AddressInfo, Server as NetServer } from 'node:net';
import { systemClock, type Clock } from './clock.js';

/** What node:http's Server adds that a graceful close needs; typed here so core/ stays free of node:http. */
export type Server = NetServer & { closeAllConnections(): void; closeIdleConnections(): void };

/**
 * Starting and stopping the node:http servers of a process (the dispatcher's proxy and admin
 * ports, every replica of a host) the same way: a failed listen is an Error naming what could not
 * listen and where; a close is graceful for up to a bound, then forced.
 */

/**
 * Listen on bind:port (0: ephemeral) and resolve with the port actually bound. `backlog`: the
 * kernel's accept queue for it (Node's default, 511, when not given).
 */
export function listen(server: Server, port: number, bind: string, what: string, backlog?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new Error(`${what}: cannot listen on ${bind}:${port} (${err.code ?? err.message})`));
    };
    server.once('error', onError);
    server.listen({ port, host: bind, backlog }, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

const closingAfterResponse = new WeakSet<Server>();

/**
 * From now on every response of `server` carries `Connection: close` and its connection is closed
 * once it is sent (Node's `shouldKeepAlive`), so keep-alive clients go and connect again: Envoy's
 * drain with `--drain-strategy immediate`. Idempotent.
 */
export function closeConnectionsAfterResponse(server: Server): void {
  if (closingAfterResponse.has(server)) return;
  closingAfterResponse.add(server);
  server.prependListener('request', (_req: unknown, res: { shouldKeepAlive: boolean }) => {
    res.shouldKeepAlive = false;
  });
}

/** How often a closing server looks for keep-alive connections that have gone idle. */
const DRAIN_POLL_MS = 50;

/**
 * Stop accepting; finish what is in flight, then close (issue 17.7). Idle keep-alive sockets are
 * closed at once, and busy ones as soon as their response is done (polled every DRAIN_POLL_MS:
 * Node has no event for a connection going idle); a request that still arrives on one
 * (pipelined) is answered with `Connection: close` (closeConnectionsAfterResponse). Only what is still
 * busy after `graceMs` is cut.
 *
 * "At once" is after the event loop next reads the sockets, not in the caller's turn: a connection
 * whose request is already in its socket buffer, not yet read, counts as idle to Node, and closing
 * it loses a request the client has sent. A loop running behind (a SIGTERM under load) has many:
 * that read answers them (RELIABILITY.md, "Shutdown").
 */
export function closeServer(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    closeConnectionsAfterResponse(server);
    let cancelPoll = (): void => {};
    const cancelForce = systemClock.schedule(graceMs, () => server.closeAllConnections());
    afterNextPollPhase(() => {
      // server.close() also closes the connections idle at this instant (Node >= 19).
      server.close(() => {
        cancelForce();
        cancelPoll();
        resolve();
      });
      cancelPoll = systemClock.schedule(DRAIN_POLL_MS, function poll() {
        server.closeIdleConnections();
        cancelPoll = systemClock.schedule(DRAIN_POLL_MS, poll);
      });
    });
  });
}

/**
 * Run `fn` once the event loop has been through a poll phase (where sockets are read) that began
 * after this call, from whichever phase it is called. A timer does not do it: one due by the
 * loop's next turn runs in its timers phase, before that turn reads the sockets (a loaded machine
 * made the close drop a buffered request that way about one time in six). An immediate runs in
 * the check phase, after the poll phase; from inside a poll phase that one may have looked at the
 * sockets before the bytes came, so the second immediate waits for the next.
 */
function afterNextPollPhase(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}

/**
 * The URL to print for a server bound to `bind`: a wildcard bind (all interfaces) is reached
 * locally at 127.0.0.1; an IPv6 address needs brackets.
 */
export function serverUrl(bind: string, port: number): string {
  const host = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind;
  return `http://${host}:${port}`;
}

/** How long a server reads (and drops) the rest of an upload it answered early: nginx's lingering_time. */
export const LINGER_MS = 5000;

/** What lingerOn needs of a node:http IncomingMessage (typed here so core/ stays free of node:http). */
export interface Upload {
  readonly complete: boolean;
  readonly socket: { destroy(): void } | null;
  unpipe(): unknown;
  resume(): unknown;
  once(event: 'end', fn: () => void): unknown;
}

/**
 * After an answer that came before the whole request body (a 413, a 503, an error), read and drop
 * the rest of the body for up to LINGER_MS, then cut the connection, as nginx's lingering close
 * does. Closing at once while the client still sends makes the kernel reset the connection, and
 * the reset can destroy the answer before the client reads it; leaving the rest unread would
 * stall the connection, so its next request would never be read. Once the body is in, the
 * connection is kept alive as usual.
 */
export function lingerOn(req: Upload, clock: Clock = systemClock): void {
  if (req.complete) return;
  const socket = req.socket;
  const cancel = clock.schedule(LINGER_MS, () => socket?.destroy());
  req.once('end', cancel);
  // Whatever still reads the body (a proxy's upstream request) has no use for it now.
  req.unpipe();
  req.resume();
}
