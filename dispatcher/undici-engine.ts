import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { ByTarget, EngineAttempt, NOT_CONNECTED, type ForwardHooks, type ProxyEngine, type ProxyEngineOptions } from './proxy-engine.js';
import type { ProxyRequest, ProxyResponse } from './proxy-message.js';
import { bodyStream } from './request-body.js';
import { hasBody } from './request-info.js';

/**
 * The default proxy engine: undici 7 (issue 12). One `Pool` per backend origin, and each attempt
 * is a `Pool.dispatch` with the hand-written handler below that writes the backend's answer
 * straight into the client's response: no upstream stream objects, no pipes, no URL parsing per
 * request (the fastest of the ways measured in notes/proxy-throughput-here.md, about twice
 * http-proxy's throughput per core).
 *
 * - No hidden pool limit: a pool opens as many connections as there are requests in flight to its
 *   backend unless maxSocketsPerBackend is given; the Balancer's maxConnPerBackend is the limit.
 * - Names resolve through the dispatcher's DNS cache (dns-cache.ts) as undici's `connect` option.
 * - The pool and Host of a target are found once per backend URL object (it lives on the backend's
 *   Balancer record, so every lease carries the same one).
 * - No timer of its own: undici's headersTimeout and bodyTimeout are off. The dispatcher's deadline
 *   queues (balancer/deadlines.ts, one timer for all requests) keep the upstream deadline (to the
 *   response head) and the total one, and give up on an attempt through `timeOut` (504). A
 *   connection refused before the request was written is a 'connect-error', which the Balancer may
 *   retry; other failures are resets (502).
 * - No 'close' or 'finish' listener on the client's response: the dispatcher holds the request's
 *   one 'close' listener and calls `responseClosed`, where a finished answer is the 'response'
 *   outcome, and an unfinished one is the client leaving, which aborts the upstream dispatch (the
 *   replica sees its connection close).
 * - An early answer (a replica's 413 before it read the whole upload) is relayed: undici delivers
 *   the response even when the request body was not fully written, then drops that connection
 *   (and the dispatcher drops the rest of the client's upload, keeping its connection).
 *   The client's own broken upload is the client's error ('client-abort'), never the backend's.
 * - A gateway error the caller retries instead (ForwardHooks.retryInstead) is dropped in
 *   onResponseStart, before the head is written: the dispatch is aborted, so its connection
 *   closes rather than go back to the pool with an unread body on it.
 */

/** A connection attempt that timed out sent nothing, like a refused one. */
const UNDICI_NOT_CONNECTED = new Set([...NOT_CONNECTED, 'UND_ERR_CONNECT_TIMEOUT']);

/** The reasons this engine aborts a dispatch for (undici hands them back through onResponseError). */
class AttemptOver extends Error {}

/** One forward: an undici dispatch handler that relays into `res`, and the handle to time it out. */
class UndiciAttempt extends EngineAttempt implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private readonly resume = (): void => this.controller?.resume();

  constructor(
    private readonly req: ProxyRequest,
    res: ProxyResponse,
    hooks: ForwardHooks,
    withBody: boolean,
  ) {
    super(hooks, res, withBody);
  }

  /** Ends the dispatch now (or as soon as undici starts it, when it is still queued in the pool). */
  protected dropUpstream(): void {
    if (this.controller && !this.controller.aborted) this.controller.abort(new AttemptOver());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) this.dropUpstream();
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    // Informational answers (103 Early Hints) are not relayed: the client gets the final one.
    if (this.settled || status < 200 || this.droppedForRetry(status)) return;
    this.status = status;
    this.hooks.onResponseHead?.(status, headers);
    if (statusMessage) this.res.writeHead(status, statusMessage, headers);
    else this.res.writeHead(status, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    // Backpressure: a slow client pauses the backend's connection instead of filling our memory.
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.resume);
    }
  }

  onResponseEnd(): void {
    // The outcome waits for the answer to be flushed to the client (responseClosed).
    if (!this.settled) this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.settled) return;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (this.req.readableAborted) {
      // The client's upload broke (undici saw its body stream fail): the client's error.
      this.settle({ kind: 'client-abort' });
    } else {
      this.failed(code, UNDICI_NOT_CONNECTED);
    }
    // The backend died mid-answer: the client must not wait for bytes that will never come.
    if (this.status !== undefined) this.res.destroy();
  }
}

/** Request headers undici frames itself and refuses to be given (hop-by-hop ones are gone already). */
function upstreamHeaders(req: ProxyRequest, host: string): IncomingHttpHeaders {
  // Host names the backend (as http-proxy's changeOrigin): a forged one cannot steer the request.
  req.headers.host = host;
  if (req.headers['transfer-encoding'] === undefined) return req.headers;
  const { 'transfer-encoding': _chunked, ...rest } = req.headers;
  return rest;
}

/** Where one backend URL's requests go: its pool, and the Host they carry. */
interface Upstream {
  readonly pool: Pool;
  readonly host: string;
}

export function createUndiciEngine(opts: ProxyEngineOptions): ProxyEngine {
  const upstreams = new ByTarget<Upstream>((target) => ({
    pool: new Pool(target.origin, {
      // null: no bound (the Balancer's maxConnPerBackend is the only limit, issue 17.1).
      connections: opts.maxSocketsPerBackend ?? null,
      // 0: off. The dispatcher's deadline queues time attempts out (timeOut), with one timer for all.
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(opts.lookup ? { connect: { lookup: opts.lookup } } : {}),
    }),
    host: target.host,
  }));

  return {
    forward(req, res, target, hooks, body) {
      const attempt = new UndiciAttempt(req, res, hooks, body !== undefined);
      const { pool, host } = upstreams.of(target);
      pool.dispatch(
        {
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: upstreamHeaders(req, host),
          // A whole body as the Buffer it is (undici frames it with its length), else head then rest.
          body: body === undefined ? null : body.rest && hasBody(req) ? bodyStream(req, body) : body.head,
        },
        attempt,
      );
      return attempt;
    },
    close() {
      upstreams.clear(({ pool }) => void pool.destroy().catch(() => undefined));
    },
  };
}
