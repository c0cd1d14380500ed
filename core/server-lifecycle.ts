import type { AddressInfo, Server as NetServer } from 'node:net';
import { systemClock } from './clock.js';

/** What node:http's Server adds that a graceful close needs; typed here so core/ stays free of node:http. */
export type Server = NetServer & { closeAllConnections(): void; closeIdleConnections(): void };

/**
 * Starting and stopping the node:http servers of a process (the dispatcher's proxy and admin
 * ports, every replica of a host) the same way: a failed listen is an Error naming what could not
 * listen and where; a close is graceful for up to a bound, then forced.
 */

/** Listen on bind:port (0: ephemeral) and resolve with the port actually bound. */
export function listen(server: Server, port: number, bind: string, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new Error(`${what}: cannot listen on ${bind}:${port} (${err.code ?? err.message})`));
    };
    server.once('error', onError);
    server.listen(port, bind, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stop accepting; close idle keep-alive sockets now and busy ones once `graceMs` has passed. */
export function closeServer(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const cancelForce = systemClock.schedule(graceMs, () => server.closeAllConnections());
    server.close(() => {
      cancelForce();
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * The URL to print for a server bound to `bind`: a wildcard bind (all interfaces) is reached
 * locally at 127.0.0.1; an IPv6 address needs brackets.
 */
export function serverUrl(bind: string, port: number): string {
  const host = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind;
  return `http://${host}:${port}`;
}
