import { describe, expect, it } from 'vitest';
import { MAX_FAST_HEAD_BYTES, parseFastHead } from '../../dispatcher/fast-front.js';
import { MAX_REQUEST_HEADERS } from '../../dispatcher/request-guard.js';

// What the fast front serves itself and what it hands to node:http (dispatcher/fast-front.ts):
// anything doubtful goes to node:http, never guessed.

const head = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('parseFastHead', () => {
  it('takes a bodyless HTTP/1.1 request: method, target, headers lower-cased and trimmed, raw headers as sent, and the head\'s length', () => {
    const text = 'GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For:  10.0.0.1 \r\nCookie: s=1\r\n\r\n';
    const parsed = parseFastHead(head(`${text}GET /next HTTP/1.1\r\n`));
    expect(parsed).toEqual({
      method: 'GET',
      url: '/a?b=1',
      headers: { host: 'x', 'x-forwarded-for': '10.0.0.1', cookie: 's=1' },
      rawHeaders: ['Host', 'x', 'X-Forwarded-For', '10.0.0.1', 'Cookie', 's=1'],
      length: text.length,
    });
  });

  it.each(['HEAD', 'DELETE', 'OPTIONS'])('takes %s, and a Content-Length of 0', (method) => {
    expect(parseFastHead(head(`${method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`))?.method).toBe(method);
  });

  it('takes MAX_REQUEST_HEADERS headers, not one more', () => {
    const headers = (n: number): string => Array.from({ length: n - 1 }, (_, i) => `X-${i}: v\r\n`).join('');
    expect(parseFastHead(head(`GET / HTTP/1.1\r\nHost: x\r\n${headers(MAX_REQUEST_HEADERS)}\r\n`))).toBeDefined();
    expect(parseFastHead(head(`GET / HTTP/1.1\r\nHost: x\r\n${headers(MAX_REQUEST_HEADERS + 1)}\r\n`))).toBeUndefined();
  });

  it.each([
    ['an incomplete head', 'GET / HTTP/1.1\r\nHost: x\r\n'],
    ['POST', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'],
    ['CONNECT', 'CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a lower-case method', 'get / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['HTTP/1.0', 'GET / HTTP/1.0\r\nHost: x\r\n\r\n'],
    ['HTTP/0.9', 'GET /\r\n\r\n'],
    ['an absolute-form target', 'GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['the asterisk form', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['two spaces in the request line', 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a body length', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'],
    ['Transfer-Encoding', 'DELETE / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['Expect', 'GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n'],
    ['Upgrade', 'GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'],
    ['no Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
    ['a header twice', 'GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\t2\r\n\r\n'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r2\r\n\r\n'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\x002\r\n\r\n'],
    ['obs-text in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\n\r\n'],
    ['a non-ASCII target', 'GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n'],
  ])('hands off %s', (_what, text) => {
    expect(parseFastHead(head(text))).toBeUndefined();
  });

  it('hands off a head over MAX_FAST_HEAD_BYTES', () => {
    const fill = (n: number): string => `GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(n)}\r\n\r\n`;
    const base = fill(0).length;
    expect(parseFastHead(head(fill(MAX_FAST_HEAD_BYTES - base)))).toBeDefined();
    expect(parseFastHead(head(fill(MAX_FAST_HEAD_BYTES - base + 1)))).toBeUndefined();
  });
});

/** The fast lane's rules as the patterns they were first written as: parseFastHead must agree with them on every head. */
function byPatterns(data: Buffer): string | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0 || end + 4 > MAX_FAST_HEAD_BYTES) return undefined;
  const lines = data.toString('latin1', 0, end).split('\r\n');
  const requestLine = /^(GET|HEAD|DELETE|OPTIONS) (\/[\x21-\x7e]*) HTTP\/1\.1$/.exec(lines[0]);
  if (requestLine === null || lines.length - 1 > MAX_REQUEST_HEADERS) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const header = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\x20-\x7e\t]*)$/.exec(line);
    if (header === null || headers.has(header[1].toLowerCase())) return undefined;
    headers.set(header[1].toLowerCase(), header[2].trimEnd());
  }
  const length = headers.get('content-length');
  if (!headers.has('host') || (length !== undefined && length !== '0') || ['transfer-encoding', 'expect', 'upgrade'].some((h) => headers.has(h))) return undefined;
  return JSON.stringify([requestLine[1], requestLine[2], [...headers].sort()]);
}

describe('parseFastHead against the patterns', () => {
  it('agrees on random heads made of the bytes that matter (CR, LF, space, tab, colon, NUL, DEL, obs-text)', () => {
    const pieces = ['GET', 'HEAD', 'POST', 'get', ' ', '  ', '/', '/a', '*', 'HTTP/1.1', 'HTTP/1.0', '\r\n', '\r', '\n', '\t', ':', 'Host', 'host', 'X-A', 'Content-Length', '0', '5', 'v', '\x00', '\x7f', '\xe9', '(', '@'];
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let taken = 0;
    for (let round = 0; round < 10000; round++) {
      // Mostly well formed, each part mutated now and then, so both answers occur often.
      const part = (good: string): string => (next(10) === 0 ? pieces[next(pieces.length)] : good);
      let text = `${part('GET')}${part(' ')}${part('/a')}${part(' ')}${part('HTTP/1.1')}\r\n${part('Host')}${part(':')}${part(' ')}${part('v')}\r\n`;
      for (let h = next(3); h > 0; h--) text += `${part('X-A')}${part(':')}${part('\t')}${part('v')}${part(' ')}${part('\r\n')}`;
      text += '\r\n';
      const parsed = parseFastHead(head(text));
      const mine = parsed && JSON.stringify([parsed.method, parsed.url, Object.entries(parsed.headers).sort()]);
      expect(mine, JSON.stringify(text)).toBe(byPatterns(head(text)));
      if (parsed !== undefined) taken++;
    }
    // Both lanes were exercised.
    expect(taken).toBeGreaterThan(500);
    expect(taken).toBeLessThan(9000);
  });
});
