import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A backend's view of a body it read whole: its SHA-256 and length, without keeping the bytes. */
export interface BodyDigest {
  readonly sha256: string;
  readonly bytes: number;
}

/** Read `req`'s body to its end, hashing as it comes, then call `done`. */
export function digestBody(req: IncomingMessage, done: (body: BodyDigest) => void): void {
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  req.on('end', () => done({ sha256: hash.digest('hex'), bytes }));
}
