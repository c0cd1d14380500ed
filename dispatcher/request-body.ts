import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { DeadlineOwner, DeadlineQueue } from './balancer/deadlines.js';

/**
 * Request buffering (issue 17.1), as HAProxy's `option http-buffer-request` within `timeout
 * http-request` does (configuration manual, 4.2: it waits until the whole body is received or the
 * request buffer is full, to buffer requests from slow clients before connecting to the server)
 * and nginx's `proxy_request_buffering`: every request with a body (a Content-Length above 0, or
 * chunked) is read until its body ends or SMALL_BODY_BYTES are buffered, within the client's body
 * deadline (`dispatcher.client.bodyTimeoutMs`), before the Balancer chooses a backend.
 *
 * - A body that ends within the buffer is sent whole.
 * - One that fills it is routed then, and the engine sends the buffered head followed by the rest
 *   as the client sends it (bodyStream). The rest is bounded by the attempt's timeouts: a client
 *   that stalls it is answered 408, its own fault (http-dispatcher.ts).
 * - A client that does neither in time (a slow upload of any size, or one that stops) holds no
 *   backend slot and no upstream connection: it is answered 408, the client's fault, never charged
 *   to a backend. Before, a body over the buffer was streamed at once, so a slow one held an
 *   upstream connection and a replica until `timeouts.upstreamMs` and was then re-opened.
 *
 * At most SMALL_BODY_BYTES are held per request: once the buffer is full the request stream is
 * paused, so the rest waits in the kernel's socket buffers (TCP flow control) until a backend
 * reads it. The request's arrival, and so its total timeout, starts when the buffer is handed over.
 *
 * Live only: the simulator has requests arrive whole (no upload time), so there is nothing to
 * buffer there; the Balancer sees the same calls, made once the body (or its head) is in.
 */

/** The buffer: 64 KiB, nginx's default client_body_buffer_size on 64-bit. */
export const SMALL_BODY_BYTES = 64 * 1024;

/** A request body read before routing. */
export interface BufferedBody {
  /** The whole body, or its first SMALL_BODY_BYTES when `rest`. */
  readonly head: Buffer;
  /** The buffer filled before the body ended: the rest is still to be read from the request. */
  readonly rest: boolean;
}

export type BodyFailure = 'timeout' | 'client-left';

/**
 * Read `req`'s body until it ends or fills the buffer, then call `done`; or `failed` once, when
 * the deadline in `deadlines` passes first or the client leaves. For a request with a body only.
 */
export function bufferBody(req: IncomingMessage, deadlines: DeadlineQueue, done: (body: BufferedBody) => void, failed: (why: BodyFailure) => void): void {
  new BodyBuffer(req, done, failed).start(deadlines);
}

/**
 * What an engine sends upstream: the buffered head, then (when the buffer filled) the rest as the
 * client sends it, piped from `req` through a PassThrough. An engine destroys its body stream when
 * its dispatch ends before the body was all sent (an early answer, a reset); destroying `req`
 * itself would stall the client's connection (nothing would read the rest of its upload). This
 * way only the PassThrough goes, `req` is unpiped, and the dispatcher drops the rest (lingerOn).
 * The client's broken upload is an error of the returned stream.
 */
export function bodyStream(req: IncomingMessage, body: BufferedBody): Readable {
  const stream = new PassThrough();
  if (!body.rest) return stream.end(body.head);
  stream.write(body.head);
  req.pipe(stream);
  req.once('error', (err) => stream.destroy(err));
  return stream;
}

class BodyBuffer implements DeadlineOwner {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private reading = true;

  constructor(
    private readonly req: IncomingMessage,
    private readonly done: (body: BufferedBody) => void,
    private readonly failed: (why: BodyFailure) => void,
  ) {}

  start(deadlines: DeadlineQueue): void {
    deadlines.add(this, 0);
    this.req.on('data', this.data);
    this.req.once('end', this.end);
    // 'close' before 'end': the client's connection died mid-body.
    this.req.once('close', this.close);
  }

  awaits(): boolean {
    return this.reading;
  }

  deadlinePassed(): void {
    this.fail('timeout');
  }

  private readonly data = (chunk: Buffer): void => {
    const room = SMALL_BODY_BYTES - this.bytes;
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
      return;
    }
    // Full: keep what fits and give the excess back to the stream, paused until an engine reads it.
    this.chunks.push(chunk.subarray(0, room));
    this.req.pause();
    this.req.unshift(chunk.subarray(room));
    this.handOver(true);
  };

  private readonly end = (): void => this.handOver(false);

  private readonly close = (): void => this.fail('client-left');

  private handOver(rest: boolean): void {
    if (!this.stop()) return;
    const head = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    this.done({ head, rest });
  }

  private fail(why: BodyFailure): void {
    if (!this.stop()) return;
    this.chunks.length = 0;
    // Whatever else the client sends of this body is dropped (its answer closes the connection).
    this.req.resume();
    this.failed(why);
  }

  /** Stop reading for the buffer; false when it already had. */
  private stop(): boolean {
    if (!this.reading) return false;
    this.reading = false;
    this.req.off('data', this.data);
    this.req.off('end', this.end);
    this.req.off('close', this.close);
    return true;
  }
}
