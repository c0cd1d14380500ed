import { promises as dns } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/**
 * Backend name resolution that cannot fill libuv's thread pool (issue 17.5). Node resolves a host
 * name with getaddrinfo on one of the pool's 4 threads, and a lookup cannot be cancelled: in
 * compose, probes of a stopped host queued behind a slow resolver until every lookup, the healthy
 * hosts' included, timed out. Here, as Envoy's DNS cluster does:
 * - addresses are resolved with `dns.Resolver` (c-ares, asynchronous, no thread) and kept for
 *   their TTL (at least MIN_TTL_MS, at most MAX_TTL_MS);
 * - one lookup per name is in flight at a time; every caller in the meantime shares it;
 * - when a refresh fails, the last good addresses are used again until one succeeds;
 * - a name DNS does not know (`localhost`, /etc/hosts entries) falls back to the system resolver
 *   once per TTL, still one at a time per name; an IP literal is never looked up.
 */

export const MIN_TTL_MS = 1000;
export const MAX_TTL_MS = 300_000;
/** How long a name found only by the system resolver (no TTL) is kept. */
export const SYSTEM_TTL_MS = 30_000;

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** The part of dns.promises.Resolver used, so tests can count and delay lookups. */
export interface DnsResolver {
  resolve4(hostname: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(hostname: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
}

export type SystemLookup = (hostname: string) => Promise<ResolvedAddress[]>;

/** Answers that mean "DNS has no such name (of this family)", as opposed to a resolver failure. */
const NOT_IN_DNS = new Set(['ENOTFOUND', 'ENODATA']);

interface Entry {
  addresses: ResolvedAddress[];
  expiresAtMs: number;
}

const systemLookup: SystemLookup = async (hostname) =>
  (await dns.lookup(hostname, { all: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

export class DnsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<ResolvedAddress[]>>();

  constructor(
    private readonly resolver: DnsResolver = new dns.Resolver(),
    private readonly fallback: SystemLookup = systemLookup,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** The addresses of `hostname`, from the cache while fresh. */
  resolve(hostname: string): Promise<ResolvedAddress[]> {
    const family = isIP(hostname);
    if (family !== 0) return Promise.resolve([{ address: hostname, family: family === 6 ? 6 : 4 }]);
    const entry = this.entries.get(hostname);
    if (entry !== undefined && entry.expiresAtMs > this.nowMs()) return Promise.resolve(entry.addresses);
    let pending = this.inFlight.get(hostname);
    if (pending === undefined) {
      pending = this.refresh(hostname, entry).finally(() => this.inFlight.delete(hostname));
      this.inFlight.set(hostname, pending);
    }
    return pending;
  }

  /** For net.connect / http.Agent's `lookup` option (both the single and the `all` forms). */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`no IPv${options.family} address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        } else if (options.all) {
          (callback as unknown as (err: null, all: ResolvedAddress[]) => void)(null, wanted);
        } else {
          callback(null, wanted[0].address, wanted[0].family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };

  private async refresh(hostname: string, stale: Entry | undefined): Promise<ResolvedAddress[]> {
    try {
      const entry = await this.fromDns(hostname);
      this.entries.set(hostname, entry);
      return entry.addresses;
    } catch (err) {
      if (stale !== undefined) return stale.addresses;
      throw err;
    }
  }

  private async fromDns(hostname: string): Promise<Entry> {
    const answers = await Promise.allSettled([this.resolver.resolve4(hostname, { ttl: true }), this.resolver.resolve6(hostname, { ttl: true })]);
    const addresses: ResolvedAddress[] = [];
    let ttlS = Infinity;
    answers.forEach((answer, i) => {
      if (answer.status !== 'fulfilled') return;
      for (const record of answer.value) {
        addresses.push({ address: record.address, family: i === 0 ? 4 : 6 });
        ttlS = Math.min(ttlS, record.ttl);
      }
    });
    if (addresses.length > 0) {
      return { addresses, expiresAtMs: this.nowMs() + Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, ttlS * 1000)) };
    }
    // A failing resolver (timeout, refused) is a failed refresh, not an answer.
    for (const answer of answers) {
      const code = answer.status === 'rejected' ? (answer.reason as NodeJS.ErrnoException).code : undefined;
      if (code !== undefined && !NOT_IN_DNS.has(code)) throw answer.status === 'rejected' ? answer.reason : new Error(code);
    }
    // Not in DNS (localhost, /etc/hosts): the system resolver, at most once per SYSTEM_TTL_MS.
    const system = await this.fallback(hostname);
    if (system.length === 0) throw Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' });
    return { addresses: system, expiresAtMs: this.nowMs() + SYSTEM_TTL_MS };
  }
}
