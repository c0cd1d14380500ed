import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_ENGINES } from '../../core/scenario.js';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { get, replicasScenario } from './dispatcher-helpers.js';

/** The `name=value` part of a Set-Cookie header for the session cookie. */
function sessionCookie(setCookie: string[]): string | undefined {
  return setCookie.find((c) => c.startsWith('dl_session='))?.split(';')[0];
}

describe.each(PROXY_ENGINES)('session-sticky on real sockets, %s engine', (engine) => {
  let up: RunningUp;

  beforeAll(async () => {
    up = await startUp({ scenario: replicasScenario(3, { dispatcher: { engine } }), policy: 'session-sticky' });
  });
  afterAll(async () => {
    await up?.close();
  });

  it('keeps a session on its replica for 100 requests, and re-pins it when that replica stops', async () => {
    const first = await get(`${up.dispatcher.url}/cart`);
    expect(first.status).toBe(200);
    const cookie = sessionCookie(first.setCookie);
    expect(cookie).toBeDefined();
    const pinned = first.servedBy!;

    for (let i = 0; i < 99; i++) {
      const answer = await get(`${up.dispatcher.url}/cart`, { headers: { cookie: cookie! } });
      expect(answer.servedBy).toBe(pinned);
      expect(sessionCookie(answer.setCookie)).toBeUndefined();
    }
    expect(up.dispatcher.balancer.stickyStats().hits).toBeGreaterThanOrEqual(99);

    await up.hosts.find((h) => h.replicas.some((r) => r.vm === pinned))!.close(0);
    const moved = await get(`${up.dispatcher.url}/cart`, { headers: { cookie: cookie! } });
    expect(moved.status).toBe(200);
    expect(moved.servedBy).not.toBe(pinned);
    const repinned = sessionCookie(moved.setCookie);
    expect(repinned).toBeDefined();
    expect(repinned).not.toBe(cookie);
    expect(repinned!.split('.')[0]).toBe(cookie!.split('.')[0]);
    for (let i = 0; i < 10; i++) {
      expect((await get(`${up.dispatcher.url}/cart`, { headers: { cookie: repinned! } })).servedBy).toBe(moved.servedBy);
    }
  });

  it('ignores a forged pin: the session gets a new, signed one', async () => {
    const forged = `dl_session=abc.${Buffer.from('r1').toString('base64url')}.AAAAAAAAAAAAAAAAAAAAAA`;
    const answer = await get(`${up.dispatcher.url}/cart`, { headers: { cookie: forged } });
    expect(answer.status).toBe(200);
    const cookie = sessionCookie(answer.setCookie);
    expect(cookie).toBeDefined();
    expect(cookie!.startsWith('dl_session=abc.')).toBe(false);
  });

  it('keys sessions on a header when the policy says so, without cookies', async () => {
    const byHeader = await startUp({ scenario: replicasScenario(3, { dispatcher: { engine } }), policy: { name: 'session-sticky', options: { key: 'header', header: 'x-user' } } });
    try {
      for (const user of ['ann', 'bob', 'cy']) {
        const seen = new Set<string | null>();
        for (let i = 0; i < 10; i++) {
          const answer = await get(`${byHeader.dispatcher.url}/cart`, { headers: { 'x-user': user } });
          expect(answer.setCookie).toEqual([]);
          seen.add(answer.servedBy);
        }
        expect(seen.size).toBe(1);
      }
    } finally {
      await byHeader.close();
    }
  });
});

describe('consistent-hash of sessions on real sockets', () => {
  it('issues a session cookie, so each client session hashes to one replica and sessions spread', async () => {
    const hashed = await startUp({ scenario: replicasScenario(3), policy: 'consistent-hash' });
    try {
      const homes = new Set<string>();
      for (let session = 0; session < 12; session++) {
        const first = await get(`${hashed.dispatcher.url}/cart`);
        const cookie = sessionCookie(first.setCookie);
        expect(cookie).toBeDefined();
        for (let i = 0; i < 5; i++) {
          const answer = await get(`${hashed.dispatcher.url}/cart`, { headers: { cookie: cookie! } });
          expect(answer.servedBy).toBe(first.servedBy);
          // Nothing is pinned, so a known session's cookie is not written again.
          expect(sessionCookie(answer.setCookie)).toBeUndefined();
        }
        homes.add(first.servedBy!);
      }
      // All from one client address, yet the sessions do not all land on one replica.
      expect(homes.size).toBeGreaterThan(1);
    } finally {
      await hashed.close();
    }
  });
});
