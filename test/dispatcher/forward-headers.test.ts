import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { prepareDownstreamHeaders, prepareUpstreamHeaders } from '../../dispatcher/forward-headers.js';

function request(headers: Record<string, string>, httpVersion = '1.1'): IncomingMessage {
  return { headers, httpVersion, socket: { remoteAddress: '10.1.2.3' } } as unknown as IncomingMessage;
}

describe('prepareUpstreamHeaders', () => {
  it('drops hop-by-hop headers and those Connection names, keeps end-to-end ones', () => {
    const req = request({
      host: 'front:80', connection: 'keep-alive, X-Secret', 'x-secret': '1', 'keep-alive': 'timeout=5', te: 'trailers',
      upgrade: 'websocket', 'proxy-authorization': 'Basic x', expect: '100-continue', 'content-length': '3', accept: '*/*',
    });
    const { clientClose } = prepareUpstreamHeaders(req);
    expect(clientClose).toBe(false);
    expect(Object.keys(req.headers).sort()).toEqual(['accept', 'content-length', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
  });

  it('appends to X-Forwarded-For/-Proto and keeps an existing X-Forwarded-Host', () => {
    const req = request({ host: 'front', 'x-forwarded-for': '1.1.1.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'edge' });
    prepareUpstreamHeaders(req);
    expect(req.headers).toMatchObject({ 'x-forwarded-for': '1.1.1.1, 10.1.2.3', 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'edge' });
  });

  it('notices a client that wants the connection closed (explicitly, or HTTP/1.0 by default)', () => {
    expect(prepareUpstreamHeaders(request({ connection: 'close' })).clientClose).toBe(true);
    expect(prepareUpstreamHeaders(request({}, '1.0')).clientClose).toBe(true);
    expect(prepareUpstreamHeaders(request({ connection: 'keep-alive' }, '1.0')).clientClose).toBe(false);
  });
});

describe('prepareDownstreamHeaders', () => {
  it("drops the backend's connection headers and states the client's", () => {
    const headers: Record<string, string> = { connection: 'keep-alive', 'keep-alive': 'timeout=65', 'transfer-encoding': 'chunked', 'x-vm-load': '0.5' };
    prepareDownstreamHeaders(headers, true);
    expect(headers).toEqual({ connection: 'close', 'x-vm-load': '0.5' });
  });
});
