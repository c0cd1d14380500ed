import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { CLOSED_LOOP_SESSION_REQUESTS, clientAddress, SESSION_HEADER, sessionName } from '../../core/workload.js';
import { runClosedLoop } from '../../loadtest/closed-loop.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** Gives each cookie-less request a new session id, and records where each was issued and sent back. */
let target: TestServer;
let url = '';
const cookiesBySocket = new Map<string, Set<string>>();
const issuedOn = new Map<string, string>();
let anonymous = 0;
let seen = 0;

beforeAll(async () => {
  let nextSession = 0;
  target = await startTestServer((req, res) => {
    const socket = `${req.socket.remotePort}`;
    req.resume();
    seen++;
    const cookie = req.headers.cookie;
    if (cookie === undefined) {
      anonymous++;
      const sid = `sid=${nextSession++}`;
      issuedOn.set(sid, socket);
      res.setHeader('Set-Cookie', `${sid}; Path=/; HttpOnly`);
    } else cookiesBySocket.set(socket, (cookiesBySocket.get(socket) ?? new Set()).add(cookie));
    setTimeout(() => res.end(req.url?.startsWith('/slow') ? 'slow' : 'ok'), 2);
  });
  url = target.url;
});
afterAll(() => target.close());

const scenario = parseScenario({
  name: 't',
  hosts: [{ name: 'h', cores: 1, memoryMb: 1024 }],
  vms: [{ name: 'web', host: 'h' }],
  workload: { sessions: 4, classes: [{ name: 'page', share: 0.5, route: '/', cpuMs: 1 }, { name: 'slow', share: 0.5, route: '/slow', cpuMs: 1 }] },
});

describe('runClosedLoop', () => {
  it('keeps one session cookie per connection and records sub-ms latencies of every response', async () => {
    let warmedUp = false;
    const result = await runClosedLoop(
      // A timeout no stall reaches: every request is answered, however busy the machine.
      { kind: 'closed', url, seed: 1, classes: scenario.workload.classes, sessions: 4, warmupMs: 300, durationMs: 800, timeoutMs: 60_000, connections: 4 },
      { beforeMeasure: async () => void (warmedUp = true) },
    );
    expect(warmedUp).toBe(true);
    // How many requests fit in the window is the machine's speed, not asserted; some must have
    // carried a cookie back for the checks below to mean anything.
    expect(result.requests).toBeGreaterThan(0);
    expect(cookiesBySocket.size).toBeGreaterThan(0);
    expect(result.codes['200']).toBe(result.requests);
    expect(result.errors).toBe(0);
    // A session is one pass through the 200-request array: each connection asks without a cookie
    // once per pass it starts in each of the 2 phases, then sends the cookie back. So the cookie-less
    // requests are at most (requests seen / 200) + connections x phases.
    expect(anonymous).toBeGreaterThan(0);
    expect(anonymous).toBeLessThanOrEqual(Math.ceil(seen / 200) + 4 * 2);
    // Every cookie comes back only on the connection it was issued to: no session leaks across connections.
    for (const [socket, cookies] of cookiesBySocket) for (const cookie of cookies) expect(issuedOn.get(cookie)).toBe(socket);
    expect(result.latencyMs.p50).toBeGreaterThanOrEqual(2);
    expect(Number.isInteger(result.latencyMs.mean)).toBe(false);
  });
});

describe('runClosedLoop sessions, as the simulator has them (core/workload.ts CLOSED_LOOP_SESSION_REQUESTS)', () => {
  it('each connection is one user with a new session every CLOSED_LOOP_SESSION_REQUESTS requests, whatever workload.sessions says; request n is the n-th sent', async () => {
    const seen: Array<{ socket: string; session: string | undefined; client: string | undefined; n: number; cookie: string | undefined }> = [];
    let cookies = 0;
    const immediate = await startTestServer((req, res) => {
      req.resume();
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const session = req.headers[SESSION_HEADER] as string | undefined;
      seen.push({ socket: `${req.socket.remotePort}`, session, client: req.headers['x-forwarded-for'] as string | undefined, n: Number(query.get('n')), cookie: req.headers.cookie });
      // A cookie naming the session, so a cookie that outlives its session would be seen.
      if (req.headers.cookie === undefined) res.setHeader('Set-Cookie', `sid=${session ?? 'none'}-${cookies++}; Path=/`);
      res.end('ok');
    });
    try {
      // One connection, no warm-up: every request is in one phase, sent in order. Long enough to pass
      // CLOSED_LOOP_SESSION_REQUESTS at any plausible speed (67 requests/s), but nothing is asserted of the speed.
      await runClosedLoop({ kind: 'closed', url: immediate.url, seed: 3, classes: scenario.workload.classes, sessions: 0, warmupMs: 0, durationMs: 3000, timeoutMs: 60_000, connections: 1 });
    } finally {
      await immediate.close();
    }
    expect(seen.length).toBeGreaterThan(CLOSED_LOOP_SESSION_REQUESTS);
    expect(new Set(seen.map((r) => r.socket)).size).toBe(1);
    // Request n is the n-th sent: one cost index each, none repeated (the array of planned requests used to repeat every 200).
    expect(seen.map((r) => r.n)).toEqual(seen.map((_, i) => i));
    seen.forEach((r, i) => {
      const session = Math.floor(i / CLOSED_LOOP_SESSION_REQUESTS);
      expect(r.session).toBe(sessionName(session));
      expect(r.client).toBe(clientAddress(session));
      // The first request of a session has no cookie; the others carry the one its first answer set.
      if (i % CLOSED_LOOP_SESSION_REQUESTS === 0) expect(r.cookie).toBeUndefined();
      else expect(r.cookie).toMatch(new RegExp(`^sid=${sessionName(session)}-\\d+$`));
    });
  });
});

describe('runClosedLoop phase ends', () => {
  it("drain like the open loop: each connection's request in flight at the end is answered, none is cut off", async () => {
    let received = 0;
    let answered = 0;
    let cutOff = 0;
    const slow = await startTestServer((req, res) => {
      req.resume();
      received++;
      res.on('finish', () => answered++);
      res.on('close', () => {
        if (!res.writableFinished) cutOff++;
      });
      // Every connection always has a request here, so each phase ends with four in flight.
      setTimeout(() => res.end('ok'), 20);
    });
    let result;
    try {
      result = await runClosedLoop({ kind: 'closed', url: slow.url, seed: 1, classes: scenario.workload.classes, sessions: 0, warmupMs: 200, durationMs: 300, timeoutMs: 60_000, connections: 4 });
    } finally {
      await slow.close();
    }
    expect(result.requests).toBeGreaterThan(0);
    expect(result.errors).toBe(0);
    expect(cutOff).toBe(0);
    expect(answered).toBe(received);
  });
});
