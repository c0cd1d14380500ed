import type { IncomingHttpHeaders } from 'node:http';
import net, { type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ResponseParser } from './http1-response.js';
import { ByTarget, EngineAttempt, NOT_CONNECTED, type ForwardHooks, type ProxyEngine, type ProxyEngineOptions } from './proxy-engine.js';
import type { ProxyRequest, ProxyResponse } from './proxy-message.js';
import { bodyStream, type BufferedBody } from './request-body.js';
import { hasBody } from './request-info.js';

/**
 * The `socket` proxy engine (issue 12): HTTP/1.1 written and parsed by us (http1-response.ts) on
 * pooled node:net sockets. Measured here, undici's client was the largest single cost of a proxied
 * request; a request head written as one string and a response parsed into the client's
 * `res.writeHead` leave only the socket writes and Node's server side.
 *
 * - One pool per backend origin: idle keep-alive sockets are reused last-in first-out (the warm
 *   ones; the rest expire). No bound unless maxSocketsPerBackend, then requests wait first-in
 *   first-out for a socket (the Balancer's maxConnPerBackend is the usual limit, issue 17.1).
 * - A socket goes back to the pool only after a response read to its end whose framing allows
 *   reuse: never after `Connection: close`, a close-delimited body, a dropped attempt, or an answer
 *   before the request's upload ended. An idle socket that closes, fails or sends anything leaves
 *   the pool; it expires before the backend would drop it: `Keep-Alive: timeout=N` less 2 s
 *   (undici's keepAliveTimeoutThreshold), else after 4 s (undici's default). One timer per backend
 *   serves its idle sockets (due when the first expires); a socket in use has none.
 * - The request: its line, the dispatcher's (hop-by-hop cleaned) headers with Host naming the
 *   backend, and framing of our own: a whole body goes in the same write with its length; a body
 *   still streaming from the client is sent with the client's Content-Length when it gave one,
 *   else chunked, and stops at an early answer.
 * - Outcomes as the other engines (EngineAttempt): no timer of its own (the dispatcher's deadline
 *   queues call `timeOut`); a socket error before the response head is a 'connect-error' when
 *   nothing can have reached the backend, else a 'reset'; a malformed response is a 'reset' (502);
 *   death mid-body cuts the client off; the client's broken upload is a 'client-abort'.
 */

/** undici's keepAliveTimeoutThreshold: an idle socket expires this long before the backend's stated timeout. */
const KEEP_ALIVE_MARGIN_MS = 2000;
/** undici's keepAliveTimeout: idle time without a stated one. */
const KEEP_ALIVE_DEFAULT_MS = 4000;
/** undici's keepAliveMaxTimeout. */
const KEEP_ALIVE_MAX_MS = 600_000;

const LAST_CHUNK = Buffer.from('0\r\n\r\n');
/**
 * What every upstream socket reads into (net's `onread`): no Buffer and no stream machinery per
 * read ('data' events, the readable state). One for all of them: a read is parsed to its end
 * before the next one, and what is kept past it (a body chunk, a split head) is copied.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const CRLF = Buffer.from('\r\n');

/** One backend origin's sockets. */
class Upstream {
  readonly idle: Connection[] = [];
  /** Attempts waiting for a socket (only with a bound). */
  readonly waiting: SocketAttempt[] = [];
  /** Open sockets, idle or in use. */
  private readonly sockets = new Set<Connection>();
  /** The one timer of the idle sockets: due when the first of them expires. */
  private expiry: NodeJS.Timeout | undefined = undefined;
  private expiryDueMs = Infinity;

  constructor(
    readonly hostname: string,
    readonly port: number,
    /** The Host header of its requests. */
    readonly host: string,
    private readonly opts: ProxyEngineOptions,
  ) {}

  /** Start `attempt` on a socket now, or once one is free. */
  acquire(attempt: SocketAttempt): void {
    const idle = this.idle.pop();
    if (idle !== undefined) {
      attempt.start(idle);
    } else if (this.opts.maxSocketsPerBackend === undefined || this.sockets.size < this.opts.maxSocketsPerBackend) {
      attempt.start(this.connect());
    } else {
      this.waiting.push(attempt);
    }
  }

  /** `connection`'s response ended: reuse it, or close it. */
  release(connection: Connection, reusable: boolean): void {
    connection.attempt = undefined;
    if (!reusable) {
      connection.socket.destroy();
      return;
    }
    for (let next = this.waiting.shift(); next !== undefined; next = this.waiting.shift()) {
      if (next.waits()) {
        next.start(connection);
        return;
      }
    }
    connection.expiresAtMs = performance.now() + connection.keepAliveMs();
    this.idle.push(connection);
    if (connection.expiresAtMs < this.expiryDueMs) this.expireAt(connection.expiresAtMs);
  }

  /**
   * (Re)arm the idle sockets' timer for `dueMs`. One timer per backend, set when the pool goes
   * idle or a socket expires sooner than the rest (a backend that states a shorter idle time), not
   * a socket timeout that every read and write of every request would restart.
   */
  private expireAt(dueMs: number): void {
    clearTimeout(this.expiry);
    this.expiryDueMs = dueMs;
    this.expiry = setTimeout(this.expire, Math.max(0, dueMs - performance.now())).unref();
  }

  /** Close the idle sockets whose time is up (the backend would close them soon: KEEP_ALIVE_*), and wait for the next. */
  private readonly expire = (): void => {
    this.expiry = undefined;
    this.expiryDueMs = Infinity;
    const nowMs = performance.now();
    let nextMs = Infinity;
    for (const connection of [...this.idle]) {
      if (connection.expiresAtMs <= nowMs) {
        // Out of the pool at once: its 'close' comes later, and no attempt may take it meanwhile.
        this.idle.splice(this.idle.indexOf(connection), 1);
        connection.socket.destroy();
      } else {
        nextMs = Math.min(nextMs, connection.expiresAtMs);
      }
    }
    if (nextMs !== Infinity) this.expireAt(nextMs);
  };

  /** A socket closed: it leaves the pool, and a waiting attempt may open one in its place. */
  closed(connection: Connection): void {
    this.sockets.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    for (let next = this.waiting.shift(); next !== undefined; next = this.waiting.shift()) {
      if (next.waits()) {
        next.start(this.connect());
        return;
      }
    }
  }

  /** Close every socket, idle or in use (as undici's Pool.destroy does). */
  destroy(): void {
    clearTimeout(this.expiry);
    this.waiting.length = 0;
    this.idle.length = 0;
    for (const connection of this.sockets) connection.socket.destroy();
  }

  private connect(): Connection {
    const connection = new Connection(this, (onread) =>
      net.connect({ host: this.hostname, port: this.port, noDelay: true, onread, ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}) }),
    );
    this.sockets.add(connection);
    return connection;
  }
}

/** One upstream socket, its parser, and the attempt it serves (none while idle). Its listeners live as long as it does. */
class Connection {
  attempt: SocketAttempt | undefined = undefined;
  readonly parser: ResponseParser;
  readonly socket: Socket;
  private errorCode = '';
  /** While idle: when it expires (performance.now() ms). */
  expiresAtMs = Infinity;
  /** Resumes the socket once a slow client has drained: one function per socket, not per request. */
  readonly resume = (): void => {
    this.socket.resume();
  };

  constructor(
    readonly upstream: Upstream,
    open: (onread: net.OnReadOpts) => Socket,
  ) {
    this.parser = new ResponseParser({
      onHead: (status, message, headers) => this.attempt?.head(status, message, headers),
      onBody: (chunk, last) => this.attempt?.body(chunk, last),
      onEnd: (reusable) => this.attempt?.end(reusable),
    });
    const socket = open({ buffer: READ_BUFFER, callback: this.read });
    this.socket = socket;
    socket.on('error', (err: NodeJS.ErrnoException) => (this.errorCode = err.code ?? 'ECONNRESET'));
    socket.on('close', () => {
      upstream.closed(this);
      const attempt = this.attempt;
      if (attempt === undefined) return;
      try {
        // A body read until close ends here (and releases the attempt).
        this.parser.closed();
      } catch {
        // The response was not over: the attempt failed, below.
      }
      if (this.attempt === undefined) return;
      this.attempt = undefined;
      attempt.upstreamFailed(this.errorCode || 'ECONNRESET');
    });
  }

  /** A read of `bytes` into READ_BUFFER; true: keep reading (a slow client pauses the socket itself). */
  private readonly read = (bytes: number): boolean => {
    try {
      this.parser.push(READ_BUFFER.subarray(0, bytes));
    } catch {
      this.fail();
    }
    return true;
  };

  /** How long it may stay idle after the last response. */
  keepAliveMs(): number {
    const hint = this.parser.keepAliveHintMs;
    return hint === undefined ? KEEP_ALIVE_DEFAULT_MS : Math.min(hint - KEEP_ALIVE_MARGIN_MS, KEEP_ALIVE_MAX_MS);
  }

  /** Whether a response that allows reuse may be reused: not when the backend's stated idle time is too short to use. */
  keepsAlive(): boolean {
    return this.keepAliveMs() > 0;
  }

  /**
   * Malformed bytes, or any while idle (or an answer the client's response refused): the socket
   * cannot be trusted again, and the attempt is a reset.
   */
  private fail(): void {
    const attempt = this.attempt;
    this.attempt = undefined;
    this.socket.destroy();
    attempt?.malformed();
  }
}

/** Request headers whose framing the engine writes itself. */
function isFraming(name: string): boolean {
  return name === 'content-length' || name === 'transfer-encoding';
}

/** The request line and headers, Host naming the backend, up to the blank line that ends them. */
function requestHead(req: ProxyRequest, host: string, framing: string): string {
  let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\nhost: ${host}\r\n`;
  const headers = req.headers;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name === 'host' || isFraming(name)) continue;
    if (typeof value === 'string') head += `${name}: ${value}\r\n`;
    else for (const one of value) head += `${name}: ${one}\r\n`;
  }
  return `${head}${framing}\r\n`;
}

/** One forward on one upstream socket. */
class SocketAttempt extends EngineAttempt {
  private connection: Connection | undefined = undefined;
  /** The rest of a body still streaming from the client, while it is being sent. */
  private upload: Readable | undefined = undefined;
  private chunked = false;
  private uploaded = true;
  /** Its socket was paused for a slow client (body). */
  private paused = false;

  constructor(
    private readonly req: ProxyRequest,
    res: ProxyResponse,
    hooks: ForwardHooks,
    private readonly upstream: Upstream,
    private readonly requestBody: BufferedBody | undefined,
  ) {
    super(hooks, res, requestBody !== undefined);
  }

  /** Still waiting for a socket (not given up while queued). */
  waits(): boolean {
    return !this.settled && this.connection === undefined;
  }

  /** Write the request on `connection`. */
  start(connection: Connection): void {
    this.connection = connection;
    connection.attempt = this;
    const socket = connection.socket;
    const req = this.req;
    connection.parser.expect(req.method === 'HEAD');
    const body = this.requestBody;
    if (body === undefined) {
      // A client's `Content-Length: 0` is kept (a POST without one is refused by some servers).
      const length = req.headers['content-length'];
      socket.write(requestHead(req, this.upstream.host, length === undefined ? '' : `content-length: ${length}\r\n`), 'latin1');
      return;
    }
    // Only node:http's requests stream a rest (the fast front serves bodyless requests).
    if (!body.rest || !hasBody(req)) {
      this.uploaded = false;
      socket.cork();
      socket.write(requestHead(req, this.upstream.host, `content-length: ${body.head.length}\r\n`), 'latin1');
      // Sent once the kernel has it all: an answer before that is an early one.
      socket.write(body.head, (err) => (this.uploaded = !err));
      socket.uncork();
      return;
    }
    const length = req.headers['content-length'];
    this.chunked = length === undefined;
    socket.write(requestHead(req, this.upstream.host, this.chunked ? 'transfer-encoding: chunked\r\n' : `content-length: ${length as string}\r\n`), 'latin1');
    this.uploaded = false;
    const upload = bodyStream(req, body);
    this.upload = upload;
    upload.on('data', (chunk: Buffer) => {
      let more: boolean;
      if (this.chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        more = socket.write(CRLF);
        socket.uncork();
      } else {
        more = socket.write(chunk);
      }
      if (!more) {
        upload.pause();
        socket.once('drain', () => upload.resume());
      }
    });
    upload.on('end', () => {
      this.uploaded = true;
      this.upload = undefined;
      if (this.chunked) socket.write(LAST_CHUNK);
    });
    // The client's upload broke: the client's error, never the backend's.
    upload.on('error', () => {
      this.settle({ kind: 'client-abort' });
      this.dropUpstream();
    });
  }

  /** Close the socket (never pooled again) and stop sending the upload; a queued attempt just stops waiting. */
  protected dropUpstream(): void {
    this.stopUpload();
    const connection = this.connection;
    if (connection === undefined || connection.attempt !== this) return;
    connection.attempt = undefined;
    connection.socket.destroy();
  }

  private stopUpload(): void {
    if (this.upload === undefined) return;
    this.upload.destroy();
    this.upload = undefined;
  }

  head(status: number, statusMessage: string, headers: IncomingHttpHeaders): void {
    if (this.settled || this.droppedForRetry(status)) return;
    // An early answer (a replica's 413 before it read the upload): the rest is not sent, and the
    // socket is not reused (the backend may still be reading, or may have closed its side).
    this.stopUpload();
    this.status = status;
    this.hooks.onResponseHead?.(status, headers);
    if (statusMessage) this.res.writeHead(status, statusMessage, headers);
    else this.res.writeHead(status, headers);
  }

  body(chunk: Buffer, last: boolean): void {
    if (this.settled) return;
    // The chunk is a view of READ_BUFFER: what the response keeps must be a copy.
    const copy = Buffer.from(chunk);
    // The body's last bytes end the answer with them (end() follows, and finds it ended).
    if (last) {
      this.res.end(copy);
      return;
    }
    // Backpressure: a slow client pauses the backend's socket instead of filling our memory.
    if (!this.res.write(copy)) {
      const connection = this.connection as Connection;
      connection.socket.pause();
      this.paused = true;
      this.res.once('drain', connection.resume);
    }
  }

  end(reusable: boolean): void {
    const connection = this.connection as Connection;
    if (this.paused) {
      // The socket was paused for this client: the next attempt on it starts flowing.
      this.res.off('drain', connection.resume);
      connection.socket.resume();
    }
    // The outcome waits for the answer to be flushed to the client (responseClosed).
    if (!this.settled && !this.res.writableEnded) this.res.end();
    this.upstream.release(connection, reusable && this.uploaded && connection.keepsAlive());
  }

  /** The backend's response was not HTTP: a reset (502), never a connect error. */
  malformed(): void {
    this.stopUpload();
    if (this.settled) return;
    this.settle({ kind: 'reset' });
    if (this.status !== undefined) this.res.destroy();
  }

  /** The socket closed or failed before the response ended. */
  upstreamFailed(code: string): void {
    this.stopUpload();
    if (this.settled) return;
    this.failed(code, NOT_CONNECTED);
    // The backend died mid-answer: the client must not wait for bytes that will never come.
    if (this.status !== undefined) this.res.destroy();
  }
}

export function createSocketEngine(opts: ProxyEngineOptions): ProxyEngine {
  // An IPv6 literal's brackets are the URL's, not the address's.
  const upstreams = new ByTarget((target) => new Upstream(target.hostname.replace(/^\[(.*)\]$/, '$1'), Number(target.port || 80), target.host, opts));

  return {
    forward(req, res, target, hooks, body) {
      const upstream = upstreams.of(target);
      const attempt = new SocketAttempt(req, res, hooks, upstream, body);
      upstream.acquire(attempt);
      return attempt;
    },
    close() {
      upstreams.clear((upstream) => upstream.destroy());
    },
  };
}
