import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { get, oneBackendDispatcher, until } from './dispatcher-helpers.js';

// Issue 17.7 on real sockets: with the queue's controlled delay, a request that joins a queue
// standing for intervalMs is refused (503 + Retry-After) after targetMs, not after the queue
// timeout (a minute here), while the requests ahead of it keep their places and are served.
// test/sim/overload.test.ts is the simulated twin; the same AdmissionQueue runs in both.

let held: ServerResponse[] = [];
let backend: TestServer;
let dispatcher: RunningDispatcher;

beforeAll(async () => {
  backend = await startTestServer((_req, res) => {
    held.push(res);
  });
  dispatcher = await oneBackendDispatcher(backend.url, {
      maxConnPerBackend: 1,
      queue: { timeoutMs: 60_000, controlledDelay: { intervalMs: 50, targetMs: 5 } },
      timeouts: { upstreamMs: 60_000, totalMs: 60_000 },
    });
});
afterAll(async () => {
  await dispatcher.close(0);
  await backend.close();
});

describe('fast refusal under a standing queue', () => {
  it('refuses the newcomer at once while the queued request keeps its place and is served', async () => {
    const first = get(`${dispatcher.url}/1`);
    await until(() => held.length === 1);
    const second = get(`${dispatcher.url}/2`);
    await until(() => dispatcher.balancer.queueLength() === 1);
    // The queue now stands for longer than intervalMs.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const third = await get(`${dispatcher.url}/3`);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('60');
    expect(third.body).toContain('queue-timeout');
    // Answered while the two ahead of it are still waiting on the backend.
    expect(held).toHaveLength(1);
    expect(dispatcher.balancer.queueLength()).toBe(1);
    const release = (): void => {
      for (const res of held.splice(0)) res.end('ok');
    };
    release();
    await until(() => held.length === 1);
    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    held = [];
  });
});
