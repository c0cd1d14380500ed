import { describe, expect, it } from 'vitest';
import { DnsCache, MIN_TTL_MS, SYSTEM_TTL_MS, type DnsResolver, type ResolvedAddress } from '../../dispatcher/dns-cache.js';

/** A resolver that answers when told, and counts what it was asked. */
function fakeResolver(records: Record<string, { address: string; ttl: number }[]>) {
  const calls: string[] = [];
  const pending: (() => void)[] = [];
  let failing = false;
  const answer = (host: string, family: 4 | 6) =>
    new Promise<{ address: string; ttl: number }[]>((resolve, reject) => {
      calls.push(`${family} ${host}`);
      pending.push(() => {
        const found = (records[host] ?? []).filter((r) => r.address.includes(':') === (family === 6));
        if (failing) reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' }));
        else if (found.length === 0) reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
        else resolve(found);
      });
    });
  const resolver: DnsResolver = { resolve4: (h) => answer(h, 4), resolve6: (h) => answer(h, 6) };
  return {
    resolver,
    calls,
    fail: (on: boolean) => (failing = on),
    async flush() {
      for (const p of pending.splice(0)) p();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('DnsCache', () => {
  it('one lookup in flight per name, shared by every caller; then cached for the TTL', async () => {
    let now = 0;
    const dns = fakeResolver({ backend: [{ address: '10.0.0.7', ttl: 5 }] });
    const cache = new DnsCache(dns.resolver, async () => [], () => now);
    const a = cache.resolve('backend');
    const b = cache.resolve('backend');
    expect(dns.calls).toEqual(['4 backend', '6 backend']);
    await dns.flush();
    const expected: ResolvedAddress[] = [{ address: '10.0.0.7', family: 4 }];
    expect(await a).toEqual(expected);
    expect(await b).toEqual(expected);
    now = 4999;
    expect(await cache.resolve('backend')).toEqual(expected);
    expect(dns.calls.length).toBe(2);
    now = 5000;
    const c = cache.resolve('backend');
    expect(dns.calls.length).toBe(4);
    await dns.flush();
    expect(await c).toEqual(expected);
  });

  it('keeps the last good addresses when a refresh fails; never looks up an IP literal', async () => {
    let now = 0;
    const dns = fakeResolver({ backend: [{ address: '10.0.0.7', ttl: 0 }] });
    const cache = new DnsCache(dns.resolver, async () => [], () => now);
    const first = cache.resolve('backend');
    await dns.flush();
    expect(await first).toEqual([{ address: '10.0.0.7', family: 4 }]);
    now = MIN_TTL_MS; // a TTL of 0 still counts as MIN_TTL_MS
    dns.fail(true);
    const stale = cache.resolve('backend');
    await dns.flush();
    expect(await stale).toEqual([{ address: '10.0.0.7', family: 4 }]);
    const calls = dns.calls.length;
    expect(await cache.resolve('127.0.0.1')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(await cache.resolve('::1')).toEqual([{ address: '::1', family: 6 }]);
    expect(dns.calls.length).toBe(calls);
  });

  it('a name DNS does not know goes to the system resolver, once per SYSTEM_TTL_MS', async () => {
    let now = 0;
    const dns = fakeResolver({});
    let systemCalls = 0;
    const cache = new DnsCache(dns.resolver, async () => (systemCalls++, [{ address: '127.0.0.1', family: 4 }]), () => now);
    const first = cache.resolve('localhost');
    await dns.flush();
    expect(await first).toEqual([{ address: '127.0.0.1', family: 4 }]);
    now = SYSTEM_TTL_MS - 1;
    await cache.resolve('localhost');
    expect(systemCalls).toBe(1);
  });

  it('serves net.connect: the lookup option in its single and `all` forms', async () => {
    const dns = fakeResolver({ dual: [{ address: '10.0.0.1', ttl: 60 }, { address: 'fd00::1', ttl: 60 }] });
    const cache = new DnsCache(dns.resolver, async () => []);
    const single = new Promise((resolve) => cache.lookup('dual', { family: 6 }, (err, address, family) => resolve([err, address, family])));
    const all = new Promise((resolve) => cache.lookup('dual', { all: true }, (err, addresses) => resolve([err, addresses])));
    await dns.flush();
    expect(await single).toEqual([null, 'fd00::1', 6]);
    expect(await all).toEqual([null, [{ address: '10.0.0.1', family: 4 }, { address: 'fd00::1', family: 6 }]]);
  });
});
