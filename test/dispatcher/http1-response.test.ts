import type { IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_HEAD_BYTES, ResponseParser } from '../../dispatcher/http1-response.js';

/** What the parser reported for one connection's bytes. */
interface Parsed {
  heads: { status: number; message: string; headers: IncomingHttpHeaders }[];
  body: Buffer;
  /** Each body piece's `last` flag, in order. */
  lasts: boolean[];
  ends: boolean[];
  error?: string;
}

/**
 * Feed `chunks` to a parser expecting one response (to a HEAD request when `head`); then the
 * connection closes when `close`. Each chunk is pushed as the socket engine pushes its reads: from
 * one buffer, overwritten after every push, so whatever the parser kept without copying is garbage.
 */
function parse(chunks: Buffer[], opts: { head?: boolean; close?: boolean } = {}): Parsed {
  const parsed: Parsed = { heads: [], body: Buffer.alloc(0), lasts: [], ends: [] };
  const bodies: Buffer[] = [];
  const parser = new ResponseParser({
    onHead: (status, message, headers) => parsed.heads.push({ status, message, headers }),
    // A copy: the parser's views are valid only during the call.
    onBody: (chunk, last) => {
      bodies.push(Buffer.from(chunk));
      parsed.lasts.push(last);
    },
    onEnd: (reusable) => parsed.ends.push(reusable),
  });
  parser.expect(opts.head ?? false);
  try {
    const reads = Buffer.alloc(Math.max(1, ...chunks.map((chunk) => chunk.length)));
    for (const chunk of chunks) {
      chunk.copy(reads);
      parser.push(reads.subarray(0, chunk.length));
      reads.fill(0x7f);
    }
    if (opts.close) parser.closed();
  } catch (err) {
    parsed.error = (err as Error).message;
  }
  parsed.body = Buffer.concat(bodies);
  return parsed;
}

/** `bytes` cut at `cuts` (positions, any order, duplicates allowed): every split the socket might deliver. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    if (to > from) chunks.push(bytes.subarray(from, to));
    from = to;
  }
  return chunks;
}

const text = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A chunked encoding of `body` in pieces of `sizes` (cycled), with optional extensions and trailers. */
function chunked(body: Buffer, sizes: number[], ext: boolean, trailers: boolean): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < body.length; i++) {
    const size = Math.min(sizes[i % sizes.length], body.length - at);
    parts.push(text(`${size.toString(16)}${ext ? ';name="v"' : ''}\r\n`), body.subarray(at, at + size), text('\r\n'));
    at += size;
  }
  parts.push(text(trailers ? '0\r\nx-checksum: 1\r\nx-more: 2\r\n\r\n' : '0\r\n\r\n'));
  return Buffer.concat(parts);
}

const cuts = fc.array(fc.nat(), { maxLength: 12 });

describe('the HTTP/1.1 response parser', () => {
  it('reads a Content-Length body whole however its bytes are split, and the connection is reusable', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cuts, (bytes, at) => {
        const body = Buffer.from(bytes);
        const wire = Buffer.concat([text(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nx-a: 1\r\n\r\n`), body]);
        const parsed = parse(split(wire, at));
        expect(parsed.error).toBeUndefined();
        expect(parsed.heads).toEqual([{ status: 200, message: 'OK', headers: { 'content-length': String(body.length), 'x-a': '1' } }]);
        expect(parsed.body.equals(body)).toBe(true);
        expect(parsed.ends).toEqual([true]);
        // Only the piece that completes the length says it is the last.
        expect(parsed.lasts).toEqual(parsed.lasts.map((_, i) => i === parsed.lasts.length - 1));
      }),
    );
  });

  it('decodes a chunked body (sizes in hex, extensions, trailers dropped) however its bytes are split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }), fc.boolean(), fc.boolean(), cuts, (bytes, sizes, ext, trailers, at) => {
        const body = Buffer.from(bytes);
        const wire = Buffer.concat([text('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'), chunked(body, sizes, ext, trailers)]);
        const parsed = parse(split(wire, at));
        expect(parsed.error).toBeUndefined();
        expect(parsed.heads[0].headers['transfer-encoding']).toBe('chunked');
        expect(parsed.body.equals(body)).toBe(true);
        expect(parsed.ends).toEqual([true]);
        // A chunk never knows it is the last: the zero-size chunk says so later.
        expect(parsed.lasts.every((last) => !last)).toBe(true);
      }),
    );
  });

  it('reads a body without length until the connection closes, and never reuses that connection', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cuts, (bytes, at) => {
        const body = Buffer.from(bytes);
        const wire = Buffer.concat([text('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n'), body]);
        const open = parse(split(wire, at));
        expect(open.ends).toEqual([]);
        const closed = parse(split(wire, at), { close: true });
        expect(closed.error).toBeUndefined();
        expect(closed.body.equals(body)).toBe(true);
        expect(closed.ends).toEqual([false]);
        expect(closed.lasts.every((last) => !last)).toBe(true);
      }),
    );
  });

  it('reads no body after HEAD, 204 or 304, whatever their framing headers say', () => {
    fc.assert(
      fc.property(fc.constantFrom('HEAD 200', 'GET 204', 'GET 304', 'HEAD 404'), fc.constantFrom('content-length: 50', 'transfer-encoding: chunked'), cuts, (kind, framing, at) => {
        const [method, status] = kind.split(' ');
        const wire = text(`HTTP/1.1 ${status} X\r\n${framing}\r\n\r\n`);
        const parsed = parse(split(wire, at), { head: method === 'HEAD' });
        expect(parsed.error).toBeUndefined();
        expect(parsed.heads.map((h) => h.status)).toEqual([Number(status)]);
        expect(parsed.body.length).toBe(0);
        expect(parsed.ends).toEqual([true]);
      }),
    );
  });

  it('skips interim 100 and 103 answers and reports the final one', () => {
    fc.assert(
      fc.property(cuts, (at) => {
        const wire = text('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok');
        const parsed = parse(split(wire, at));
        expect(parsed.heads.map((h) => [h.status, h.headers.link])).toEqual([[201, undefined]]);
        expect(parsed.body.toString()).toBe('ok');
        expect(parsed.ends).toEqual([true]);
      }),
    );
  });

  it("builds headers as node:http does: lower-case names, set-cookie an array, singletons keep the first, others joined", () => {
    const parsed = parse([
      text(
        'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-List: one\r\ncontent-type: text/plain\r\nset-cookie: b=2\r\nx-list:  two \r\nContent-Type: text/html\r\n' +
          'Cookie: c=3\r\ncookie: d=4\r\nLocation: /first\r\nlocation: /second\r\nX-Empty:\r\ncontent-length: 0\r\n\r\n',
      ),
    ]);
    expect(parsed.heads[0].headers).toEqual({
      'set-cookie': ['a=1', 'b=2'],
      'x-list': 'one, two',
      'content-type': 'text/plain',
      cookie: 'c=3; d=4',
      location: '/first',
      'x-empty': '',
      'content-length': '0',
    });
  });

  it('reads any valid field lines: names lower-cased whatever their case, values without the spaces and tabs around them', () => {
    const name = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/).map((n) => `x-${n}`);
    // Visible ASCII and obs-text inside, never a space or tab at either end.
    const value = fc.stringMatching(/^(?:[!-~\x80-\xff](?:[\t -~\x80-\xff]{0,10}[!-~\x80-\xff])?)?$/);
    const ows = fc.constantFrom('', ' ', '\t', ' \t ');
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, value, ows, ows), { selector: ([n]) => n.toLowerCase(), maxLength: 8 }), cuts, (fields, at) => {
        const lines = fields.map(([n, v, before, after]) => `${n}:${before}${v}${after}\r\n`).join('');
        const parsed = parse(split(text(`HTTP/1.1 200 OK\r\n${lines}content-length: 0\r\n\r\n`), at));
        expect(parsed.error).toBeUndefined();
        expect(parsed.heads[0].headers).toEqual(Object.fromEntries([...fields.map(([n, v]) => [n.toLowerCase(), v]), ['content-length', '0']]));
      }),
    );
  });

  it('reads the common field names (matched in place) in any case, and a name one character off as its own', () => {
    // Common names whose value the parser does not interpret (framing and Connection have tests of their own).
    const common = ['server', 'date', 'content-type', 'cache-control', 'etag', 'last-modified', 'vary', 'location', 'expires', 'x-served-by', 'x-vm-load', 'keep-alive'];
    const tokenChars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const anyCase = (n: string, upper: boolean[]): string => [...n].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c)).join('');
    const name = fc.tuple(fc.constantFrom(...common), fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), fc.option(fc.tuple(fc.nat(), fc.constantFrom(...tokenChars)))).map(([n, upper, change]) => {
      const cased = anyCase(n, upper);
      if (change === null) return cased;
      const at = change[0] % n.length;
      return `${cased.slice(0, at)}${change[1]}${cased.slice(at + 1)}`;
    });
    fc.assert(
      fc.property(fc.uniqueArray(name, { selector: (n) => n.toLowerCase(), maxLength: 6 }), cuts, (names, at) => {
        const lines = names.map((n, i) => `${n}: v${i}\r\n`).join('');
        const parsed = parse(split(text(`HTTP/1.1 200 OK\r\n${lines}content-length: 0\r\n\r\n`), at));
        expect(parsed.error).toBeUndefined();
        expect(parsed.heads[0].headers).toEqual(Object.fromEntries([...names.map((n, i) => [n.toLowerCase(), `v${i}`]), ['content-length', '0']]));
      }),
    );
  });

  it('refuses a head or trailer with a control character (other than a tab) or a lone CR or LF anywhere', () => {
    const control = fc.integer({ min: 0, max: 0x1f }).filter((c) => c !== 0x09).chain((c) => fc.constantFrom(String.fromCharCode(c), '\x7f'));
    const wires = [
      (c: string) => `HTTP/1.1 200 O${c}K\r\ncontent-length: 0\r\n\r\n`,
      (c: string) => `HTTP/1.1 200 OK\r\nx-a: 1${c}\r\ncontent-length: 0\r\n\r\n`,
      (c: string) => `HTTP/1.1 200 OK\r\nx-a:${c}1\r\ncontent-length: 0\r\n\r\n`,
      (c: string) => `HTTP/1.1 200 OK\r\nx${c}a: 1\r\ncontent-length: 0\r\n\r\n`,
      (c: string) => `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx-a: ${c}1\r\n\r\n`,
    ];
    fc.assert(
      fc.property(control, fc.constantFrom(...wires), cuts, (c, wire, at) => {
        // A CR or LF can end the head early instead: then its rest is bytes nobody asked for, or not a head.
        expect(parse(split(text(wire(c)), at)).error).toBeDefined();
      }),
    );
  });

  it('accepts equal duplicate Content-Lengths and refuses differing ones', () => {
    expect(parse([text('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok')]).ends).toEqual([true]);
    expect(parse([text('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok')]).error).toMatch(/Content-Length/);
  });

  it('with both Transfer-Encoding and Content-Length, chunked wins and the connection is not reused', () => {
    const parsed = parse([text('HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n')]);
    expect(parsed.body.toString()).toBe('ok');
    expect(parsed.ends).toEqual([false]);
  });

  it('does not reuse a connection the backend closes, nor an HTTP/1.0 one without keep-alive, nor one with bytes after the response', () => {
    expect(parse([text('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')]).ends).toEqual([false]);
    expect(parse([text('HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\ncontent-length: 0\r\n\r\n')]).ends).toEqual([false]);
    expect(parse([text('HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n')]).ends).toEqual([false]);
    expect(parse([text('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n')]).ends).toEqual([true]);
    expect(parse([text('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n')]).ends).toEqual([false]);
  });

  it('reads the Keep-Alive timeout hint in ms', () => {
    const parser = new ResponseParser({ onHead: () => undefined, onBody: () => undefined, onEnd: () => undefined });
    parser.expect(false);
    parser.push(text('HTTP/1.1 200 OK\r\nkeep-alive: max=100, timeout=5\r\ncontent-length: 0\r\n\r\n'));
    expect(parser.keepAliveHintMs).toBe(5000);
    parser.expect(false);
    parser.push(text('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    expect(parser.keepAliveHintMs).toBeUndefined();
  });

  it('serves one response after another on the same connection', () => {
    const heads: number[] = [];
    const parser = new ResponseParser({ onHead: (status) => heads.push(status), onBody: () => undefined, onEnd: () => undefined });
    for (const status of [200, 404, 204]) {
      parser.expect(false);
      parser.push(text(`HTTP/1.1 ${status} X\r\ncontent-length: 0\r\n\r\n`));
    }
    expect(heads).toEqual([200, 404, 204]);
    expect(() => parser.push(text('H'))).toThrow(/after its response ended/);
  });

  it('refuses a head over 16 KiB, split or whole, and accepts one just under it', () => {
    const head = (bytes: number): Buffer => {
      const start = 'HTTP/1.1 200 OK\r\nx-big: ';
      const end = '\r\ncontent-length: 0\r\n\r\n';
      return text(start + 'a'.repeat(bytes - start.length - end.length) + end);
    };
    expect(parse([head(MAX_HEAD_BYTES)]).ends).toEqual([true]);
    expect(parse([head(MAX_HEAD_BYTES + 1)]).error).toMatch(/16 KiB/);
    const unfinished = text(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(MAX_HEAD_BYTES)}`);
    expect(parse(split(unfinished, [100, 5000, 9000])).error).toMatch(/16 KiB/);
  });

  it.each([
    ['a bad status line', 'HTTP/2 200 OK\r\ncontent-length: 0\r\n\r\n'],
    ['a status of two digits', 'HTTP/1.1 20 OK\r\ncontent-length: 0\r\n\r\n'],
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n'],
    ['an obsolete folded header line', 'HTTP/1.1 200 OK\r\nx-a: 1\r\n  folded\r\ncontent-length: 0\r\n\r\n'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nnot a header\r\n\r\n'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\ncontent-length : 0\r\n\r\n'],
    ['a bare LF inside the head', 'HTTP/1.1 200 OK\nx-a: 1\r\ncontent-length: 0\r\n\r\n'],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n'],
    ['a Content-Length list', 'HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok'],
    ['a transfer coding other than chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n'],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk data longer than its size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokk\r\n0\r\n\r\n'],
    ['a malformed trailer', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n'],
  ])('refuses %s', (_name, wire) => {
    expect(parse([text(wire)]).error).toBeDefined();
  });

  it('refuses a connection that closes before its response ends', () => {
    expect(parse([text('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort')], { close: true }).error).toMatch(/before its response ended/);
    expect(parse([text('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n')], { close: true }).error).toMatch(/before its response ended/);
    expect(parse([text('HTTP/1.1 200 O')], { close: true }).error).toMatch(/before its response ended/);
  });
});
