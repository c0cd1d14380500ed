import { createHash } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { unescape } from 'node:querystring';
import type { Rng } from '../core/rng.js';
import { lingerOn } from '../core/server-lifecycle.js';
import type { RequestClass } from '../core/scenario.js';
import { classify, drawCost, type RequestCosts } from '../core/workload.js';
import type { HostMetrics } from './host-metrics.js';
import type { HypervisorHost, JobTiming, VmPort, VmSnapshot } from './hypervisor/types.js';

/**
 * The HTTP face of one simulated VM. Every path other than /healthz, /load and /metrics is a
 * request: its route picks a request class, its native cost is the simulator's draw for request n
 * (RequestCosts; n is a generated request's `?n=`, else this VM's own stream draws it), and the
 * response waits for the hypervisor model to finish running it on the VM. The answer is the
 * model's account of the request (service, steal, queueing, suspension), not a sleep.
 *
 * What a real VM would do decides the failure modes: a suspended or migrating VM makes no progress,
 * so its requests simply wait (the model holds them); a crashed VM refuses, so its connections are
 * destroyed and the dispatcher sees a connection error. /healthz answers 503 in all three states so
 * health checks route around the VM before requests time out on it.
 *
 * A plain node:http request listener, not an express app: every replica of a host shares the
 * process's one event loop with the dispatcher (`up`, `compare`), so what the HTTP side spends per
 * request is time outside the model in every live answer (BENCHMARKS.md, "Replica HTTP side").
 * Three fixed routes and a JSON answer need no router; what express did for them (route matching,
 * reading the query, HEAD) is kept, to the letter, by ownRoute, parseTarget and requestIndex.
 */

export interface ReplicaAppOptions {
  readonly host: HypervisorHost;
  readonly vm: string;
  readonly classes: readonly RequestClass[];
  /** Request i's cost, the simulator's draw for it: i is the generated request's `n` query parameter. */
  readonly costs: RequestCosts;
  /** This VM's own stream, for requests that carry no index (curl, another load tool). */
  readonly rng: Rng;
  readonly metrics: HostMetrics;
  /** Larger request bodies get 413. */
  readonly maxBodyBytes: number;
}

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** The JSON a served request answers with. */
export interface ReplicaResponse {
  readonly vm: string;
  readonly host: string;
  readonly class: string;
  readonly serviceMs: number;
  readonly stealMs: number;
  readonly queuedMs: number;
  readonly suspendedMs: number;
  /** Model time from submission to completion. */
  readonly latencyMs: number;
  readonly bodyBytes: number;
  /** Hex SHA-256 of the request body, when the request's class asks for it (`bodyDigest`). */
  readonly bodySha256?: string;
}

export function createReplicaApp(opts: ReplicaAppOptions): RequestListener {
  const { host, vm, metrics } = opts;
  // Resolved once: every request submits to this VM and reads its load.
  const port = host.port(vm);
  const answerOwn = async (route: OwnRoute, res: ServerResponse): Promise<void> => {
    switch (route) {
      case '/healthz': {
        const status = host.status(vm);
        sendJson(res, status === 'running' ? 200 : 503, { vm, host: host.name, status });
        return;
      }
      case '/load':
        sendJson(res, 200, vmSnapshot(host, vm));
        return;
      case '/metrics': {
        const text = await metrics.registry.metrics();
        res.writeHead(200, ['Content-Type', metrics.registry.contentType, 'Content-Length', String(Buffer.byteLength(text))]);
        res.end(text);
      }
    }
  };
  return (req, res) => {
    const target = parseTarget(req.url ?? '/');
    const route = req.method === 'GET' || req.method === 'HEAD' ? ownRoute(target.path) : undefined;
    if (route === undefined) {
      void serveRequest(opts, port, target, req, res);
      return;
    }
    // A failing scrape (a metric's collect() that throws) answers 500; the server stays up.
    answerOwn(route, res).catch((err: unknown) => {
      sendJson(res, 500, { error: err instanceof Error ? err.message : String(err), vm });
    });
  };
}

async function serveRequest(opts: ReplicaAppOptions, port: VmPort, target: RequestTarget, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { vm } = opts;
  const cls = classify(opts.classes, target.path);
  if (cls === undefined) {
    sendJson(res, 404, { error: `no request class matches ${target.path}`, vm });
    return;
  }
  const body = await readBody(req, opts.maxBodyBytes, cls.bodyDigest);
  if (body === 'too-large') {
    // Answered before the whole body: drop the rest rather than reset the connection under the
    // 413 (through the dispatcher, the reset turned it into a 502 charged to this replica: 17.6).
    sendJson(res, 413, { error: `request body exceeds ${opts.maxBodyBytes} bytes`, vm });
    lingerOn(req);
    return;
  }
  if (body === 'aborted' || res.destroyed) return;

  let finished = false;
  const index = requestIndex(target.query);
  const cost = index === undefined ? drawCost(cls, opts.rng) : opts.costs.of(cls, index);
  const job = port.submit(cost, (result) => {
    finished = true;
    if (!result.ok) {
      // crashed: refuse like a dead VM; cancelled: the client is already gone.
      if (result.reason === 'crashed') req.socket.destroy();
      return;
    }
    opts.metrics.observeCompletion(result.timing);
    if (res.destroyed) return;
    sendJson(res, 200, responseBody(result.timing, cls.name, body), ['X-Served-By', vm, 'X-VM-Load', String(port.load())]);
  });
  // The client went away before the model finished: stop spending simulated CPU on it.
  res.on('close', () => {
    if (!finished) job.cancel();
  });
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Answer `body` as JSON, after `headers` (name, value, name, value, ...); HEAD gets the headers only (Node drops the body). */
function sendJson(res: ServerResponse, status: number, body: unknown, headers: readonly string[] = []): void {
  const text = JSON.stringify(body);
  res.writeHead(status, [...headers, 'Content-Type', JSON_TYPE, 'Content-Length', String(Buffer.byteLength(text))]);
  res.end(text);
}

/** The replica's own routes, answered to GET and HEAD; any other method on them is a request like any other path. */
type OwnRoute = '/healthz' | '/load' | '/metrics';
const OWN_ROUTES: ReadonlySet<string> = new Set<OwnRoute>(['/healthz', '/load', '/metrics']);

/** The own route `path` names, matched as express matched it: in any letter case, with or without one trailing slash. */
export function ownRoute(path: string): OwnRoute | undefined {
  const bare = (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
  return OWN_ROUTES.has(bare) ? (bare as OwnRoute) : undefined;
}

export interface RequestTarget {
  /** As the client sent it (not decoded, not normalised): what request classes' routes match. */
  readonly path: string;
  /** After the `?`, without the fragment; '' when there is none. */
  readonly query: string;
}

/**
 * The path and query of a request target, read as express read them (parseurl, then url.parse):
 * origin form as is; absolute form (`http://host/p?q`, what a client talking to a proxy sends)
 * without its scheme and authority, and `/` when it names no path; a fragment dropped.
 */
export function parseTarget(url: string): RequestTarget {
  let start = 0;
  if (url.charCodeAt(0) !== SLASH) {
    const authority = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*/i.exec(url);
    if (authority !== null) start = authority[0].length;
  }
  const hash = url.indexOf('#', start);
  const end = hash < 0 ? url.length : hash;
  const question = url.indexOf('?', start);
  const pathEnd = question < 0 || question > end ? end : question;
  const path = start > 0 && pathEnd === start ? '/' : url.slice(start, pathEnd);
  return { path, query: pathEnd < end ? url.slice(pathEnd + 1, end) : '' };
}

const SLASH = 0x2f;

/**
 * The generated request's index from the query (`n=I`, an integer >= 0 of up to 15 digits), or
 * undefined. It reads the query as express's parser (node:querystring) did, for `n` alone: a key
 * or value with `%` escapes or `+` is decoded; an `n` given twice is a list there, so no index.
 */
export function requestIndex(query: string): number | undefined {
  if (query === '') return undefined;
  let value: string | undefined;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (decodeQueryPart(eq < 0 ? pair : pair.slice(0, eq)) !== 'n') continue;
    if (value !== undefined) return undefined;
    value = eq < 0 ? '' : decodeQueryPart(pair.slice(eq + 1));
  }
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

function decodeQueryPart(text: string): string {
  return text.includes('%') || text.includes('+') ? unescape(text.replaceAll('+', ' ')) : text;
}

function responseBody(timing: JobTiming, className: string, body: BodyDigest): ReplicaResponse {
  return {
    vm: timing.vm,
    host: timing.host,
    class: className,
    serviceMs: timing.serviceMs,
    stealMs: timing.stealMs,
    queuedMs: timing.queuedMs,
    suspendedMs: timing.suspendedMs,
    latencyMs: timing.finishedAt - timing.submittedAt,
    bodyBytes: body.bytes,
    ...(body.sha256 === undefined ? {} : { bodySha256: body.sha256 }),
  };
}

function vmSnapshot(host: HypervisorHost, vm: string): VmSnapshot {
  const snap = host.snapshot().vms.find((v) => v.vm === vm);
  if (snap === undefined) throw new Error(`VM "${vm}" is not on host "${host.name}"`);
  return snap;
}

interface BodyDigest {
  readonly bytes: number;
  readonly sha256?: string;
}

const NO_BODY: BodyDigest = { bytes: 0 };

/**
 * Count the body as it streams (and hash it when `digest`), never holding it: memory stays flat
 * whatever the size. A declared Content-Length over the limit is refused before reading a byte; a
 * chunked body is refused as soon as it crosses the limit, and reading stops there. A request
 * with no body is not read at all (Node discards its empty stream when the response ends).
 */
function readBody(req: IncomingMessage, maxBytes: number, digest: boolean): Promise<BodyDigest | 'too-large' | 'aborted'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) return Promise.resolve('too-large');
  if (!digest && declared === 0 && req.headers['transfer-encoding'] === undefined) return Promise.resolve(NO_BODY);
  return new Promise((resolve) => {
    const hash = digest ? createHash('sha256') : undefined;
    let bytes = 0;
    const settle = (outcome: BodyDigest | 'too-large' | 'aborted'): void => {
      req.off('data', onData).off('end', onEnd).off('error', onAbort).off('close', onAbort);
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        req.pause();
        settle('too-large');
        return;
      }
      hash?.update(chunk);
    };
    const onEnd = (): void => settle({ bytes, sha256: hash?.digest('hex') });
    const onAbort = (): void => settle('aborted');
    req.on('data', onData).on('end', onEnd).on('error', onAbort).on('close', onAbort);
  });
}
