import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { MAX_REQUEST_HEADERS } from '../../dispatcher/request-guard.js';
import { ADMIN_TOKEN, replicasScenario } from './dispatcher-helpers.js';

// Issue 17.8, on real sockets: requests the proxy must refuse rather than forward.

let up: RunningUp;

beforeAll(async () => {
  up = await startUp({ scenario: replicasScenario(2), policy: 'round-robin', adminToken: ADMIN_TOKEN });
});
afterAll(async () => {
  await up?.close();
});

/** Send raw bytes; resolve with everything received once the server closes (or resets) the connection. */
function raw(text: string): Promise<string> {
  const { hostname, port } = new URL(up.dispatcher.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(text));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', () => {});
    socket.on('close', () => resolve(data));
  });
}

describe('dispatcher protocol edges', () => {
  it(`answers 431 to more than ${MAX_REQUEST_HEADERS} headers, instead of forwarding a truncated set`, async () => {
    const headers = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');
    const tooMany = await raw(`GET / HTTP/1.1\r\nHost: x\r\n${headers(1500)}Connection: close\r\n\r\n`);
    expect(tooMany).toMatch(/^HTTP\/1\.1 431 /);
    expect(tooMany).not.toMatch(/x-served-by/i);
    const atLimit = await raw(`GET / HTTP/1.1\r\nHost: x\r\n${headers(MAX_REQUEST_HEADERS - 2)}Connection: close\r\n\r\n`);
    expect(atLimit).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('refuses TRACE with 405 and never forwards it', async () => {
    const trace = await raw('TRACE / HTTP/1.1\r\nHost: x\r\nCookie: secret=1\r\nConnection: close\r\n\r\n');
    expect(trace).toMatch(/^HTTP\/1\.1 405 /);
    expect(trace).toMatch(/allow: GET/i);
    expect(trace).not.toMatch(/secret=1/);
  });

  it('closes an HTTP/0.9 request unanswered', async () => {
    expect(await raw('GET /\r\n\r\n')).toBe('');
  });
});
