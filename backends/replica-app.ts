import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import express, { type Express, type Request, type Response } from 'express';
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

export function createReplicaApp(opts: ReplicaAppOptions): Express {
  const { host, vm, metrics } = opts;
  // Resolved once: every request submits to this VM and reads its load.
  const port = host.port(vm);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.get('/healthz', (_req, res) => {
    const status = host.status(vm);
    res.status(status === 'running' ? 200 : 503).json({ vm, host: host.name, status });
  });
  app.get('/load', (_req, res) => {
    res.json(vmSnapshot(host, vm));
  });
  app.get('/metrics', async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(text);
  });
  app.use((req, res) => {
    void serveRequest(opts, port, req, res);
  });
  return app;
}

async function serveRequest(opts: ReplicaAppOptions, port: VmPort, req: Request, res: Response): Promise<void> {
  const { vm } = opts;
  const cls = classify(opts.classes, req.path);
  if (cls === undefined) {
    res.status(404).json({ error: `no request class matches ${req.path}`, vm });
    return;
  }
  const body = await readBody(req, opts.maxBodyBytes, cls.bodyDigest);
  if (body === 'too-large') {
    // Answered before the whole body: drop the rest rather than reset the connection under the
    // 413 (through the dispatcher, the reset turned it into a 502 charged to this replica: 17.6).
    res.status(413).json({ error: `request body exceeds ${opts.maxBodyBytes} bytes`, vm });
    lingerOn(req);
    return;
  }
  if (body === 'aborted' || res.destroyed) return;

  let finished = false;
  const index = requestIndex(req.query.n);
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
    res
      .set('X-Served-By', vm)
      .set('X-VM-Load', String(port.load()))
      .json(responseBody(result.timing, cls.name, body));
  });
  // The client went away before the model finished: stop spending simulated CPU on it.
  res.on('close', () => {
    if (!finished) job.cancel();
  });
}

/** The generated request's index (`?n=I`, an integer >= 0), or undefined. */
function requestIndex(n: unknown): number | undefined {
  if (typeof n !== 'string' || !/^\d{1,15}$/.test(n)) return undefined;
  return Number(n);
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
