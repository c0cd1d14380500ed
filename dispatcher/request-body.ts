import type { IncomingMessage } from 'node:http';
import type { DeadlineOwner, DeadlineQueue } from './balancer/deadlines.js';

/**
 * Request buffering for small bodies (issue 17.1), as nginx's `proxy_request_buffering` and
 * HAProxy's `option http-buffer-request` with `timeout http-request` do: a body of at most
 * SMALL_BODY_BYTES, declared by Content-Length, is read whole before the Balancer chooses a
 * backend, within the client's body deadline (`dispatcher.client.bodyTimeoutMs`). A client that
 * sends it slowly, or not at all, holds no backend slot, and its expiry is answered 408: the
 * client's fault, never charged to a backend. The request's arrival, and so its total timeout,
 * starts when the body is in, as in the simulator, where requests arrive whole.
 *
 * Larger or chunked bodies are streamed to the backend as they come (buffering them would cost
 * memory per client); Node's `requestTimeout` bounds those uploads.
 */

/** The largest body read whole before routing: 64 KiB, nginx's default client_body_buffer_size on 64-bit. */
export const SMALL_BODY_BYTES = 64 * 1024;

/** True when `req` declares a body of 1..SMALL_BODY_BYTES bytes (and is not chunked). */
export function isSmallBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length === undefined || req.headers['transfer-encoding'] !== undefined) return false;
  const bytes = Number(length);
  return bytes > 0 && bytes <= SMALL_BODY_BYTES;
}

export type BodyFailure = 'timeout' | 'client-left';

/**
 * Read `req`'s (small) body whole, then call `done(body)`; or `failed` once, when the deadline in
 * `deadlines` passes first or the client leaves.
 */
export function readSmallBody(req: IncomingMessage, deadlines: DeadlineQueue, done: (body: Buffer) => void, failed: (why: BodyFailure) => void): void {
  new SmallBodyReader(req, done, failed).start(deadlines);
}

class SmallBodyReader implements DeadlineOwner {
  private readonly chunks: Buffer[] = [];
  private reading = true;

  constructor(
    private readonly req: IncomingMessage,
    private readonly done: (body: Buffer) => void,
    private readonly failed: (why: BodyFailure) => void,
  ) {}

  start(deadlines: DeadlineQueue): void {
    deadlines.add(this, 0);
    this.req.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    this.req.once('end', () => {
      if (!this.reading) return;
      this.reading = false;
      this.done(Buffer.concat(this.chunks));
    });
    // 'close' before 'end': the client's connection died mid-body.
    this.req.once('close', () => this.fail('client-left'));
  }

  awaits(): boolean {
    return this.reading;
  }

  deadlinePassed(): void {
    this.fail('timeout');
  }

  private fail(why: BodyFailure): void {
    if (!this.reading) return;
    this.reading = false;
    this.chunks.length = 0;
    this.failed(why);
  }
}
