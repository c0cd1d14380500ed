import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PROXY_ENGINES, ScenarioSchema } from '../../core/scenario.js';
import { EXPIRIES_PER_TURN } from '../../dispatcher/balancer/deadlines.js';
import type { AttemptOutcome } from '../../dispatcher/balancer/types.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { startTestServer } from '../helpers/test-server.js';
import { until } from './dispatcher-helpers.js';

// Issue 17.1's target on real sockets: slow uploads are the client's fault. Tens of connections
// POSTing declared bodies a byte at a time, small ones (within the 64 KiB read before routing) and
// large ones (past it: routed only once it fills), beside normal GETs: every GET answered, every
// slow upload ended 408 without reaching a backend, and no backend charged or ejected for them,
// even with an outlier detector that ejects on one failure. The uploads are opened together, more
// than one timer turn ends (EXPIRIES_PER_TURN): the deadlines left for the next turns end too.

const SMALL_BYTES = 8 * 1024;
const LARGE_BYTES = 1024 * 1024;
const PER_SIZE = 2 * EXPIRIES_PER_TURN;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/** A connection that declares `bytes` of body and sends one byte every 100 ms until it is closed; `sending` once its head is out. */
function slowUpload(url: string, bytes: number, sending: () => void): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    let answer = '';
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${bytes}\r\n\r\n`, sending));
    const trickle = setInterval(() => socket.writable && socket.write('x'), 100);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(trickle);
      resolve(answer);
    });
    cleanups.push(async () => void socket.destroy());
  });
}

async function requestsTotal(d: RunningDispatcher, backend: string, code: string): Promise<number> {
  const text = await (await fetch(`${d.adminUrl}/metrics`)).text();
  const match = new RegExp(`dispatchlab_requests_total\\{policy="round-robin",backend="${backend}",code="${code}"\\} (\\d+)`).exec(text);
  return match ? Number(match[1]) : 0;
}

describe.each(PROXY_ENGINES)('slow uploads beside GETs, the %s engine', (engine) => {
  it('end 408 as the client\'s fault: no backend charged or ejected, every GET answered', { timeout: 60_000 }, async () => {
    const declaredBodiesSeen: number[] = [];
    const backends = await Promise.all(
      ['a', 'b'].map(() =>
        startTestServer((req, res) => {
          if (req.method === 'POST') declaredBodiesSeen.push(Number(req.headers['content-length']));
          req.resume();
          req.on('end', () => res.end('ok'));
        }),
      ),
    );
    const outcomes: AttemptOutcome[] = [];
    const dispatcher = await startDispatcher({
      settings: ScenarioSchema.shape.dispatcher.parse({
        engine,
        retries: 0,
        // One failure would eject a backend, and nothing stops all of them going: any charge shows.
        outlier: { consecutiveErrors: 1, maxEjectedFraction: 1 },
        client: { bodyTimeoutMs: 1500 },
      }),
      backends: backends.map((b, i) => ({ id: ['a', 'b'][i], url: b.url })),
      policy: 'round-robin',
      healthChecks: false,
      onAttemptEnded: (_info, _id, _attempt, outcome) => outcomes.push(outcome),
    });
    cleanups.push(async () => {
      await dispatcher.close(0);
      await Promise.all(backends.map((b) => b.close()));
    });

    let sending = 0;
    const uploads = [SMALL_BYTES, LARGE_BYTES].flatMap((bytes) => Array.from({ length: PER_SIZE }, () => slowUpload(dispatcher.url, bytes, () => sending++)));
    // The GETs go while every upload is open and trickling.
    await until(() => sending === 2 * PER_SIZE, 30_000);
    const gets = await Promise.all(Array.from({ length: 6 }, () => fetch(`${dispatcher.url}/`).then(async (r) => ({ status: r.status, body: await r.text() }))));
    expect(gets).toEqual(Array.from({ length: 6 }, () => ({ status: 200, body: 'ok' })));

    const answers = await Promise.all(uploads);
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // No upload reached a backend, of either size: only the GETs were sent.
    expect(declaredBodiesSeen).toEqual([]);
    expect(outcomes).toEqual(Array.from({ length: 6 }, () => ({ kind: 'response', status: 200 })));
    expect(dispatcher.balancer.stats().ejections).toBe(0);
    expect(dispatcher.balancer.backends().map((b) => [b.id, b.state, b.consecutiveFailures])).toEqual([
      ['a', 'healthy', 0],
      ['b', 'healthy', 0],
    ]);
    expect(await requestsTotal(dispatcher, 'none', '408')).toBe(2 * PER_SIZE);
    expect((await requestsTotal(dispatcher, 'a', '408')) + (await requestsTotal(dispatcher, 'b', '408'))).toBe(0);
  });
});
