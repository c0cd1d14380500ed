import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_ENGINES } from '../../core/scenario.js';
import type { RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { oneBackendDispatcher, until } from './dispatcher-helpers.js';

// Issue 17.1: with maxConnPerBackend 0 there used to be a hidden 256-socket pool per backend,
// with an unbounded queue behind it. The Balancer's limit must be the only one.

const CONCURRENT = 300;

describe.each(PROXY_ENGINES)('no hidden pool limit, %s engine', (engine) => {
  let backend: TestServer;
  let dispatcher: RunningDispatcher;
  const held: http.ServerResponse[] = [];

  beforeAll(async () => {
    backend = await startTestServer((_req, res) => {
      held.push(res);
    });
    dispatcher = await oneBackendDispatcher(backend.url, { maxConnPerBackend: 0, engine });
  });
  afterAll(async () => {
    await dispatcher.close(0);
    await backend.close();
  });

  it(`${CONCURRENT} concurrent requests to one backend all reach it at once`, async () => {
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const answers = Array.from(
      { length: CONCURRENT },
      () =>
        new Promise<number | undefined>((resolve, reject) => {
          http.get(`${dispatcher.url}/slow`, { agent }, (res) => {
            res.resume();
            resolve(res.statusCode);
          }).on('error', reject);
        }),
    );
    await until(() => held.length === CONCURRENT, 30_000);
    expect(dispatcher.balancer.views()[0].inFlight).toBe(CONCURRENT);
    for (const res of held) res.end('ok');
    expect(new Set(await Promise.all(answers))).toEqual(new Set([200]));
  });
});
