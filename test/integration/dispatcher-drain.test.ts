import http, { type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { PROXY_ENGINES } from '../../core/scenario.js';
import type { RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { getReply as get, oneBackendDispatcher, rawRequest, refused, until } from './dispatcher-helpers.js';

// The SIGTERM drain (docs/dispatcher.md, "Shutdown"; issue 17.7) on real sockets: while it lasts
// the proxy port accepts and serves, every answer closes its connection, and the admin /healthz
// says 503; then the port refuses and what is in flight finishes. Nothing here measures speed: a
// drain that must outlast the checks is a minute long and ended by close(); the drain that ends by
// itself is waited for, not timed.


async function untilRefused(url: string): Promise<void> {
  let isRefused = false;
  await until(() => {
    void refused(url).then((r) => (isRefused ||= r));
    return isRefused;
  });
}



describe.each(PROXY_ENGINES)('the shutdown drain (engine %s)', (engine) => {
  let backend: TestServer | undefined;
  let dispatcher: RunningDispatcher | undefined;
  const held: ServerResponse[] = [];
  afterEach(async () => {
    for (const res of held.splice(0)) res.end();
    await dispatcher?.close(0);
    await backend?.close();
  });

  it('keeps accepting and serving with Connection: close while /healthz says 503; close() ends it and the port refuses', async () => {
    backend = await startTestServer((_req, res) => res.end('served'));
    dispatcher = await oneBackendDispatcher(backend.url, { engine, shutdown: { drainMs: 60_000 } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await get(`${dispatcher.url}/`, agent);
    expect(first).toMatchObject({ status: 200, connection: 'keep-alive', body: 'served' });
    expect((await fetch(`${dispatcher.adminUrl}/healthz`)).status).toBe(200);

    const shutdown = dispatcher.shutdown();
    const health = await fetch(`${dispatcher.adminUrl}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ ok: false, draining: true });

    // A kept-alive client's next request is answered, then its connection is closed.
    const next = await get(`${dispatcher.url}/`, agent);
    expect(next).toMatchObject({ status: 200, connection: 'close', body: 'served', reusedSocket: true });
    await next.socketClosed;
    // A new connection is accepted and answered, with Connection: close.
    const reply = await rawRequest(dispatcher.url, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply).toMatch(/\r\nconnection: close\r\n/i);
    expect(reply).toMatch(/served$/);

    await dispatcher.close();
    await shutdown;
    expect(await refused(dispatcher.url)).toBe(true);
    expect(await refused(dispatcher.adminUrl)).toBe(true);
    agent.destroy();
  });

  it('after the drain the port refuses, and a request in flight still finishes', async () => {
    backend = await startTestServer((_req, res) => void held.push(res));
    dispatcher = await oneBackendDispatcher(backend.url, { engine, shutdown: { drainMs: 100, graceMs: 60_000 } });
    const inFlight = get(`${dispatcher.url}/`, new http.Agent({ keepAlive: true }));
    await until(() => held.length === 1);

    let shutDown = false;
    const shutdown = dispatcher.shutdown().then(() => (shutDown = true));
    await untilRefused(dispatcher.url);
    expect(shutDown).toBe(false);
    held[0].end('finished');
    expect(await inFlight).toMatchObject({ status: 200, body: 'finished' });
    await shutdown;
    expect(await refused(dispatcher.adminUrl)).toBe(true);
  });
});

describe('without a drain (the default)', () => {
  it('shutdown stops accepting at once, as close does', async () => {
    const backend = await startTestServer((_req, res) => res.end('served'));
    const dispatcher = await oneBackendDispatcher(backend.url, {});
    await dispatcher.shutdown();
    expect(await refused(dispatcher.url)).toBe(true);
    await backend.close();
  });
});
