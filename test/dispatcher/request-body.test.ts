import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from '../../dispatcher/balancer/deadlines.js';
import { isSmallBody, readSmallBody, SMALL_BODY_BYTES, type BodyFailure } from '../../dispatcher/request-body.js';
import { VirtualClock } from '../../core/virtual-clock.js';

function withHeaders(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe('isSmallBody', () => {
  it('buffers a declared body of 1..SMALL_BODY_BYTES bytes, never a chunked one', () => {
    expect(isSmallBody(withHeaders({ 'content-length': '1' }))).toBe(true);
    expect(isSmallBody(withHeaders({ 'content-length': String(SMALL_BODY_BYTES) }))).toBe(true);
    expect(isSmallBody(withHeaders({ 'content-length': String(SMALL_BODY_BYTES + 1) }))).toBe(false);
    expect(isSmallBody(withHeaders({ 'content-length': '0' }))).toBe(false);
    expect(isSmallBody(withHeaders({}))).toBe(false);
    expect(isSmallBody(withHeaders({ 'transfer-encoding': 'chunked' }))).toBe(false);
  });
});

describe('readSmallBody', () => {
  function reading(bodyTimeoutMs: number) {
    const clock = new VirtualClock();
    const req = new EventEmitter() as unknown as IncomingMessage;
    const result: { body?: Buffer; failed?: BodyFailure } = {};
    readSmallBody(req, new DeadlineQueue(clock, bodyTimeoutMs), (body) => (result.body = body), (why) => (result.failed = why));
    return { clock, req, result };
  }

  it('hands over the whole body once it is in, and the deadline then does nothing', () => {
    const { clock, req, result } = reading(100);
    req.emit('data', Buffer.from('hello '));
    clock.advance(99);
    req.emit('data', Buffer.from('world'));
    req.emit('end');
    req.emit('close');
    clock.advance(1000);
    expect(result).toEqual({ body: Buffer.from('hello world') });
  });

  it("fails once with 'timeout' when the deadline passes first, and ignores a late end", () => {
    const { clock, req, result } = reading(100);
    req.emit('data', Buffer.from('part'));
    clock.advance(100);
    req.emit('end');
    expect(result).toEqual({ failed: 'timeout' });
  });

  it("fails with 'client-left' when the connection closes mid-body", () => {
    const { clock, req, result } = reading(100);
    req.emit('data', Buffer.from('part'));
    req.emit('close');
    clock.advance(1000);
    expect(result).toEqual({ failed: 'client-left' });
  });
});
