import type { IncomingMessage } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { hasBody, originPath, readRequestInfo } from '../../dispatcher/request-info.js';
import { SessionSigner } from '../../dispatcher/session-cookie.js';

const secret = Buffer.alloc(32, 7);

function request(method: string, headers: Record<string, string>, remoteAddress = '10.0.0.9'): IncomingMessage {
  return { method, headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

describe('SessionSigner', () => {
  const signer = new SessionSigner(secret);

  it('round-trips a pin, including backend ids with dots', () => {
    const value = signer.sign('abc', 'web.1');
    expect(signer.verify(value)).toEqual({ sessionId: 'abc', backend: 'web.1' });
  });

  it('ignores a tampered backend, session or MAC, and a value signed with another secret', () => {
    const value = signer.sign('abc', 'web-1');
    const [session, backend, mac] = value.split('.');
    const forged = Buffer.from('web-2').toString('base64url');
    expect(signer.verify(`${session}.${forged}.${mac}`)).toBeUndefined();
    expect(signer.verify(`abd.${backend}.${mac}`)).toBeUndefined();
    expect(signer.verify(`${session}.${backend}.${mac.slice(0, -2)}AA`)).toBeUndefined();
    expect(signer.verify(`${session}.${backend}`)).toBeUndefined();
    expect(new SessionSigner(Buffer.alloc(32, 8)).verify(value)).toBeUndefined();
  });

  it('signs a session once: the same Set-Cookie for it again, and no MAC for a value it issued or already verified', () => {
    const fresh = new SessionSigner(secret);
    const macs = vi.spyOn(fresh as unknown as { mac(payload: string): Buffer }, 'mac');
    const header = fresh.setCookie('sid', 's1', 'web-2');
    expect(header).toMatch(/^sid=s1\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(fresh.setCookie('sid', 's1', 'web-2')).toBe(header);
    const value = header.slice('sid='.length, header.indexOf(';'));
    expect(fresh.verify(value)).toEqual({ sessionId: 's1', backend: 'web-2' });
    expect(macs).toHaveBeenCalledTimes(1);
    // A re-pin, or another cookie name, is another cookie; a value from another dispatcher with the
    // same secret is verified once, then known.
    expect(fresh.setCookie('sid', 's1', 'web-3')).not.toBe(header);
    expect(fresh.setCookie('other', 's1', 'web-2')).toMatch(/^other=/);
    const elsewhere = signer.sign('s2', 'web-1');
    expect(fresh.verify(elsewhere)).toEqual({ sessionId: 's2', backend: 'web-1' });
    expect(fresh.verify(elsewhere)).toEqual({ sessionId: 's2', backend: 'web-1' });
    expect(macs).toHaveBeenCalledTimes(4);
    // A tampered value is never taken from the cache.
    expect(fresh.verify(`${value.slice(0, -2)}AA`)).toBeUndefined();
  });

  it('remembers at most `cachedSessions` sessions, and never a value that does not verify', () => {
    const bounded = new SessionSigner(secret, 2);
    const macs = vi.spyOn(bounded as unknown as { mac(payload: string): Buffer }, 'mac');
    const [first, second, third] = ['s1', 's2', 's3'].map((id) => bounded.sign(id, 'web-1'));
    expect(macs).toHaveBeenCalledTimes(3);
    // The two most recent are known; the first was forgotten, so it is verified (a MAC) again.
    expect(bounded.verify(second)).toEqual({ sessionId: 's2', backend: 'web-1' });
    expect(bounded.verify(third)).toEqual({ sessionId: 's3', backend: 'web-1' });
    expect(macs).toHaveBeenCalledTimes(3);
    expect(bounded.verify(first)).toEqual({ sessionId: 's1', backend: 'web-1' });
    expect(macs).toHaveBeenCalledTimes(4);
    // A client sending made-up cookies costs a MAC each time and takes no place in the cache.
    const forged = `s9.${Buffer.from('web-2').toString('base64url')}.${'A'.repeat(22)}`;
    for (let i = 0; i < 3; i++) expect(bounded.verify(forged)).toBeUndefined();
    expect(macs).toHaveBeenCalledTimes(7);
    expect(bounded.verify(first)).toEqual({ sessionId: 's1', backend: 'web-1' });
    expect(macs).toHaveBeenCalledTimes(7);
  });

  it('remembers Cookie headers whose pin verified, whoever sends them, never one that did not', () => {
    const fresh = new SessionSigner(secret);
    const verifies = vi.spyOn(fresh, 'verify');
    const value = fresh.sign('s1', 'web-2');
    const header = `other=1; sid=${value}`;
    const pinned = { sessionId: 's1', backend: 'web-2' };
    expect(fresh.pinIn(header, 'sid')).toEqual(pinned);
    // The same header again (an equal string, as each request parses its own), on any connection.
    expect(fresh.pinIn(`other=1; sid=${value}`, 'sid')).toEqual(pinned);
    expect(verifies).toHaveBeenCalledTimes(1);
    // Another cookie name, or another header, is read and verified afresh.
    expect(fresh.pinIn(header, 'other')).toBeUndefined();
    const tampered = `sid=${value.slice(0, -2)}AA`;
    expect(fresh.pinIn(tampered, 'sid')).toBeUndefined();
    expect(fresh.pinIn(tampered, 'sid')).toBeUndefined();
    expect(verifies).toHaveBeenCalledTimes(4);
    // A re-pin the client now returns is its own header.
    const repinned = fresh.setCookie('sid', 's1', 'web-3').split(';')[0];
    expect(fresh.pinIn(repinned, 'sid')).toEqual({ sessionId: 's1', backend: 'web-3' });
    expect(fresh.pinIn(repinned, 'sid')).toEqual({ sessionId: 's1', backend: 'web-3' });
    expect(verifies).toHaveBeenCalledTimes(5);
    // A long header is parsed each time rather than kept (the cache stays small).
    const long = `pad=${'x'.repeat(2000)}; sid=${value}`;
    expect(fresh.pinIn(long, 'sid')).toEqual(pinned);
    expect(fresh.pinIn(long, 'sid')).toEqual(pinned);
    expect(verifies).toHaveBeenCalledTimes(7);
  });

  it('makes distinct session ids without the separator', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => signer.newSessionId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).not.toContain('.');
  });

  it('refuses a short secret', () => {
    expect(() => new SessionSigner(Buffer.alloc(8))).toThrow(/at least 16 bytes/);
  });
});

describe('originPath', () => {
  it('keeps origin-form targets and reduces absolute-form ones to path and query', () => {
    expect(originPath('/a/b?x=1')).toBe('/a/b?x=1');
    expect(originPath('http://elsewhere/x?y=2')).toBe('/x?y=2');
    expect(originPath('HTTP://elsewhere:9999')).toBe('/');
    expect(originPath('*')).toBe('*');
  });

  it('refuses targets that are not paths', () => {
    expect(originPath('elsewhere:443')).toBeUndefined();
    expect(originPath('ftp://elsewhere/x')).toBeUndefined();
    expect(originPath('')).toBeUndefined();
    expect(originPath(undefined)).toBeUndefined();
  });
});

describe('readRequestInfo', () => {
  const signer = new SessionSigner(secret);
  const cookie = { cookieName: 'dl_session', key: 'cookie' as const };

  it('marks only bodiless safe methods retryable', () => {
    expect(readRequestInfo(request('GET', {}), '/', undefined, signer, 'socket').info.retryable).toBe(true);
    expect(readRequestInfo(request('HEAD', { 'content-length': '0' }), '/', undefined, signer, 'socket').info.retryable).toBe(true);
    expect(readRequestInfo(request('GET', { 'content-length': '5' }), '/', undefined, signer, 'socket').info.retryable).toBe(false);
    expect(readRequestInfo(request('POST', {}), '/', undefined, signer, 'socket').info.retryable).toBe(false);
    expect(hasBody(request('PUT', { 'transfer-encoding': 'chunked' }))).toBe(true);
  });

  it('keys on the path without its query, and on the client address', () => {
    const { info } = readRequestInfo(request('GET', {}), '/cart?id=3', undefined, signer, 'socket');
    expect(info).toMatchObject({ requestKey: '/cart', clientKey: '10.0.0.9' });
    expect(info.sessionKey).toBeUndefined();
  });

  it('pins a session whose cookie verifies', () => {
    const value = signer.sign('s1', 'web-2');
    const parsed = readRequestInfo(request('GET', { cookie: `other=1; dl_session=${value}` }), '/', cookie, signer, 'socket');
    expect(parsed.info).toMatchObject({ sessionKey: 's1', pinned: 'web-2' });
    expect(parsed.cookieSession).toEqual({ id: 's1', fresh: false });
  });

  it('gives a tampered or missing cookie a new session and no pin', () => {
    const value = signer.sign('s1', 'web-2').replace(/\.[^.]+\./, `.${Buffer.from('web-1').toString('base64url')}.`);
    const tampered = readRequestInfo(request('GET', { cookie: `dl_session=${value}` }), '/', cookie, signer, 'socket');
    expect(tampered.info.pinned).toBeUndefined();
    expect(tampered.cookieSession?.id).not.toBe('s1');
    expect(tampered.cookieSession?.fresh).toBe(true);
    const fresh = readRequestInfo(request('GET', {}), '/', cookie, signer, 'socket');
    expect(fresh.info.pinned).toBeUndefined();
    expect(fresh.info.sessionKey).toBe(fresh.cookieSession?.id);
    expect(fresh.cookieSession?.fresh).toBe(true);
    expect(fresh.cookieSession?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('keys sessions on a header or on the client address when the policy says so', () => {
    const header = { cookieName: 'x', key: 'header' as const, headerName: 'X-User' };
    expect(readRequestInfo(request('GET', { 'x-user': 'u7' }), '/', header, signer, 'socket').info.sessionKey).toBe('u7');
    expect(readRequestInfo(request('GET', {}), '/', header, signer, 'socket').info.sessionKey).toBeUndefined();
    const client = { cookieName: 'x', key: 'client' as const };
    expect(readRequestInfo(request('GET', {}), '/', client, signer, 'socket').info.sessionKey).toBe('10.0.0.9');
  });

  it('takes the client key from X-Forwarded-For (its first address) when trusted, never when reading the socket', () => {
    const forwarded = request('GET', { 'x-forwarded-for': '2001:db8::7, 10.1.1.1' });
    expect(readRequestInfo(forwarded, '/', undefined, signer, 'x-forwarded-for').info.clientKey).toBe('2001:db8::7');
    expect(readRequestInfo(forwarded, '/', undefined, signer, 'socket').info.clientKey).toBe('10.0.0.9');
    // No header: the socket's address, whatever the setting.
    expect(readRequestInfo(request('GET', {}), '/', undefined, signer, 'x-forwarded-for').info.clientKey).toBe('10.0.0.9');
    const client = { cookieName: 'x', key: 'client' as const };
    expect(readRequestInfo(forwarded, '/', client, signer, 'x-forwarded-for').info.sessionKey).toBe('2001:db8::7');
  });

  it('lets a trusted front name a new cookie session (X-Session-Id), never pin it; the socket setting ignores the name', () => {
    const named = readRequestInfo(request('GET', { 'x-session-id': 's7' }), '/', cookie, signer, 'x-forwarded-for');
    expect(named.info).toMatchObject({ sessionKey: 's7' });
    expect(named.info.pinned).toBeUndefined();
    expect(named.cookieSession).toEqual({ id: 's7', fresh: true });
    expect(readRequestInfo(request('GET', { 'x-session-id': 's7' }), '/', cookie, signer, 'socket').cookieSession?.id).not.toBe('s7');
    // A signed cookie wins over the header.
    const value = signer.sign('s1', 'web-2');
    expect(readRequestInfo(request('GET', { 'x-session-id': 's7', cookie: `dl_session=${value}` }), '/', cookie, signer, 'x-forwarded-for').info).toMatchObject({ sessionKey: 's1', pinned: 'web-2' });
  });
});
