import { EventEmitter } from 'node:events';
import { STATUS_CODES, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server as HttpServer } from 'node:http';
import net, { type Socket } from 'node:net';
import type { ProxyRequest, ProxyResponse } from './proxy-message.js';
import { lowerCaseFieldName } from './http1-response.js';
import { MAX_REQUEST_HEADERS } from './request-guard.js';

/**
 * The fast front of the proxy port (issue 12, `dispatcher.client.front: fast`): a net.Server that
 * parses the common request itself and hands every other connection to node:http's server, for
 * good. node:http's IncomingMessage/ServerResponse streams and header handling cost ~15-20 µs of
 * CPU per request; a bodyless GET answered here costs a fraction of that.
 *
 * - Fast lane: a request head complete in the bytes read so far, HTTP/1.1, GET/HEAD/DELETE/OPTIONS,
 *   an origin-form target, no body (no Content-Length but 0, no Transfer-Encoding), no Expect or
 *   Upgrade, a Host, no header twice, at most MAX_REQUEST_HEADERS headers, a head of at most
 *   MAX_FAST_HEAD_BYTES, every name a token and every value visible ASCII (no CTL, no obs-fold, no
 *   obs-text). It is emitted as this server's 'request' with a FastRequest and a FastResponse, which
 *   the proxy handler takes as it takes node:http's (proxy-message.ts).
 * - Anything else is handed off, never guessed: the connection stops being read here, its buffered
 *   bytes go back into the socket (`unshift`), and node:http's server gets it as a new 'connection'
 *   (Node documents injecting connections this way). So node:http answers malformed heads (400),
 *   slow clients (a head not complete in one read: its headersTimeout, 408), uploads, CONNECT and
 *   HTTP/1.0, and its 'request' events are re-emitted here, so one listener serves both lanes.
 *   A connection is handed off only between answers: a pipelined request waits for the one before.
 * - Answers are serialised as node:http's ServerResponse does (status line, the headers, Date,
 *   Connection and Keep-Alive, chunked framing when there is no length and a body is allowed, none
 *   for HEAD/204/304), the head and a small body in one socket write (what one turn writes is
 *   held until its end, or until end() sends it).
 * - What node:http's server gave: the keep-alive idle timeout (one sweep timer for all
 *   connections, not one per socket), a fresh connection that sends nothing answered node:http's
 *   408 and closed after headersTimeout, maxConnections and the backlog (this server listens),
 *   closeIdleConnections and closeAllConnections over both lanes for core/server-lifecycle.ts's
 *   graceful close, and socket errors that only close their connection.
 */

/** The largest head the fast lane takes (node:http's default maxHeaderSize); a larger one is node:http's to judge. */
export const MAX_FAST_HEAD_BYTES = 16 * 1024;

export interface FastFrontOptions {
  /** Idle time after an answer before a keep-alive connection is closed (node:http's keepAliveTimeout). */
  readonly keepAliveTimeoutMs: number;
  /** How long a new connection may stay silent (node:http's headersTimeout). */
  readonly headersTimeoutMs: number;
  /** How often idle connections are looked for (node:http's connectionsCheckingInterval). */
  readonly checkIntervalMs: number;
}

/** What node:http writes to a connection that sent no complete head within headersTimeout, before it closes it. */
const REQUEST_TIMEOUT_408 = Buffer.from('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
const FAST_METHODS: readonly string[] = ['GET', 'HEAD', 'DELETE', 'OPTIONS'];
const HEAD_END = Buffer.from('\r\n\r\n');
/** The end of the request line. */
const VERSION = ' HTTP/1.1';
/** Body chunks up to this size wait to go out with the head and the rest of the turn's writes. */
const SMALL_WRITE_BYTES = 16 * 1024;
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const SLASH = 0x2f;

/** The bytes of a token (RFC 9110 §5.6.2): a header name. */
const TOKEN_BYTE = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_BYTE[c.charCodeAt(0)] = 1;

/** Whether `data` holds `text`'s characters (latin1) at `at`. */
function bytesAre(data: Buffer, at: number, text: string): boolean {
  for (let k = 0; k < text.length; k++) if (data[at + k] !== text.charCodeAt(k)) return false;
  return true;
}

/** The fast-lane method the `length` bytes at the start of `data` spell, as its (interned) literal. */
function fastMethod(data: Buffer, length: number): string | undefined {
  for (const method of FAST_METHODS) if (method.length === length && bytesAre(data, 0, method)) return method;
  return undefined;
}

/** Visible ASCII: a request target's bytes. */
function isVisible(byte: number): boolean {
  return byte >= 0x21 && byte <= 0x7e;
}

/** A header value's bytes: visible ASCII, spaces and tabs (no CTL, no obs-text). */
function isValueByte(byte: number): boolean {
  return (byte >= SP && byte <= 0x7e) || byte === HTAB;
}

interface ParsedHead {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  /** Bytes of the head, its blank line included. */
  readonly length: number;
}

/**
 * The head at the start of `data` when it is a fast-lane request, else undefined (hand it off).
 * One pass over the bytes: the request line `METHOD /target HTTP/1.1`, then lines of
 * `name:[ \t]*value`, the name a token and the value visible ASCII, spaces and tabs, each line
 * ended by CRLF (a lone CR or LF is no byte of either, so such a head is handed off).
 */
export function parseFastHead(data: Buffer): ParsedHead | undefined {
  const end = data.indexOf(HEAD_END);
  if (end < 0 || end + HEAD_END.length > MAX_FAST_HEAD_BYTES) return undefined;
  // data[end] is CR: every scan below stops there at the latest.
  let i = 0;
  while (data[i] >= 0x41 && data[i] <= 0x5a) i++;
  const method = fastMethod(data, i);
  if (method === undefined || data[i] !== SP || data[i + 1] !== SLASH) return undefined;
  const urlStart = i + 1;
  i = urlStart + 1;
  while (isVisible(data[i])) i++;
  const url = data.toString('latin1', urlStart, i);
  if (i + VERSION.length > end || !bytesAre(data, i, VERSION)) return undefined;
  i += VERSION.length;
  if (data[i] !== CR || data[i + 1] !== LF) return undefined;
  const headers: IncomingHttpHeaders = {};
  const rawHeaders: string[] = [];
  let count = 0;
  while (i < end) {
    const nameStart = i + 2;
    if (++count > MAX_REQUEST_HEADERS) return undefined;
    i = nameStart;
    while (TOKEN_BYTE[data[i]] === 1) i++;
    if (i === nameStart || data[i] !== COLON) return undefined;
    const rawName = data.toString('latin1', nameStart, i);
    i++;
    while (data[i] === SP || data[i] === HTAB) i++;
    const valueStart = i;
    while (isValueByte(data[i])) i++;
    if (data[i] !== CR || data[i + 1] !== LF) return undefined;
    // Node trims the value's surrounding whitespace: only spaces and tabs can be there.
    let valueEnd = i;
    while (valueEnd > valueStart && (data[valueEnd - 1] === SP || data[valueEnd - 1] === HTAB)) valueEnd--;
    const value = data.toString('latin1', valueStart, valueEnd);
    const name = lowerCaseFieldName(rawName, 0, rawName.length);
    // A repeated header is node:http's to combine (its rules differ by name).
    if (headers[name] !== undefined) return undefined;
    headers[name] = value;
    rawHeaders.push(rawName, value);
  }
  const length = headers['content-length'];
  if (
    headers.host === undefined ||
    (length !== undefined && length !== '0') ||
    headers['transfer-encoding'] !== undefined ||
    headers.expect !== undefined ||
    headers.upgrade !== undefined
  ) {
    return undefined;
  }
  return { method, url, headers, rawHeaders, length: end + HEAD_END.length };
}

/** A fast-lane request: its head, read whole; it has no body. */
class FastRequest implements ProxyRequest {
  readonly httpVersion = '1.1';
  readonly httpVersionMajor = 1;
  readonly complete = true;
  readonly readableFlowing = null;
  readonly readableAborted = false;
  readonly method: string;
  url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];

  constructor(
    head: ParsedHead,
    readonly socket: Socket,
  ) {
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.rawHeaders = head.rawHeaders;
  }

  // The request is read whole (complete): there is no body left to drop or to wait for.
  unpipe(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  once(): this {
    return this;
  }
}

let dateLine: string | undefined;
/** The Date header's line, made once a second as node:http makes its value (utcDate): kept until that second ends. */
function httpDateLine(): string {
  if (dateLine === undefined) {
    const date = new Date();
    dateLine = `Date: ${date.toUTCString()}\r\n`;
    setTimeout(forgetDate, 1000 - date.getMilliseconds()).unref();
  }
  return dateLine;
}

function forgetDate(): void {
  dateLine = undefined;
}

/** A fast-lane answer, written straight to the socket as node:http's ServerResponse would write it. */
class FastResponse extends EventEmitter implements ProxyResponse {
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  shouldKeepAlive: boolean;
  /**
   * Bytes not yet written, as a latin1 string (byte for byte): the head, then small body chunks,
   * so the head and a small body leave in one socket write.
   */
  private pending = '';
  private chunked = false;
  private hasBody: boolean;
  /** This answer closes the connection (its Connection header says close). */
  private last = false;
  private flushScheduled = false;
  private draining = false;
  private closed = false;

  constructor(
    private readonly connection: Connection,
    readonly socket: Socket,
    method: string,
    keepAlive: boolean,
  ) {
    super();
    this.hasBody = method !== 'HEAD';
    this.shouldKeepAlive = keepAlive;
  }

  writeHead(status: number, messageOrHeaders?: string | OutgoingHttpHeaders, maybeHeaders?: OutgoingHttpHeaders): this {
    if (this.headersSent) throw new Error('the response head was already written');
    const message = typeof messageOrHeaders === 'string' ? messageOrHeaders : (STATUS_CODES[status] ?? 'unknown');
    const headers = typeof messageOrHeaders === 'string' ? maybeHeaders : messageOrHeaders;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) this.hasBody = false;
    this.headersSent = true;
    let head = `HTTP/1.1 ${status} ${message}\r\n`;
    let connection = false;
    let framed = false;
    let date = false;
    let keepAliveHeader = true;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const one of value) head += `${name}: ${one}\r\n`;
      else head += `${name}: ${value}\r\n`;
      // What node:http's OutgoingMessage reads from the headers it is given (its matchHeader).
      switch (name.toLowerCase()) {
        case 'connection':
          connection = true;
          // The proxy's own answers say keep-alive (forward-headers.ts): no pattern for that one.
          if (value !== 'keep-alive' && /(?:^|\W)close(?:$|\W)/i.test(String(value))) this.last = true;
          else this.shouldKeepAlive = true;
          break;
        case 'content-length':
          framed = true;
          break;
        case 'transfer-encoding':
          framed = true;
          this.chunked = /(?:^|\W)chunked(?:$|\W)/i.test(String(value));
          break;
        case 'date':
          date = true;
          break;
        case 'keep-alive':
          keepAliveHeader = false;
          break;
      }
    }
    if (!date) head += httpDateLine();
    if (!connection) {
      if (this.shouldKeepAlive) head += keepAliveHeader ? this.connection.front.keepAliveLines : 'Connection: keep-alive\r\n';
      else {
        head += 'Connection: close\r\n';
        this.last = true;
      }
    }
    if (!framed && this.hasBody) {
      head += 'Transfer-Encoding: chunked\r\n';
      this.chunked = true;
    }
    this.pending = `${head}\r\n`;
    return this;
  }

  write(chunk: Buffer): boolean {
    const ok = this.append(chunk);
    if (ok === undefined) {
      this.flushSoon();
      return true;
    }
    return ok;
  }

  end(data?: string | Buffer): this {
    if (this.writableEnded) return this;
    // Added to what is pending, not flushed on its own: the write below takes it. (A large one is
    // written at once, after what is pending: so this answer is not ended before it.)
    if (data !== undefined && data.length > 0) this.append(typeof data === 'string' ? Buffer.from(data) : data);
    this.writableEnded = true;
    if (this.chunked && this.hasBody) this.pending += '0\r\n\r\n';
    // One write for what is left, the head and a small body often all of it; its callback says
    // every byte is with the operating system.
    const last = this.pending;
    this.pending = '';
    this.socket.write(last, 'latin1', this.flushed);
    return this;
  }

  /**
   * A body chunk: a small one is added to what is pending (undefined: it waits for a flush); a
   * large one is written after it, and the socket says whether to wait for 'drain'.
   */
  private append(chunk: Buffer): boolean | undefined {
    if (!this.hasBody || chunk.length === 0) return undefined;
    if (chunk.length <= SMALL_WRITE_BYTES) {
      this.pending += this.chunked ? `${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n` : chunk.toString('latin1');
      return undefined;
    }
    this.flush();
    let ok: boolean;
    if (this.chunked) {
      this.socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      this.socket.write(chunk);
      ok = this.socket.write('\r\n', 'latin1');
    } else {
      ok = this.socket.write(chunk);
    }
    if (!ok && !this.draining) {
      this.draining = true;
      this.socket.once('drain', this.drained);
    }
    return ok;
  }

  destroy(): this {
    this.destroyed = true;
    this.socket.destroy();
    return this;
  }

  /** 'close', once: the answer was flushed, or the connection closed before. */
  emitClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }

  /** Send what is pending at the end of this turn, unless end() sends it with the rest first. */
  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(flushPending, this);
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.pending === '' || this.writableEnded) return;
    this.socket.write(this.pending, 'latin1');
    this.pending = '';
  }

  private readonly drained = (): void => {
    this.draining = false;
    this.emit('drain');
  };

  private readonly flushed = (err?: Error | null): void => {
    if (err) return;
    this.writableFinished = true;
    this.connection.answered(this, !this.last);
  };
}

function flushPending(res: FastResponse): void {
  res.flush();
}

function ignore(): void {}

/** One client connection while the fast front serves it. */
class Connection {
  private buffered: Buffer | undefined;
  private response: FastResponse | undefined;
  /** When it went idle (accepted, or its last answer flushed), and how long it may stay so. */
  idleSinceMs = Date.now();
  idleLimitMs: number;
  /** No request has been answered on it yet: past its limit it waited for a head, not between requests. */
  private fresh = true;

  constructor(
    readonly front: FastFront,
    readonly socket: Socket,
  ) {
    this.idleLimitMs = front.headersTimeoutMs;
    socket.on('data', this.data);
    socket.on('close', this.closed);
    // A reset or any socket error only closes this connection ('close' follows).
    socket.on('error', ignore);
  }

  get idle(): boolean {
    return this.response === undefined && this.buffered === undefined;
  }

  private readonly data = (chunk: Buffer): void => {
    this.buffered = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk]);
    if (this.response === undefined) this.serve();
    // Pipelined requests wait for the answer in flight; past a head's worth, TCP holds the rest.
    else if (this.buffered.length > MAX_FAST_HEAD_BYTES) this.socket.pause();
  };

  /** Serve the request at the front of the buffer, or hand the connection off. */
  private serve(): void {
    const data = this.buffered;
    if (data === undefined) return;
    const head = parseFastHead(data);
    if (head === undefined) {
      this.handOff(data);
      return;
    }
    this.buffered = head.length < data.length ? data.subarray(head.length) : undefined;
    const connection = head.headers.connection;
    const keepAlive = connection === undefined || !/(?:^|,)\s*close\s*(?:,|$)/i.test(connection);
    const res = new FastResponse(this, this.socket, head.method, keepAlive);
    this.response = res;
    this.front.emit('request', new FastRequest(head, this.socket), res);
  }

  /** Its answer is flushed: keep the connection for the next request, or close it. */
  answered(res: FastResponse, keepAlive: boolean): void {
    if (this.response !== res) return;
    this.response = undefined;
    res.emitClose();
    if (!keepAlive) {
      this.buffered = undefined;
      this.socket.end();
      return;
    }
    this.fresh = false;
    this.idleSinceMs = Date.now();
    this.idleLimitMs = this.front.keepAliveTimeoutMs;
    if (this.socket.isPaused()) this.socket.resume();
    this.serve();
  }

  close(): void {
    this.socket.destroy();
  }

  /**
   * Idle past its limit: as node:http, a connection still waiting for its first head is told 408
   * (its headersTimeout ran out), one kept alive between requests is closed without a word.
   */
  expire(): void {
    if (this.fresh && this.socket.writable) this.socket.write(REQUEST_TIMEOUT_408);
    this.socket.destroy();
  }

  private readonly closed = (): void => {
    this.front.connectionGone(this);
    const res = this.response;
    this.response = undefined;
    if (res !== undefined) {
      res.destroyed = true;
      res.emitClose();
    }
  };

  private handOff(data: Buffer): void {
    const { socket } = this;
    socket.off('data', this.data);
    socket.off('close', this.closed);
    socket.off('error', ignore);
    this.front.connectionGone(this);
    this.buffered = undefined;
    // Still flowing and nothing listens to 'data' now: the bytes wait in the stream's buffer until
    // node:http's parser adds its listener.
    socket.unshift(data);
    this.front.http.emit('connection', socket);
  }
}

/**
 * The listening server of the proxy port with the fast front: accepts, serves the fast lane, and
 * hands the rest to `http` (node:http's server, never listening itself). Requests of both lanes
 * are this server's 'request' events.
 */
export class FastFront extends net.Server {
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  /** Connection and Keep-Alive of a kept connection's answer, as node:http writes them: the same for every answer. */
  readonly keepAliveLines: string;
  /** The connections the fast lane serves (handed-off ones are node:http's). */
  private readonly served = new Set<Connection>();
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    readonly http: HttpServer,
    private readonly options: FastFrontOptions,
  ) {
    super({ noDelay: true });
    this.keepAliveTimeoutMs = options.keepAliveTimeoutMs;
    this.headersTimeoutMs = options.headersTimeoutMs;
    this.keepAliveLines = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(options.keepAliveTimeoutMs / 1000)}\r\n`;
    this.on('connection', (socket: Socket) => this.served.add(new Connection(this, socket)));
    http.on('request', (req, res) => this.emit('request', req, res));
    this.on('listening', () => {
      // node:http tracks its connections (closeIdleConnections, the headers and request timeouts)
      // from its 'listening' event: it never listens here, so it hears of ours.
      http.emit('listening');
      this.sweep = setInterval(() => this.closeExpired(), this.options.checkIntervalMs).unref();
    });
  }

  connectionGone(connection: Connection): void {
    this.served.delete(connection);
  }

  /** Close the fast lane's connections that waited too long for a request (keep-alive, or a silent new one). */
  private closeExpired(): void {
    const nowMs = Date.now();
    for (const c of this.served) if (c.idle && nowMs - c.idleSinceMs >= c.idleLimitMs) c.expire();
  }

  closeIdleConnections(): void {
    for (const c of this.served) if (c.idle) c.close();
    this.http.closeIdleConnections();
  }

  closeAllConnections(): void {
    for (const c of this.served) c.close();
    this.http.closeAllConnections();
  }

  /** As node:http's close: stop listening, and close the connections idle now. */
  override close(callback?: (err?: Error) => void): this {
    clearInterval(this.sweep);
    // Stops node:http's connection checks; it has no listening socket to close.
    this.http.close();
    super.close(callback);
    this.closeIdleConnections();
    return this;
  }
}
