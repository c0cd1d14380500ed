import { parse as parseQuery } from 'node:querystring';
import { parse as parseUrl } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ownRoute, parseTarget, requestIndex } from '../../backends/replica-app.js';

/**
 * How the replica reads a request target without express: the path its request classes match,
 * the request index `?n=I`, and its own routes. The oracle is what express read from the same
 * target (parseurl's url.parse for the path and query, node:querystring for `n`, then the replica's
 * "an integer of 1 to 15 digits" rule), so the replica routes and costs every request as before.
 */

function expressIndex(url: string): number | undefined {
  const n = parseQuery(parseUrl(url).query ?? '').n;
  return typeof n === 'string' && /^\d{1,15}$/.test(n) ? Number(n) : undefined;
}

describe('request target', () => {
  it('reads the path and query of origin and absolute forms, without the fragment', () => {
    expect(parseTarget('/page?n=3&s=1')).toEqual({ path: '/page', query: 'n=3&s=1' });
    expect(parseTarget('/page')).toEqual({ path: '/page', query: '' });
    expect(parseTarget('/page?')).toEqual({ path: '/page', query: '' });
    expect(parseTarget('/api/x?n=5#top')).toEqual({ path: '/api/x', query: 'n=5' });
    expect(parseTarget('/a#b?n=5')).toEqual({ path: '/a', query: '' });
    expect(parseTarget('http://replica:9100/api?n=5')).toEqual({ path: '/api', query: 'n=5' });
    expect(parseTarget('http://replica:9100?n=5')).toEqual({ path: '/', query: 'n=5' });
    // Neither decoded nor normalised: a route matches what the client sent.
    expect(parseTarget('/a/../api%2Fx?n=1').path).toBe('/a/../api%2Fx');
    expect(parseTarget('//api').path).toBe('//api');
  });

  it('reads the path as express did for any target', () => {
    const part = fc.constantFrom('/', 'api', 'a', '?', '&', '=', 'n', '#', '%2F', '..', '5');
    // An absolute form's authority ends where the path, query or fragment begins.
    const head = fc.constantFrom('/', 'http://h:1/', 'http://h:1?', 'http://h:1#');
    const target = fc.tuple(head, fc.array(part, { maxLength: 10 })).map(([start, parts]) => start + parts.join(''));
    fc.assert(
      fc.property(target, (url) => {
        const expected = parseUrl(url);
        expect(parseTarget(url)).toEqual({ path: expected.pathname ?? '/', query: expected.query ?? '' });
      }),
    );
  });

  it('takes the request index from n, as generated and however else express read it', () => {
    expect(requestIndex('n=0')).toBe(0);
    expect(requestIndex('n=42&s=3')).toBe(42);
    expect(requestIndex('x=1&n=12')).toBe(12);
    expect(requestIndex('n=999999999999999')).toBe(999_999_999_999_999);
    expect(requestIndex('n=%35')).toBe(5);
    expect(requestIndex('%6E=5')).toBe(5);
    for (const none of ['', 'x=1', 'n', 'n=', 'n=-1', 'n=5.0', 'n=1e3', 'n= 5', 'n=+5', 'n=1234567890123456', 'n[]=5', 'nn=5', 'n=5&n=5', 'n=5&n=6']) {
      expect(requestIndex(none), none).toBeUndefined();
    }
  });

  it('agrees with express on the index of any query', () => {
    const part = fc.constantFrom('n', 'n=', '=', '&', '7', '0', '%6E', '%35', '%zz', '+', 'x', '[]', '.', '-');
    fc.assert(
      fc.property(fc.array(part, { maxLength: 8 }), (parts) => {
        const url = `/page?${parts.join('')}`;
        expect(requestIndex(parseTarget(url).query)).toBe(expressIndex(url));
      }),
    );
  });

  it("matches the replica's own routes as express's router did: any letter case, one trailing slash", () => {
    expect(ownRoute('/healthz')).toBe('/healthz');
    expect(ownRoute('/HEALTHZ')).toBe('/healthz');
    expect(ownRoute('/load/')).toBe('/load');
    expect(ownRoute('/Metrics')).toBe('/metrics');
    for (const other of ['/', '/healthz//', '/healthz/x', '/healthz%2F', '//load', '/loads', '/page', '']) {
      expect(ownRoute(other), other).toBeUndefined();
    }
  });
});
