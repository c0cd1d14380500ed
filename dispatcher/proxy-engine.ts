import http from 'node:http';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { LookupFunction, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { parse as parseUrl, type Url } from 'node:url';
import httpProxy from 'http-proxy';
import webOutgoing from 'http-proxy/lib/http-proxy/passes/web-outgoing.js';
import type { AttemptOutcome } from './balancer/types.js';
import type { ProxyRequest, ProxyResponse } from './proxy-message.js';
import { bodyStream, type BufferedBody } from './request-body.js';

/**
 * The proxied hot path's engine, behind a narrow seam (docs/dispatcher.md, "The HTTP side"):
 * forward this request to that backend and report how the attempt ended. The dispatcher never
 * touches the library: the scenario's `dispatcher.engine` (or `--engine`) picks undici
 * (undici-engine.ts, the default) or this one.
 *
 * This one is http-proxy 1.18.1 on a keep-alive Agent, with its known defects worked around: a
 * per-call error callback plus a server-level 'error' listener, so no error can crash the process;
 * the client-abort leak closed (1.18.1 listens to the 'aborted' event Node no longer emits, so the
 * upstream request is destroyed when the caller reports the response closed unfinished). No
 * proxyTimeout: it armed a socket timer on every request (and the Agent disarmed it on release);
 * the upstream timeout is the dispatcher's deadline queue (balancer/deadlines.ts, one timer for
 * all requests), which gives up on an attempt through `timeOut`. The target is always the URL the
 * caller passes and `changeOrigin` rewrites Host to it, so neither the request line nor a forged
 * Host can choose where a request goes. The answer is relayed by the engine (`selfHandleResponse`,
 * with http-proxy's own outgoing passes), so a gateway error can be dropped for a retry before
 * anything of it is on the client's response (ForwardHooks.retryInstead).
 */

export interface ForwardHooks {
  /**
   * The backend's final status, before anything of its answer reaches the client: true when the
   * caller sends the request elsewhere instead (Envoy's `retry_on: gateway-error`, decided by the
   * Balancer). The engine then relays nothing of this answer, reports the attempt's outcome as
   * that response at once, and drops it (its upstream connection is closed, never reused with an
   * unread body on it).
   */
  retryInstead?(status: number): boolean;
  /** The backend's status and headers, before they are copied to the client (they may be edited). */
  onResponseHead?(status: number, headers: IncomingHttpHeaders): void;
  /** Exactly once per forward: how the attempt ended (a response completed, failed, or the client left). */
  onOutcome(outcome: AttemptOutcome): void;
}

export interface ForwardHandle {
  /** Give up on this attempt (its upstream deadline or the request's total time ran out): reported as a 'timeout' outcome. */
  timeOut(): void;
  /**
   * `res` emitted 'close': the caller holds the request's one 'close' listener (a request may make
   * several attempts, and it needs the event while queued too) and calls this; the engine adds no
   * 'close' or 'finish' listener of its own. Unless the attempt already ended, its outcome is then
   * 'response' when the answer was written in full, else 'client-abort', and the upstream request
   * is dropped.
   */
  responseClosed(): void;
}

export interface ProxyEngine {
  /**
   * Send `req` to `target` (origin only: its path is ignored) and stream the answer into `res`.
   * `body`: the request's body as the dispatcher read it before routing (request-body.ts), whole,
   * or its head with the rest still to be streamed from `req` (bodyStream); undefined when the
   * request has none.
   */
  forward(req: ProxyRequest, res: ProxyResponse, target: URL, hooks: ForwardHooks, body?: BufferedBody): ForwardHandle;
  /** Close pooled upstream connections. */
  close(): void;
}

export interface ProxyEngineOptions {
  /**
   * Pool bounds per backend. No bound by default: the Balancer's maxConnPerBackend is the only
   * limit on concurrency (a hidden pool limit queued requests out of the Balancer's sight, with no
   * timeout of its own: issue 17.1).
   */
  readonly maxSocketsPerBackend?: number;
  /** http-proxy only (undici keeps idle connections for the backend's keep-alive time). */
  readonly maxFreeSocketsPerBackend?: number;
  /** How backend names become addresses (dns-cache.ts), instead of a thread-pool lookup per connection. */
  readonly lookup?: LookupFunction;
}

/** Errors that mean nothing reached the backend: safe to send elsewhere even with a body. */
export const NOT_CONNECTED: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/**
 * An engine's per-backend state (its connections), found by the target URL object itself: the
 * object lives on the backend's Balancer record, so every lease carries the same one, and a
 * request reads none of its getters (each builds a string). Kept by origin as well, so a backend
 * removed and added again at the same origin keeps its connections.
 */
export class ByTarget<T> {
  private readonly byOrigin = new Map<string, T>();
  private byUrl = new WeakMap<URL, T>();

  constructor(private readonly make: (target: URL) => T) {}

  of(target: URL): T {
    let value = this.byUrl.get(target);
    if (value !== undefined) return value;
    value = this.byOrigin.get(target.origin);
    if (value === undefined) {
      value = this.make(target);
      this.byOrigin.set(target.origin, value);
    }
    this.byUrl.set(target, value);
    return value;
  }

  /** Forget every backend, after `each` on its state. */
  clear(each: (value: T) => void): void {
    for (const value of this.byOrigin.values()) each(value);
    this.byOrigin.clear();
    this.byUrl = new WeakMap();
  }
}

/**
 * What every engine's attempt shares. `settle` is the attempt's one "ends exactly once" guard (the
 * caller ends the lease on the outcome it reports), so events of a superseded attempt find theirs
 * already settled. A response closed before it finished (the client left) and a timeout settle
 * first and then drop the upstream request, so the error that dropping it raises finds the attempt
 * settled. An engine says only how its upstream request is dropped.
 */
export abstract class EngineAttempt implements ForwardHandle {
  protected settled = false;
  /** The backend's status, once its (final) response head arrived. */
  status: number | undefined = undefined;

  constructor(
    readonly hooks: ForwardHooks,
    protected readonly res: ProxyResponse,
    protected readonly withBody: boolean,
  ) {}

  /** Give up on the upstream request (the replica sees its connection close). */
  protected abstract dropUpstream(): void;

  settle(outcome: AttemptOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.hooks.onOutcome(outcome);
  }

  responseClosed(): void {
    if (this.settled) return;
    if (this.res.writableFinished && this.status !== undefined) {
      this.settle({ kind: 'response', status: this.status });
      return;
    }
    this.settle({ kind: 'client-abort' });
    this.dropUpstream();
  }

  timeOut(): void {
    this.settle({ kind: 'timeout' });
    this.dropUpstream();
  }

  /** The final response head arrived: true when it is dropped for a retry (ForwardHooks.retryInstead) rather than relayed. */
  protected droppedForRetry(status: number): boolean {
    if (this.settled || this.hooks.retryInstead?.(status) !== true) return false;
    this.settle({ kind: 'response', status });
    this.dropUpstream();
    return true;
  }

  /**
   * A failed attempt: nothing reached the backend (no response head, and a bodyless request or an
   * error in `notConnected`), which the Balancer may send elsewhere, or a reset.
   */
  protected failed(code: string, notConnected: ReadonlySet<string>): void {
    this.settle({ kind: this.status === undefined && (!this.withBody || notConnected.has(code)) ? 'connect-error' : 'reset' });
  }
}

/** http-proxy's attempt: its upstream request is a node:http ClientRequest. */
class Attempt extends EngineAttempt {
  upstream?: ClientRequest;

  protected dropUpstream(): void {
    this.upstream?.destroy();
  }

  /**
   * The backend's response head: dropped for a retry, or relayed as http-proxy relays it (its
   * own outgoing passes write the status and headers), then piped to the client.
   */
  relay(req: IncomingMessage, res: ServerResponse, proxyRes: IncomingMessage, options: object): void {
    const status = proxyRes.statusCode ?? 502;
    if (this.droppedForRetry(status)) return;
    this.status = status;
    this.hooks.onResponseHead?.(status, proxyRes.headers);
    if (!res.headersSent) for (const pass of WEB_OUTGOING) if (pass(req, res, proxyRes, options) === true) break;
    // The backend died mid-body: the client must not wait for bytes that will never come.
    const broken = (): void => {
      this.settle({ kind: 'reset' });
      res.destroy();
    };
    proxyRes.on('aborted', broken);
    proxyRes.on('error', broken);
    if (!res.writableEnded) proxyRes.pipe(res);
  }

  /** Map an http-proxy error to an outcome kind (see AttemptOutcome). */
  fail(err: NodeJS.ErrnoException): void {
    this.failed(err.code ?? '', NOT_CONNECTED);
  }
}

/** http-proxy's own response passes (status, headers, HTTP/1.0 framing), in its order. */
const WEB_OUTGOING = Object.values(webOutgoing);

/**
 * The body http-proxy pipes upstream. A client's broken upload is an error of this stream too;
 * http-proxy hears of it from `req` itself (its own 'error' listener there), and nothing else
 * listens here, so the copy is dropped rather than left to crash the process.
 */
function upload(req: IncomingMessage, body: BufferedBody): Readable {
  return bodyStream(req, body).on('error', () => undefined);
}

const ATTEMPT = Symbol('dispatchlab.attempt');
type WithAttempt = IncomingMessage & { [ATTEMPT]?: Attempt };

export function createHttpProxyEngine(opts: ProxyEngineOptions): ProxyEngine {
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: opts.maxSocketsPerBackend ?? Infinity,
    maxFreeSockets: opts.maxFreeSocketsPerBackend ?? 64,
    scheduling: 'lifo',
    ...(opts.lookup ? { lookup: opts.lookup } : {}),
  });
  // selfHandleResponse: the answer is relayed by Attempt.relay, which may drop it for a retry
  // first; left to http-proxy, its status and headers would be on the client's response already.
  const options = { agent, changeOrigin: true, xfwd: false, selfHandleResponse: true };
  const proxy = httpProxy.createProxyServer(options);
  // http-proxy parses a string target on every request; given the parsed form it does not. Parsed
  // once per backend URL (the object lives on the backend's Balancer record).
  const parsedTargets = new WeakMap<URL, Url>();
  const parsedTarget = (target: URL): Url => {
    let parsed = parsedTargets.get(target);
    if (parsed === undefined) parsedTargets.set(target, (parsed = parseUrl(target.origin)));
    return parsed;
  };

  proxy.on('proxyReq', (proxyReq, req) => {
    const attempt = (req as WithAttempt)[ATTEMPT];
    if (!attempt) return;
    attempt.upstream = proxyReq;
  });
  proxy.on('proxyRes', (proxyRes, req, res) => {
    (req as WithAttempt)[ATTEMPT]?.relay(req, res, proxyRes, options);
  });
  // Only reached for errors without a per-call callback (none today); it must exist, or
  // http-proxy rethrows and the process dies. res is a Socket for upgrade requests.
  proxy.on('error', (_err, _req, res) => {
    if (res instanceof http.ServerResponse) {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    } else {
      (res as Socket).destroy();
    }
  });

  return {
    forward(proxyReq, proxyRes, target, hooks, body) {
      // http-proxy pipes node:http's own streams: with this engine the proxy port is node:http's
      // server (dispatcher-service.ts never puts the fast front before it).
      const req = proxyReq as IncomingMessage;
      const res = proxyRes as ServerResponse;
      const attempt = new Attempt(hooks, res, body !== undefined);
      (req as WithAttempt)[ATTEMPT] = attempt;
      // http-proxy pipes `buffer` instead of req when given: the buffered body, and any rest after it.
      const buffer = body === undefined ? {} : { buffer: upload(req, body) };
      proxy.web(req, res, { target: parsedTarget(target), ...buffer }, (err) => attempt.fail(err as NodeJS.ErrnoException));
      return attempt;
    },
    close() {
      proxy.close();
      agent.destroy();
    },
  };
}
