import type { IncomingHttpHeaders } from 'node:http';

/**
 * An HTTP/1.1 response parser for the socket engine (socket-engine.ts): one response at a time on
 * one upstream connection, fed the bytes of its reads however they are split.
 *
 * Hand-written because no supported parser is reachable: Node's llhttp is exposed only through the
 * deprecated `process.binding('http_parser')` (DEP0111 warning), and undici's wasm llhttp is
 * internal to undici. It reads only what a proxy needs, and rejects the rest as malformed:
 *
 * - The status line (`HTTP/1.0` or `HTTP/1.1`, three digits, an optional reason) and header lines
 *   into a Node-shaped IncomingHttpHeaders, as node:http's IncomingMessage builds it
 *   (`matchKnownFields` in lib/_http_incoming.js): lower-case names, `set-cookie` an array,
 *   `cookie` joined with '; ', the singletons Node keeps the first of, every other duplicate joined
 *   with ', '. No obsolete line folding, no bare LF (request smuggling's favourite ambiguities).
 * - A head of at most 16 KiB (Node's default --max-http-header-size), trailers included.
 * - Framing by RFC 9112 §6.3: no body for a response to HEAD, 1xx, 204 and 304; chunked when
 *   Transfer-Encoding ends in chunked (sizes in hex, extensions ignored, trailers read and dropped;
 *   with a Content-Length too, chunked wins and the connection is not reused); else one valid
 *   Content-Length (differing duplicates are an error); else the body runs until the connection
 *   closes. A Transfer-Encoding that does not end in chunked is an error (§6.3 rule 4 reads it to
 *   close; a proxy cannot trust its framing).
 * - Interim answers (100, 102, 103) are read and skipped; 101 is an error (no upgrades here).
 *
 * - Field values lose only the spaces and tabs around them (RFC 9110 §5.5 OWS); a control
 *   character other than a tab, in a reason, name or value, is an error.
 *
 * Cost: a head is found once, checked whole by one linear regex, then walked once with indexOf,
 * each name and value sliced straight from it (no line array, no per-line regex; a common name is
 * matched in place, without a copy to lower-case: lowerCaseFieldName); framing is
 * read from the finished headers object. Body bytes are passed on as subarrays of the chunks that
 * carried them, never copied; a head or chunk-size line split across chunks is copied and joined.
 */

/** Node's default maximum size of a message head (--max-http-header-size). */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A chunk-size line longer than this is refused (sizes fit in 13 hex digits; extensions are not worth more). */
const MAX_CHUNK_LINE_BYTES = 1024;

export class Http1Error extends Error {}

export interface ResponseHandlers {
  /** The final response's head (interim 1xx ones are skipped). */
  onHead(status: number, statusMessage: string, headers: IncomingHttpHeaders): void;
  /**
   * A piece of the (decoded) body; a view into the pushed bytes, valid until onBody returns.
   * `last`: it ends a Content-Length body, and onEnd follows at once (so the answer can be ended
   * with it, in one write).
   */
  onBody(chunk: Buffer, last: boolean): void;
  /**
   * The response ended. `reusable`: its framing allows another request on the connection (not
   * close-delimited, no Connection: close, HTTP/1.1 or 1.0 with keep-alive, no Transfer-Encoding
   * with Content-Length, and no bytes after it).
   */
  onEnd(reusable: boolean): void;
}

const enum State {
  Idle,
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
}

/** Headers node:http keeps the first of, dropping later duplicates (matchKnownFields). */
const SINGLETONS = new Set([
  'content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization',
  'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag',
  'last-modified', 'server', 'age', 'expires',
]);

/** Header names: RFC 9110 tokens. */
const NAME = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
/** Field values and reasons may hold visible ASCII, obs-text, spaces and tabs; nothing else (no CR, LF, NUL or other controls). */
const VALUE = '[\\t\\x20-\\x7e\\x80-\\xff]*';
/**
 * A whole head (without its blank line) checked in one pass: the status line, then field lines.
 * No obsolete line folding (a line must start with a name), no bare CR or LF anywhere. Linear:
 * a name cannot hold ':' and a value cannot hold CR, so there is one way to match.
 */
const HEAD = new RegExp(`^HTTP/1\\.[01] \\d{3}(?: ${VALUE})?(?:\\r\\n${NAME}:${VALUE})*$`);
/** A trailer section (without its blank line): field lines only. */
const TRAILERS = new RegExp(`^${NAME}:${VALUE}(?:\\r\\n${NAME}:${VALUE})*$`);
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;[^\r\n]*)?$/;
const CONTENT_LENGTH = /^\d{1,15}$/;
const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/**
 * Field names most responses carry (nginx's, node:http's, the replicas') and most requests (for the
 * fast front: fast-front.ts), lower-case, by length.
 * One found in place costs no sliced copy of the name, no lower-cased copy, and no look-up of a new
 * string as a property key: these literals are already V8's internalized keys.
 */
const KNOWN_NAMES: readonly (readonly string[] | undefined)[] = (() => {
  const byLength: string[][] = [];
  for (const name of [
    'server', 'date', 'content-type', 'content-length', 'connection', 'keep-alive', 'transfer-encoding',
    'set-cookie', 'cache-control', 'etag', 'last-modified', 'vary', 'location', 'expires', 'x-served-by', 'x-vm-load',
    'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'cookie', 'x-forwarded-for',
  ]) {
    (byLength[name.length] ??= []).push(name);
  }
  return byLength;
})();

/**
 * The lower-case field name of `text` from `start` to `end`, which must be a token (both parsers check).
 * `| 0x20` lower-cases a letter; among token characters it makes another one a letter, '-' or a
 * digit only from a letter's own upper case, so comparing it with a lower-case name is exact.
 */
export function lowerCaseFieldName(text: string, start: number, end: number): string {
  const known = KNOWN_NAMES[end - start];
  if (known !== undefined) {
    for (const name of known) {
      let i = 0;
      while (i < name.length && (text.charCodeAt(start + i) | 0x20) === name.charCodeAt(i)) i++;
      if (i === name.length) return name;
    }
  }
  return text.slice(start, end).toLowerCase();
}

function addHeader(headers: IncomingHttpHeaders, name: string, value: string): void {
  const previous = headers[name];
  if (previous === undefined) {
    headers[name] = name === 'set-cookie' ? [value] : value;
  } else if (name === 'set-cookie') {
    (previous as string[]).push(value);
  } else if (!SINGLETONS.has(name)) {
    headers[name] = `${previous as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
}

/** Whether a comma-separated header value (as joined by addHeader) holds `token`, in any case. */
function hasToken(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false;
  // The common single-token value, already lower-case, needs no copy.
  if (value === token) return true;
  const lower = (Array.isArray(value) ? value.join(',') : value).toLowerCase();
  if (lower === token) return true;
  // Not even a substring (`keep-alive` when looking for `close`): no split.
  if (!lower.includes(token)) return false;
  return lower.split(',').some((t) => t.trim() === token);
}

/** The last of a comma-separated header value's tokens, lower-cased. */
function lastToken(value: string | string[]): string {
  const lower = (Array.isArray(value) ? value.join(',') : value).toLowerCase();
  return lower.slice(lower.lastIndexOf(',') + 1).trim();
}

/** Whether the char code is optional whitespace around a field value (SP or HTAB). */
function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** One connection's response parser; `expect` before each response, `push` its bytes, `closed` at the connection's end. */
export class ResponseParser {
  private state = State.Idle;
  /** Bytes of a head, chunk-size line or trailer section not yet complete. */
  private pending: Buffer | undefined;
  private headRequest = false;
  /** Body bytes still to come (Length), or of the current chunk (ChunkData). */
  private remaining = 0;
  private keepAlive = false;
  /** The response's first Content-Length, unchecked until its framing is chosen. */
  private contentLength: string | undefined = undefined;
  private contentLengthsDiffer = false;
  /** The last final response's `Keep-Alive: timeout=N`, in ms; undefined when it gave none. */
  keepAliveHintMs: number | undefined = undefined;

  constructor(private readonly handlers: ResponseHandlers) {}

  /** A request was written: its response comes next. */
  expect(headRequest: boolean): void {
    this.state = State.Head;
    this.pending = undefined;
    this.headRequest = headRequest;
  }

  /**
   * Bytes from the connection, valid only until push returns (the socket engine reads every socket
   * into one buffer): what waits for the next push is copied. Throws Http1Error on a malformed
   * response, or bytes nobody asked for.
   */
  push(chunk: Buffer): void {
    let data = chunk;
    let at = 0;
    if (this.pending !== undefined) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    while (at < data.length) {
      switch (this.state) {
        case State.Idle:
          throw new Http1Error('bytes from the backend after its response ended');
        case State.Head:
        case State.Trailers: {
          // No trailers: the section is its blank line alone.
          if (this.state === State.Trailers && data[at] === 0x0d && data[at + 1] === 0x0a) {
            at = this.finish(data, at + 2);
            break;
          }
          const end = data.indexOf(HEAD_END, at);
          if (end < 0) {
            if (data.length - at >= MAX_HEAD_BYTES) throw new Http1Error('response head over 16 KiB');
            this.pending = Buffer.from(data.subarray(at));
            return;
          }
          if (end + 4 - at > MAX_HEAD_BYTES) throw new Http1Error('response head over 16 KiB');
          const text = data.toString('latin1', at, end);
          at = end + 4;
          if (this.state === State.Trailers) {
            // Trailers are checked and dropped: the client's answer is framed anew, without them.
            if (!TRAILERS.test(text)) throw new Http1Error('malformed trailer section');
            at = this.finish(data, at);
          } else {
            this.head(text);
            if ((this.state as State) === State.Idle) at = this.finish(data, at);
          }
          break;
        }
        case State.Length: {
          at = this.bodyBytes(data, at);
          if (this.remaining === 0) at = this.finish(data, at);
          break;
        }
        case State.ChunkSize: {
          const end = data.indexOf(CRLF, at);
          if (end < 0) {
            if (data.length - at > MAX_CHUNK_LINE_BYTES) throw new Http1Error('chunk size line too long');
            this.pending = Buffer.from(data.subarray(at));
            return;
          }
          const match = CHUNK_SIZE.exec(data.toString('latin1', at, end));
          if (match === null) throw new Http1Error('malformed chunk size');
          at = end + 2;
          this.remaining = Number.parseInt(match[1], 16);
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        case State.ChunkData: {
          at = this.bodyBytes(data, at);
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd: {
          if (data.length - at < 2) {
            if (data[at] !== 0x0d) throw new Http1Error('chunk data not followed by CRLF');
            this.pending = Buffer.from(data.subarray(at));
            return;
          }
          if (data[at] !== 0x0d || data[at + 1] !== 0x0a) throw new Http1Error('chunk data not followed by CRLF');
          at += 2;
          this.state = State.ChunkSize;
          break;
        }
        case State.UntilClose:
          this.handlers.onBody(at === 0 ? data : data.subarray(at), false);
          at = data.length;
          break;
      }
    }
  }

  /**
   * The connection ended (the backend closed it, or it failed). A body read until close ends here;
   * anything else unfinished is an Http1Error.
   */
  closed(): void {
    if (this.state === State.Idle) return;
    if (this.state === State.UntilClose) {
      this.state = State.Idle;
      this.handlers.onEnd(false);
      return;
    }
    this.state = State.Idle;
    throw new Http1Error('the backend closed the connection before its response ended');
  }

  /** Parse a head (without its blank line) and choose the body's framing; Idle when it has no body. */
  private head(text: string): void {
    if (!HEAD.test(text)) throw new Http1Error('malformed response head');
    // The regex fixed the status line's shape: `HTTP/1.x ddd[ reason]`.
    const code = (text.charCodeAt(9) - 48) * 100 + (text.charCodeAt(10) - 48) * 10 + (text.charCodeAt(11) - 48);
    if (code < 100) throw new Http1Error('malformed status code');
    if (code === 101) throw new Http1Error('101 Switching Protocols is not supported');
    // Interim answers carry no body; the final one follows on the same connection.
    if (code < 200) {
      this.state = State.Head;
      return;
    }
    let end = text.indexOf('\r\n', 12);
    const statusMessage = text.length > 12 ? text.slice(13, end < 0 ? text.length : end) : '';
    const headers: IncomingHttpHeaders = {};
    this.contentLength = undefined;
    this.contentLengthsDiffer = false;
    while (end >= 0) {
      const start = end + 2;
      const colon = text.indexOf(':', start);
      end = text.indexOf('\r\n', colon);
      let valueStart = colon + 1;
      let valueEnd = end < 0 ? text.length : end;
      while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
      while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
      this.field(headers, lowerCaseFieldName(text, start, colon), text.slice(valueStart, valueEnd));
    }
    const connection = headers.connection;
    this.keepAlive = text.charCodeAt(7) === 0x31 ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive');
    this.keepAliveHintMs = keepAliveHint(headers['keep-alive'] as string | undefined);
    const chunked = this.framing(code, headers['transfer-encoding']);
    this.handlers.onHead(code, statusMessage, headers);
    if (chunked) this.state = State.ChunkSize;
  }

  /** One header into `headers`; Content-Length is also kept aside for the framing, which checks it. */
  private field(headers: IncomingHttpHeaders, name: string, value: string): void {
    if (name === 'content-length') {
      if (this.contentLength === undefined) this.contentLength = value;
      else if (value !== this.contentLength) this.contentLengthsDiffer = true;
    }
    // A plain object, as node:http's: this name would set its prototype instead.
    if (name !== '__proto__') addHeader(headers, name, value);
  }

  /** Sets the state for the body's framing (Idle for none); true when it is chunked. */
  private framing(code: number, te: string | string[] | undefined): boolean {
    if (this.headRequest || code === 204 || code === 304) {
      this.state = State.Idle;
      return false;
    }
    const length = this.contentLength;
    if (te !== undefined) {
      if (lastToken(te) !== 'chunked') throw new Http1Error('a transfer coding other than chunked last');
      // Both framings: chunked wins (RFC 9112 §6.3 rule 3), and the connection is not trusted again.
      if (length !== undefined) this.keepAlive = false;
      return true;
    }
    if (length !== undefined) {
      if (this.contentLengthsDiffer || !CONTENT_LENGTH.test(length)) throw new Http1Error('invalid or differing Content-Length');
      this.remaining = Number(length);
      this.state = this.remaining === 0 ? State.Idle : State.Length;
      return false;
    }
    this.keepAlive = false;
    this.state = State.UntilClose;
    return false;
  }

  /** Hand on what `data` holds, from `at`, of the `remaining` body bytes (of a length, or of a chunk); returns where they end. */
  private bodyBytes(data: Buffer, at: number): number {
    const take = Math.min(this.remaining, data.length - at);
    this.remaining -= take;
    this.handlers.onBody(data.subarray(at, at + take), this.remaining === 0 && this.state === State.Length);
    return at + take;
  }

  /** The response ended at `at` of `data`: reusable when its framing allowed it and nothing follows it. */
  private finish(data: Buffer, at: number): number {
    this.state = State.Idle;
    this.handlers.onEnd(this.keepAlive && at === data.length);
    return at;
  }
}

/** `Keep-Alive: timeout=N` in ms, as undici reads it; undefined without a valid one. */
function keepAliveHint(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(value);
  return match ? Number(match[1]) * 1000 : undefined;
}
