import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from '../../dispatcher/balancer/deadlines.js';
import { bodyStream, bufferBody, SMALL_BODY_BYTES, type BodyFailure, type BufferedBody } from '../../dispatcher/request-body.js';
import { VirtualClock } from '../../core/virtual-clock.js';

// The buffer before routing (request-body.ts) on the virtual clock, with a PassThrough standing in
// for the client's request stream.

function buffering(bodyTimeoutMs: number) {
  const clock = new VirtualClock();
  const stream = new PassThrough();
  const req = stream as unknown as IncomingMessage;
  const result: { body?: BufferedBody; failed?: BodyFailure } = {};
  bufferBody(req, new DeadlineQueue(clock, bodyTimeoutMs), (body) => (result.body = body), (why) => (result.failed = why));
  return { clock, stream, req, result };
}

/** Let the stream deliver what was written to it. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('bufferBody', () => {
  it('hands over a body that ends within the buffer whole, and the deadline then does nothing', async () => {
    const { clock, stream, result } = buffering(100);
    stream.write('hello ');
    await tick();
    clock.advance(99);
    stream.end('world');
    await tick();
    clock.advance(1000);
    expect(result).toEqual({ body: { head: Buffer.from('hello world'), rest: false } });
  });

  it('a body of exactly the buffer is whole', async () => {
    const { stream, result } = buffering(100);
    stream.end(Buffer.alloc(SMALL_BODY_BYTES, 1));
    await tick();
    expect(result.body?.rest).toBe(false);
    expect(result.body?.head).toEqual(Buffer.alloc(SMALL_BODY_BYTES, 1));
  });

  it('routes a body that fills the buffer with its first SMALL_BODY_BYTES; the rest stays on the request, in order', async () => {
    const { clock, stream, req, result } = buffering(100);
    const body = Buffer.from(Array.from({ length: 3 * SMALL_BODY_BYTES }, (_, i) => 'abcdefgh'[i % 8]).join(''));
    stream.write(body.subarray(0, 40_000));
    await tick();
    expect(result).toEqual({});
    // This write crosses the buffer's end: the part past it goes back to the stream.
    stream.write(body.subarray(40_000, 100_000));
    await tick();
    expect(result.body?.rest).toBe(true);
    expect(result.body?.head).toEqual(body.subarray(0, SMALL_BODY_BYTES));
    // Handed over: the deadline is no longer the buffer's, and nothing more is read for it.
    clock.advance(1000);
    expect(result.failed).toBeUndefined();
    expect(req.isPaused()).toBe(true);
    stream.end(body.subarray(100_000));
    const sent = await text(bodyStream(req, result.body as BufferedBody));
    expect(sent).toBe(body.toString());
  });

  it("fails once with 'timeout' when the deadline passes first, and ignores a late end", async () => {
    const { clock, stream, result } = buffering(100);
    stream.write('part');
    await tick();
    clock.advance(100);
    stream.end('rest');
    await tick();
    expect(result).toEqual({ failed: 'timeout' });
  });

  it("fails with 'client-left' when the connection closes mid-body", async () => {
    const { clock, stream, result } = buffering(100);
    stream.write('part');
    await tick();
    stream.destroy();
    await tick();
    clock.advance(1000);
    expect(result).toEqual({ failed: 'client-left' });
  });
});

describe('bodyStream', () => {
  it('is the head alone for a whole body', async () => {
    const req = new PassThrough() as unknown as IncomingMessage;
    expect(await text(bodyStream(req, { head: Buffer.from('whole'), rest: false }))).toBe('whole');
  });

  it("carries the client's broken upload as its own error", async () => {
    const stream = new PassThrough();
    const body = bodyStream(stream as unknown as IncomingMessage, { head: Buffer.from('head'), rest: true });
    const read = text(body);
    stream.destroy(new Error('aborted'));
    await expect(read).rejects.toThrow('aborted');
  });
});
