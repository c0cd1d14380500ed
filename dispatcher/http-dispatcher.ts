import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from '../core/clock.js';
import { NO_BACKEND, type RequestEvents } from '../core/request-events.js';
import type { BackendId, Millis } from '../core/types.js';
import { lingerOn } from '../core/server-lifecycle.js';
import type { Balancer } from './balancer/balancer.js';
import type { DeadlineOwner, DeadlineQueue } from './balancer/deadlines.js';
import { isBackendFailure } from './balancer/outlier.js';
import { refusalStatus, type Admission, type AttemptOutcome, type Lease, type RequestInfo, type Ticket } from './balancer/types.js';
import { prepareDownstreamHeaders, prepareUpstreamHeaders } from './forward-headers.js';
import type { ForwardHandle, ForwardHooks, ProxyEngine } from './proxy-engine.js';
import type { ProxyRequest, ProxyResponse } from './proxy-message.js';
import { bufferBody, type BufferedBody } from './request-body.js';
import { guardRequest } from './request-guard.js';
import { hasBody, originPath, readRequestInfo, type ParsedRequest } from './request-info.js';
import type { SessionSigner } from './session-cookie.js';

/**
 * The proxied hot path: a request handler for node:http's server and the fast front (never express here: its routing and
 * request wrappers on every proxied request cost about half the throughput). Per request: build RequestInfo, `balancer.begin`, then forward
 * through the engine; a refusal is a 503 with Retry-After; a connect error, a reset or an upstream
 * (per-try) timeout before any response byte is retried through `lease.retry` (the Balancer
 * decides whether it may, by the scenario's `retryOn`), else answered 502 or 504; so is a
 * backend's 502, 503 or 504 when `retryOn` has gateway-error, whose head is held until the
 * Balancer has decided (retryInstead), else relayed as is; the total timeout is a 504. Each lease is
 * ended in one place, `onOutcome`, on the engine's outcome, which the engine reports exactly
 * once per attempt; the request holds one 'close' listener for its whole life, queueing and every
 * attempt included, and tells the engine of it (ForwardHandle.responseClosed). The request's
 * events (core/request-events.ts: arrived, each attempt admitted and ended, answered exactly once,
 * when its answer is known) go to `events`: the metrics, and a run's accumulator.
 *
 * Both timeouts are deadlines of our own (one DeadlineQueue each), not an engine's socket timeout:
 * http-proxy's `timeout` sets the client socket's idle timeout, which outlives the request on a
 * keep-alive connection, and the simulator must run the same deadlines.
 */

export interface HttpDispatcherDeps {
  readonly balancer: Balancer;
  readonly engine: ProxyEngine;
  readonly clock: Clock;
  readonly signer: SessionSigner;
  /**
   * The upstream timeout (each attempt, to its response head) and the total timeout (from
   * arrival), kept as the simulator keeps them (balancer/deadlines.ts): either answers 504. The
   * client's deadline to send its body, or the buffer's worth of it, before it is routed
   * (request-body.ts): 408.
   */
  readonly deadlines: { readonly upstream: DeadlineQueue; readonly total: DeadlineQueue; readonly body: DeadlineQueue };
  readonly events: RequestEvents;
  /** Where the client key comes from (scenario `dispatcher.clientAddress`). */
  readonly clientAddress: 'x-forwarded-for' | 'socket';
}

const PER_TRY_TIMEOUT: AttemptOutcome = { kind: 'timeout', perTry: true };

/** Status code recorded when the client leaves before its answer (nginx's "client closed request"). */
const CLIENT_CLOSED = '499';

function sendJson(res: ProxyResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * One client request, from arrival to its answer, across queueing and retries. It is the hooks of
 * each of its attempts too (one at a time: an attempt's outcome comes before the next attempt is
 * forwarded), so forwarding allocates no hooks object and closures per attempt.
 */
class Exchange implements DeadlineOwner, ForwardHooks {
  /** The current attempt's; set before it is forwarded, so the hooks below always have it. */
  private lease?: Lease;
  private forwarding?: ForwardHandle;
  private ticket?: Ticket;
  private waiting = true;
  /** Attempts forwarded so far; the current one's upstream deadline holds until its response head. */
  private attempts = 0;
  private awaitingHead = false;
  /** The total timeout ran out: the attempt it cuts short is the request's end, never retried. */
  private totalExpired = false;
  private recorded = false;
  private closed = false;
  private readonly arrivedAt: Millis;

  constructor(
    private readonly deps: HttpDispatcherDeps,
    private readonly req: ProxyRequest,
    private readonly res: ProxyResponse,
    private readonly cookieSession: ParsedRequest['cookieSession'],
    private readonly clientClose: boolean,
    /** The request's body as read before routing (request-body.ts), when it has one. */
    private readonly body: BufferedBody | undefined,
  ) {
    this.arrivedAt = deps.clock.now();
  }

  start(info: RequestInfo): void {
    this.deps.events.arrived(this.arrivedAt);
    this.deps.deadlines.total.add(this, 0);
    // 'close' comes once per response: `on` spares once's wrapper and its removal.
    this.res.on('close', () => this.responseClosed());
    const ticket = this.deps.balancer.begin(info, (admission) => this.admitted(admission));
    // Keep the ticket only while the request waits in the queue (begin may have admitted it already).
    if (this.waiting) this.ticket = ticket;
  }

  private admitted(admission: Admission): void {
    this.waiting = false;
    this.ticket = undefined;
    if (admission.refused !== undefined) {
      if (refusalStatus(admission.refused) === 500) {
        // The Balancer's observer has logged why; the client learns only that this request failed.
        sendJson(this.res, 500, { error: 'the balancing policy failed on this request (see the dispatcher log)' });
        this.record('none', '500');
        return;
      }
      const retryAfterS = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
      sendJson(this.res, 503, { error: `no backend available: ${admission.refused}` }, { 'retry-after': String(retryAfterS) });
      this.record(NO_BACKEND, '503');
      return;
    }
    const lease = admission.lease;
    if (this.closed || this.recorded) {
      // The client left (or the total timeout answered) while this attempt waited for a slot: the
      // slot goes back and the attempt, never sent, is no attempt (nor a retry, nor a queue wait),
      // as the simulator's abandoned admission (sim/driver.ts).
      lease.end({ kind: 'client-abort' });
      this.record(lease.backend, CLIENT_CLOSED);
      return;
    }
    this.deps.events.admitted(this.arrivedAt, lease.backend, lease.queuedMs, lease.attempt, lease.backendIndex);
    this.lease = lease;
    // The backend's origin, set when it joined the Balancer (dispatcher-service.ts): only configured
    // backends can be leased, so only they can be sent to.
    const target = lease.backendData as URL;
    this.awaitingHead = true;
    this.deps.deadlines.upstream.add(this, ++this.attempts);
    this.forwarding = this.deps.engine.forward(this.req, this.res, target, this, this.body);
  }

  awaits(queue: DeadlineQueue, attempt: number): boolean {
    if (queue === this.deps.deadlines.total) return !this.recorded;
    return attempt === this.attempts && this.awaitingHead && this.forwarding !== undefined;
  }

  deadlinePassed(queue: DeadlineQueue): void {
    if (queue === this.deps.deadlines.total) this.totalTimeout();
    // The engine reports the attempt as a timeout: 504, counted against the backend.
    else this.forwarding?.timeOut();
  }

  /**
   * A response head, before any of it reaches the client: should this answer be dropped and the
   * request sent elsewhere (a 502, 503 or 504 when `retryOn` has gateway-error)? The Balancer
   * decides, as it does after a failed attempt; the engine then reports the answer as this
   * attempt's outcome, and onOutcome sends the retry. Otherwise the answer is relayed as is.
   */
  retryInstead(status: number): boolean {
    return !this.res.headersSent && !this.recorded && (this.lease as Lease).reserveRetry({ kind: 'response', status });
  }

  onResponseHead(_status: number, headers: IncomingHttpHeaders): void {
    const lease = this.lease as Lease;
    this.awaitingHead = false;
    const load = Number(headers['x-vm-load']);
    if (headers['x-vm-load'] !== undefined && Number.isFinite(load)) this.deps.balancer.reportLoad(lease, load);
    // The connection closes after this answer when the client asked, or when our server will not
    // keep it (a shutdown's drain: closeConnectionsAfterResponse); the header we write decides,
    // since Node keeps a connection whose answer says `keep-alive`. An answer before the whole
    // upload (an early 413) keeps it either way while the rest is read and dropped (lingerOn):
    // closing under the upload would reset the connection, which can destroy the answer before
    // the client reads it.
    prepareDownstreamHeaders(headers, (this.clientClose || !this.res.shouldKeepAlive) && this.req.complete);
    // (Re)issue the session cookie when a sticky policy (re)pinned the session, or the session is new.
    const session = this.deps.balancer.policy.session;
    if (session && this.cookieSession && (lease.repin || this.cookieSession.fresh)) {
      const cookie = this.deps.signer.setCookie(session.cookieName, this.cookieSession.id, lease.backend);
      const existing = headers['set-cookie'] ?? [];
      headers['set-cookie'] = [...existing, cookie];
    }
  }

  /** The engine's outcome of the current attempt: the one place its lease is ended. */
  onOutcome(reported: AttemptOutcome): void {
    const lease = this.lease as Lease;
    // The engine reports both timeouts alike; one the total did not cause is the attempt's own.
    const outcome = reported.kind === 'timeout' && !this.totalExpired ? PER_TRY_TIMEOUT : reported;
    this.forwarding = undefined;
    this.awaitingHead = false;
    if (outcome.kind === 'timeout' && this.uploadStalledByClient()) {
      // HAProxy's `timeout http-request`: time ran out while we waited for the client's body.
      lease.end({ kind: 'client-abort' });
      this.deps.events.attemptEnded(this.arrivedAt, lease.backend, false, lease.backendIndex);
      sendJson(this.res, 408, { error: 'the request body did not arrive in time' }, { connection: 'close' });
      this.record(lease.backend, '408');
      return;
    }
    lease.end(outcome);
    this.deps.events.attemptEnded(this.arrivedAt, lease.backend, isBackendFailure(outcome), lease.backendIndex);
    switch (outcome.kind) {
      case 'response':
        // Retried only when it was dropped unrelayed (retryInstead); a relayed one has its head sent.
        if (this.retried(lease)) return;
        this.record(lease.backend, String(outcome.status));
        return;
      case 'client-abort':
        this.record(lease.backend, CLIENT_CLOSED);
        return;
      case 'timeout':
        if (this.retried(lease)) return;
        sendJson(this.res, 504, { error: `backend ${lease.backend} timed out` });
        this.record(lease.backend, 'timeout');
        return;
      case 'connect-error':
      case 'reset':
        if (this.retried(lease)) return;
        sendJson(this.res, 502, { error: `backend ${lease.backend} failed: ${outcome.kind}` });
        this.record(lease.backend, 'error');
        return;
    }
  }

  /**
   * The client is still sending the rest of a body that filled the buffer (request-body.ts) and
   * we wait on it: the body is incomplete and flowing (a backend that stopped reading would have
   * paused it, through the pipe's backpressure).
   */
  private uploadStalledByClient(): boolean {
    return !this.req.complete && this.req.readableFlowing === true;
  }

  /** Whether the Balancer sent the failed attempt again (only before any response byte went out). */
  private retried(lease: Lease): boolean {
    return !this.res.headersSent && !this.recorded && lease.retry((admission) => this.admitted(admission));
  }

  private totalTimeout(): void {
    if (this.recorded) return;
    this.totalExpired = true;
    if (this.forwarding) {
      // The engine reports the attempt as a timeout, which answers 504 (or cuts a started response).
      this.forwarding.timeOut();
      return;
    }
    this.ticket?.cancel();
    sendJson(this.res, 504, { error: 'request timed out in the dispatcher' });
    this.record(this.lease?.backend ?? NO_BACKEND, 'timeout');
  }

  /** The answer was written in full, or the client left first. */
  private responseClosed(): void {
    this.closed = true;
    if (this.ticket) {
      this.ticket.cancel();
      this.ticket = undefined;
      this.record(NO_BACKEND, CLIENT_CLOSED);
    }
    this.forwarding?.responseClosed();
  }

  private record(backend: BackendId, code: string): void {
    if (this.recorded) return;
    this.recorded = true;
    // Answered before the client finished its upload (an early 413, a 503): drop the rest.
    lingerOn(this.req);
    this.deps.events.answered(this.arrivedAt, backend, code, this.deps.clock.now() - this.arrivedAt);
  }
}

/** A request answered before routing (refused, or its client failed to send it): no backend involved. */
function answeredUnrouted(deps: HttpDispatcherDeps, code: string): void {
  const now = deps.clock.now();
  deps.events.arrived(now);
  deps.events.answered(now, NO_BACKEND, code, 0);
}

/** The 'request' listener of the proxy port (node:http's server, or the fast front: fast-front.ts). */
export function createProxyHandler(deps: HttpDispatcherDeps): (req: ProxyRequest, res: ProxyResponse) => void {
  return (req, res) => {
    const verdict = guardRequest(req);
    if (verdict !== undefined) {
      if (verdict.kind === 'close') req.socket.destroy();
      else sendJson(res, verdict.status, { error: verdict.error }, verdict.headers);
      answeredUnrouted(deps, verdict.kind === 'close' ? '400' : String(verdict.status));
      return;
    }
    const path = originPath(req.url);
    if (path === undefined) {
      sendJson(res, 400, { error: 'the request target must be a path (or an absolute http URL, whose host is ignored)' });
      answeredUnrouted(deps, '400');
      return;
    }
    // The absolute form's host is dropped here: the backend comes from the configured set only.
    req.url = path;
    const { info, cookieSession } = readRequestInfo(req, path, deps.balancer.policy.session, deps.signer, deps.clientAddress);
    const { clientClose } = prepareUpstreamHeaders(req);
    const route = (body?: BufferedBody): void => new Exchange(deps, req, res, cookieSession, clientClose, body).start(info);
    if (!hasBody(req)) {
      route();
      return;
    }
    bufferBody(req, deps.deadlines.body, route, (why) => {
      // The client's fault either way: answered (or recorded) without a backend.
      if (why === 'timeout') sendJson(res, 408, { error: 'the request body did not arrive in time' }, { connection: 'close' });
      answeredUnrouted(deps, why === 'timeout' ? '408' : CLIENT_CLOSED);
    });
  };
}
