import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { ADMIN_TOKEN, get, rawRequest, replicasScenario } from './dispatcher-helpers.js';

/**
 * Backend management through the admin API on a live dispatcher, with a plain echo server added
 * as a backend so the test sees exactly what a backend receives: its own Host, the forwarded-for
 * chain, no hop-by-hop headers.
 */

let up: RunningUp;
let echo: http.Server;
let echoUrl: string;

beforeAll(async () => {
  up = await startUp({ scenario: replicasScenario(2), policy: 'round-robin', adminToken: ADMIN_TOKEN, dispatcher: { healthChecks: false } });
  echo = http.createServer((req, res) => {
    res.setHeader('x-served-by', 'echo');
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await up?.close();
  echo?.closeAllConnections();
  await new Promise((resolve) => echo?.close(resolve));
});

function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${up.dispatcher.adminUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function servedBy(n: number): Promise<Set<string | null>> {
  const seen = new Set<string | null>();
  for (let i = 0; i < n; i++) seen.add((await get(`${up.dispatcher.url}/page`)).servedBy);
  return seen;
}

describe('admin API on a live dispatcher', () => {
  it('drains and undrains a backend', async () => {
    expect((await admin('POST', '/backends/r1/drain')).status).toBe(200);
    expect(await servedBy(4)).toEqual(new Set(['r2']));
    expect((await admin('POST', '/backends/r1/undrain')).status).toBe(200);
    expect(await servedBy(4)).toEqual(new Set(['r1', 'r2']));
  });

  it('adds a backend that receives its own Host, the forwarded chain and no hop-by-hop headers, then removes it', async () => {
    expect((await admin('POST', '/backends', { id: 'echo', url: echoUrl })).status).toBe(200);
    expect((await admin('POST', '/backends', { id: 'echo', url: echoUrl })).status).toBe(409);
    await admin('POST', '/backends/r1/drain');
    await admin('POST', '/backends/r2/drain');

    const answer = await rawRequest(
      up.dispatcher.url,
      'GET http://elsewhere.invalid/x?q=1 HTTP/1.1\r\nHost: elsewhere.invalid\r\nX-Forwarded-For: 203.0.113.7\r\n' +
        'Connection: close, X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=1\r\n\r\n',
    );
    const seen = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/x?q=1');
    expect(seen.headers.host).toBe(new URL(echoUrl).host);
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('elsewhere.invalid');
    expect(seen.headers['x-private']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    // The upstream connection stays pooled: the client's "close" is not forwarded.
    expect(seen.headers.connection).not.toBe('close');
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);

    expect((await admin('DELETE', '/backends/echo')).status).toBe(200);
    expect((await admin('DELETE', '/backends/echo')).status).toBe(404);
    await admin('POST', '/backends/r1/undrain');
    await admin('POST', '/backends/r2/undrain');
    expect(await servedBy(4)).toEqual(new Set(['r1', 'r2']));
  });

  it('sets a weight and reports it', async () => {
    expect((await admin('PUT', '/backends/r2/weight', { weight: 3 })).status).toBe(200);
    const list = (await (await fetch(`${up.dispatcher.adminUrl}/backends`)).json()) as { backends: { id: string; weight: number }[] };
    expect(list.backends.find((b) => b.id === 'r2')!.weight).toBe(3);
    const served = { r1: 0, r2: 0 } as Record<string, number>;
    for (let i = 0; i < 8; i++) served[(await get(`${up.dispatcher.url}/page`)).servedBy!]++;
    expect(served).toEqual({ r1: 2, r2: 6 });
  });
});
