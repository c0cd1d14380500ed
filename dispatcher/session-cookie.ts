import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { BackendId } from '../core/types.js';

/**
 * The session cookie of sticky policies: `<sessionId>.<backend, base64url>.<mac>`, where mac is
 * HMAC-SHA256(secret, "<sessionId>.<backend>") truncated to 128 bits. The client carries its pin,
 * so it survives dispatcher restarts and is shared by dispatchers with the same secret; the MAC
 * makes it unforgeable: a client cannot steer itself onto a backend of its choosing, and a tampered
 * or foreign value is simply ignored (the request gets a new session and a new pin).
 */

const MAC_BYTES = 16;
const SESSION_ID_BYTES = 12;

export interface SessionPin {
  readonly sessionId: string;
  readonly backend: BackendId;
}

export class SessionSigner {
  private readonly secret: Buffer;

  /** `secret`: at least 16 bytes; a random one per process when omitted (pins then last as long as the process). */
  constructor(secret: Buffer = randomBytes(32)) {
    if (secret.length < 16) throw new Error(`session secret must be at least 16 bytes (got ${secret.length})`);
    this.secret = secret;
  }

  /** A fresh, unguessable session id (base64url: never contains the '.' separator). */
  newSessionId(): string {
    return randomBytes(SESSION_ID_BYTES).toString('base64url');
  }

  sign(sessionId: string, backend: BackendId): string {
    const payload = `${sessionId}.${Buffer.from(backend, 'utf8').toString('base64url')}`;
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The pin a cookie value carries, or undefined when it is malformed or its MAC does not verify. */
  verify(value: string): SessionPin | undefined {
    const parts = value.split('.');
    if (parts.length !== 3 || parts[0] === '' || parts[1] === '') return undefined;
    const [sessionId, encodedBackend, macText] = parts;
    const given = Buffer.from(macText, 'base64url');
    const expected = this.mac(`${sessionId}.${encodedBackend}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return { sessionId, backend: Buffer.from(encodedBackend, 'base64url').toString('utf8') };
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.secret).update(payload).digest().subarray(0, MAC_BYTES);
  }
}
