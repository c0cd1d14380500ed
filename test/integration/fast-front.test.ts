import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ScenarioSchema } from '../../core/scenario.js';
import { closeConnectionsAfterResponse, closeServer, listen } from '../../core/server-lifecycle.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { FastFront } from '../../dispatcher/fast-front.js';
import type { ProxyRequest, ProxyResponse } from '../../dispatcher/proxy-message.js';
import { until } from './dispatcher-helpers.js';

// The fast front (dispatcher/fast-front.ts) on real sockets: what it hands to node:http reaches
// node:http's parser whole, its answers are byte for byte node:http's, and the server behaviour
// node:http gave (keep-alive, idle close, graceful drain, pipelining) holds on its connections.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Front {
  readonly port: number;
  readonly server: FastFront;
  /** Each request the handler got: which lane served it, its method and path. */
  readonly seen: string[];
}

/** A front whose handler answers `<lane> <method> <url>` (the lane: node:http's objects or the front's own). */
async function startFront(opts: { keepAliveTimeoutMs?: number; headersTimeoutMs?: number; hold?: (res: ProxyResponse) => boolean } = {}): Promise<Front> {
  const httpServer = http.createServer();
  const server = new FastFront(httpServer, { keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 65_000, headersTimeoutMs: opts.headersTimeoutMs ?? 10_000, checkIntervalMs: 20 });
  const seen: string[] = [];
  server.on('request', (req: ProxyRequest, res: ProxyResponse) => {
    const lane = req instanceof http.IncomingMessage ? 'node' : 'fast';
    const line = `${lane} ${req.method} ${req.url}`;
    seen.push(line);
    const answer = (): void => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(line) });
      res.end(line);
    };
    const respond = (): void => {
      if (opts.hold?.(res) !== true) answer();
    };
    // node:http's request: answer once it is read (its body, if any), as the proxy does.
    if (req instanceof http.IncomingMessage && !req.complete) req.resume().once('end', respond);
    else respond();
  });
  const port = await listen(server, 0, '127.0.0.1', 'fast front test');
  cleanups.push(() => closeServer(server, 0));
  return { port, server, seen };
}

interface RawClient {
  readonly socket: net.Socket;
  text(): string;
  readonly ended: Promise<void>;
}

function rawClient(port: number): RawClient {
  const socket = net.connect(port, '127.0.0.1');
  let data = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (data += chunk));
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  cleanups.push(() => void socket.destroy());
  return { socket, text: () => data, ended };
}

/** The bodies of the answers in `text`, in order (each framed by its Content-Length). */
function bodies(text: string): string[] {
  const out: string[] = [];
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) return out;
    const length = Number(/content-length: (\d+)/i.exec(rest.slice(0, headEnd))?.[1] ?? 0);
    out.push(rest.slice(headEnd + 4, headEnd + 4 + length));
    rest = rest.slice(headEnd + 4 + length);
  }
}

const GET = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

describe('the fast front hands connections to node:http with their buffered bytes', () => {
  it('a POST after a GET on one keep-alive connection: the GET fast, the POST and its body parsed by node:http', async () => {
    const front = await startFront();
    const client = rawClient(front.port);
    client.socket.write(GET('/first'));
    await until(() => bodies(client.text()).length === 1);
    client.socket.write('POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    await client.ended;
    expect(bodies(client.text())).toEqual(['fast GET /first', 'node POST /second']);
  });

  it('a head split across two writes is node:http\'s, which reads the rest', async () => {
    const front = await startFront();
    const client = rawClient(front.port);
    client.socket.write('GET /split HTTP/1.1\r\nHo');
    // Let the front read the first part alone before the rest comes.
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.socket.write('st: x\r\nConnection: close\r\n\r\n');
    await client.ended;
    expect(bodies(client.text())).toEqual(['node GET /split']);
  });

  it('pipelined GET and POST: the GET answered fast, then the POST by node:http, in order', async () => {
    const front = await startFront();
    const client = rawClient(front.port);
    client.socket.write(`${GET('/a')}POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`);
    await client.ended;
    expect(bodies(client.text())).toEqual(['fast GET /a', 'node POST /b']);
  });

  it.each([
    ['a bad header name', 'GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: y\r\n folded\r\n\r\n'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: y\nz\r\n\r\n'],
    ['no Host', 'GET / HTTP/1.1\r\nX-A: y\r\n\r\n'],
    ['two Content-Lengths', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\n'],
  ])('a malformed head (%s) is handed off and answered 400 by node:http', async (_what, head) => {
    const front = await startFront();
    const client = rawClient(front.port);
    client.socket.write(head);
    await client.ended;
    expect(client.text()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(front.seen).toEqual([]);
  });
});

describe('server behaviour on fast-lane connections', () => {
  it('keeps a connection alive across requests, and closes it without a word once idle past the keep-alive timeout', async () => {
    const front = await startFront({ keepAliveTimeoutMs: 1000 });
    const client = rawClient(front.port);
    client.socket.write(GET('/1'));
    await until(() => bodies(client.text()).length === 1);
    client.socket.write(GET('/2'));
    await until(() => bodies(client.text()).length === 2);
    expect(client.text()).toContain('Keep-Alive: timeout=1');
    expect(front.seen).toEqual(['fast GET /1', 'fast GET /2']);
    expect(client.socket.destroyed).toBe(false);
    const answered = client.text();
    await client.ended;
    // Between requests node:http closes without a word: no 408 here.
    expect(client.text()).toBe(answered);
  });

  it('answers 408 to a new connection that sends nothing within the headers timeout and closes it, and keeps one that is answered', async () => {
    const front = await startFront({ headersTimeoutMs: 1000, keepAliveTimeoutMs: 600_000 });
    const served = rawClient(front.port);
    served.socket.write(GET('/kept'));
    await until(() => bodies(served.text()).length === 1);
    const silent = rawClient(front.port);
    await silent.ended;
    expect(silent.text()).toBe('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    expect(bodies(served.text())).toEqual(['fast GET /kept']);
    expect(served.socket.destroyed).toBe(false);
  });

  it('answers pipelined requests in order, each after the one before', async () => {
    const held: ProxyResponse[] = [];
    const front = await startFront({ hold: (res) => held.push(res) === 1 });
    const client = rawClient(front.port);
    client.socket.write(`${GET('/slow')}${GET('/quick')}${GET('/last', 'Connection: close\r\n')}`);
    await until(() => held.length === 1);
    // The first is still unanswered: nothing after it has been served.
    expect(front.seen).toEqual(['fast GET /slow']);
    held[0].writeHead(200, { 'content-length': 4 });
    held[0].end('slow');
    await client.ended;
    expect(bodies(client.text())).toEqual(['slow', 'fast GET /quick', 'fast GET /last']);
  });

  it('a graceful close closes idle connections, lets the request in flight finish, then closes its connection', async () => {
    const held: ProxyResponse[] = [];
    const front = await startFront({ hold: (res) => held.push(res) > 1 });
    const idle = rawClient(front.port);
    idle.socket.write(GET('/answered'));
    await until(() => bodies(idle.text()).length === 1);
    const client = rawClient(front.port);
    client.socket.write(GET('/in-flight'));
    await until(() => held.length === 2);
    // A grace far beyond the test's timeout: only the drain itself can close these connections.
    const closed = closeServer(front.server, 600_000);
    await idle.ended;
    expect(client.socket.destroyed).toBe(false);
    held[1].writeHead(200, { 'content-length': 4 });
    held[1].end('done');
    await client.ended;
    await closed;
    expect(client.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(bodies(client.text())).toEqual(['done']);
  });

  it('a graceful close waits for a request on a handed-off connection, and counts it as the front\'s', async () => {
    const held: ProxyResponse[] = [];
    const front = await startFront({ hold: (res) => held.push(res) > 0 });
    const client = rawClient(front.port);
    client.socket.write('DELETE /x HTTP/1.0\r\nHost: x\r\n\r\n');
    await until(() => held.length === 1);
    expect(front.seen).toEqual(['node DELETE /x']);
    const connections = await new Promise<number>((resolve) => front.server.getConnections((_err, n) => resolve(n)));
    expect(connections).toBe(1);
    let closed = false;
    const closing = closeServer(front.server, 600_000).then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    held[0].writeHead(200, { 'content-length': 4 });
    held[0].end('done');
    await closing;
    await client.ended;
    expect(bodies(client.text())).toEqual(['done']);
  });

  it('during a drain (closeConnectionsAfterResponse) a kept-alive connection\'s next answer says close, and the connection closes', async () => {
    const front = await startFront();
    const client = rawClient(front.port);
    client.socket.write(GET('/before'));
    await until(() => bodies(client.text()).length === 1);
    closeConnectionsAfterResponse(front.server);
    client.socket.write(GET('/during'));
    await client.ended;
    const answers = client.text().split('HTTP/1.1 ').slice(1);
    expect(answers.map((a) => /\r\nConnection: ([\w-]+)/.exec(a)?.[1])).toEqual(['keep-alive', 'close']);
    expect(bodies(client.text())).toEqual(['fast GET /before', 'fast GET /during']);
  });

  it('a client that resets its connection mid-request closes the response, once, and nothing crashes', async () => {
    const held: ProxyResponse[] = [];
    const front = await startFront({ hold: (res) => held.push(res) > 0 });
    const client = rawClient(front.port);
    client.socket.write(GET('/left'));
    await until(() => held.length === 1);
    let closes = 0;
    held[0].once('close', () => closes++);
    client.socket.resetAndDestroy();
    await until(() => closes === 1);
    expect(held[0].destroyed).toBe(true);
    expect(held[0].writableFinished).toBe(false);
  });
});

// --- The same answers through both fronts of a dispatcher -------------------------------------

/** A backend whose answer depends on the path (the proxy relays it). */
async function startBackend(onClose?: () => void): Promise<string> {
  const backend = http.createServer((req, res) => {
    res.sendDate = false;
    switch (req.url) {
      case '/no-content':
        res.writeHead(204, { 'x-kind': 'empty' });
        res.end();
        return;
      case '/chunked':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first,');
        setTimeout(() => res.end('second'), 10);
        return;
      case '/stall':
        res.on('close', () => onClose?.());
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        return;
      default:
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5, 'set-cookie': ['a=1', 'b=2'] });
        res.end('hello');
    }
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => backend.close(() => resolve())));
  backend.keepAliveTimeout = 65_000;
  return `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
}

async function dispatcherWith(front: 'fast' | 'node', backendUrl: string, client: Record<string, unknown> = {}): Promise<RunningDispatcher> {
  const d = await startDispatcher({
    settings: ScenarioSchema.shape.dispatcher.parse({ retries: 0, client: { ...client, front } }),
    backends: [{ id: 'a', url: backendUrl }],
    policy: 'round-robin',
    healthChecks: false,
    admin: false,
  });
  cleanups.push(() => d.close(0));
  return d;
}

/** Send `text` on a new connection and read to its close; the Date line is the one thing allowed to differ. */
async function exchange(url: string, text: string): Promise<string> {
  const client = rawClient(Number(new URL(url).port));
  client.socket.write(text);
  await client.ended;
  return client.text().replace(/^date: .*\r\n/gim, 'Date: <now>\r\n');
}

describe('fast-lane answers are byte for byte what node:http writes', () => {
  it.each([
    ['HEAD', `HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['HEAD of an answer without a length', `HEAD /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['204', `GET /no-content HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['chunked', `GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['keep-alive then close, with two cookies', `GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['OPTIONS', `OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
  ])('%s', async (_what, request) => {
    const backend = await startBackend();
    const [fast, node] = await Promise.all([dispatcherWith('fast', backend), dispatcherWith('node', backend)]);
    const [fromFast, fromNode] = await Promise.all([exchange(fast.url, request), exchange(node.url, request)]);
    expect(fromFast).toMatch(/^HTTP\/1\.1 /);
    expect(fromFast).toBe(fromNode);
  });

  it('the dispatcher\'s own answer (503, no backend) and its keep-alive framing', async () => {
    const backend = await startBackend();
    const [fast, node] = await Promise.all([dispatcherWith('fast', backend), dispatcherWith('node', backend)]);
    fast.control.drain('a');
    node.control.drain('a');
    const request = `GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    const [fromFast, fromNode] = await Promise.all([exchange(fast.url, request), exchange(node.url, request)]);
    expect(fromFast).toContain('HTTP/1.1 503 Service Unavailable\r\n');
    expect(fromFast).toBe(fromNode);
  });

  it('a new connection that sends nothing: 408 once the headers timeout runs out, then closed', async () => {
    const backend = await startBackend();
    const client = { headersTimeoutMs: 500, requestTimeoutMs: 1000 };
    const [fast, node] = await Promise.all([dispatcherWith('fast', backend, client), dispatcherWith('node', backend, client)]);
    const [fromFast, fromNode] = await Promise.all([exchange(fast.url, ''), exchange(node.url, '')]);
    expect(fromFast).toContain('HTTP/1.1 408 Request Timeout\r\n');
    expect(fromFast).toBe(fromNode);
  });

  it('a client that leaves mid-answer aborts the upstream request', async () => {
    let upstreamClosed = 0;
    const backend = await startBackend(() => upstreamClosed++);
    const fast = await dispatcherWith('fast', backend);
    const client = rawClient(Number(new URL(fast.url).port));
    client.socket.write(`GET /stall HTTP/1.1\r\nHost: x\r\n\r\n`);
    await until(() => client.text().includes('partial'));
    client.socket.destroy();
    await until(() => upstreamClosed === 1);
  });
});
