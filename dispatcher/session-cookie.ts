import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import { LRUCache } from 'lru-cache';
import type { BackendId } from '../core/types.js';

/**
 * The session cookie of sticky policies: `<sessionId>.<backend, base64url>.<mac>`, where mac is
 * HMAC-SHA256(secret, "<sessionId>.<backend>") truncated to 128 bits. The client carries its pin,
 * so it survives dispatcher restarts and is shared by dispatchers with the same secret; the MAC
 * makes it unforgeable: a client cannot steer itself onto a backend of its choosing, and a tampered
 * or foreign value is simply ignored (the request gets a new session and a new pin).
 *
 * An HMAC per request was the price of stickiness (about a tenth of the dispatcher's CPU with a
 * new session on every request), so each session is signed once: the Set-Cookie header issued for
 * (cookie name, session, backend), and every value that verified (or that we issued), are kept in
 * bounded LRU caches. A session that comes back, or a named session (X-Session-Id) answered before
 * its client returned the cookie, costs a lookup. Only values that verified are ever cached, so a
 * tampered value still misses and fails verification. A client sends the same Cookie header on
 * every request, so whole headers whose pin verified are remembered too (pinIn), by the header and
 * not by connection: behind an edge proxy one connection carries many clients' requests, and a
 * lookup of the header skips the parse, a second lookup and any per-connection bookkeeping.
 */

const MAC_BYTES = 16;
/** Sessions whose cookie is remembered; beyond it the least recently used is signed again when it returns. */
const CACHED_SESSIONS = 10_000;
/** Longer Cookie headers are parsed each time: the cache of headers stays under 10 MB (CACHED_SESSIONS of them). */
const MAX_REMEMBERED_HEADER_CHARS = 1024;

export interface SessionPin {
  readonly sessionId: string;
  readonly backend: BackendId;
}

export class SessionSigner {
  private readonly secret: Buffer;
  /** Set-Cookie values by cookie name, session and backend. */
  private readonly issued: LRUCache<string, string>;
  /** Cookie values known to verify, with the pin each carries. */
  private readonly verified: LRUCache<string, SessionPin>;
  /** Cookie headers (up to MAX_REMEMBERED_HEADER_CHARS) whose pin verified: the cookie's name and the pin. */
  private readonly headers: LRUCache<string, { readonly name: string; readonly pin: SessionPin }>;

  /**
   * `secret`: at least 16 bytes; a random one per process when omitted (pins then last as long as
   * the process). `cachedSessions`: how many sessions' cookies each cache remembers.
   */
  constructor(secret: Buffer = randomBytes(32), cachedSessions = CACHED_SESSIONS) {
    if (secret.length < 16) throw new Error(`session secret must be at least 16 bytes (got ${secret.length})`);
    this.secret = secret;
    this.issued = new LRUCache({ max: cachedSessions });
    this.verified = new LRUCache({ max: cachedSessions });
    this.headers = new LRUCache({ max: cachedSessions });
  }

  /**
   * A fresh, unguessable session id (a random UUID: never contains the '.' separator). Node draws
   * UUIDs from a buffer of random bytes it refills in batches, not a crypto call per id.
   */
  newSessionId(): string {
    return randomUUID();
  }

  sign(sessionId: string, backend: BackendId): string {
    const payload = `${sessionId}.${Buffer.from(backend, 'utf8').toString('base64url')}`;
    const value = `${payload}.${this.mac(payload).toString('base64url')}`;
    this.verified.set(value, { sessionId, backend });
    return value;
  }

  /** The Set-Cookie header value pinning `sessionId` to `backend` under the cookie `name`. */
  setCookie(name: string, sessionId: string, backend: BackendId): string {
    const key = `${name}\n${sessionId}\n${backend}`;
    let header = this.issued.get(key);
    if (header === undefined) {
      header = serializeCookie(name, this.sign(sessionId, backend), { path: '/', httpOnly: true, sameSite: 'lax' });
      this.issued.set(key, header);
    }
    return header;
  }

  /**
   * The pin carried by the cookie `name` of a request's Cookie `header`; undefined when there is
   * none or it does not verify (verify).
   */
  pinIn(header: string, name: string): SessionPin | undefined {
    const known = this.headers.get(header);
    if (known !== undefined && known.name === name) return known.pin;
    const value = parseCookies(header)[name];
    const pin = value ? this.verify(value) : undefined;
    if (pin !== undefined && header.length <= MAX_REMEMBERED_HEADER_CHARS) this.headers.set(header, { name, pin });
    return pin;
  }

  /** The pin a cookie value carries, or undefined when it is malformed or its MAC does not verify. */
  verify(value: string): SessionPin | undefined {
    const known = this.verified.get(value);
    if (known !== undefined) return known;
    const parts = value.split('.');
    if (parts.length !== 3 || parts[0] === '' || parts[1] === '') return undefined;
    const [sessionId, encodedBackend, macText] = parts;
    const given = Buffer.from(macText, 'base64url');
    const expected = this.mac(`${sessionId}.${encodedBackend}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const pin = { sessionId, backend: Buffer.from(encodedBackend, 'base64url').toString('utf8') };
    this.verified.set(value, pin);
    return pin;
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.secret).update(payload).digest().subarray(0, MAC_BYTES);
  }
}
