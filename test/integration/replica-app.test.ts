import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Gauge } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/clock.js';
import { drawCost, RequestCosts } from '../../core/workload.js';
import { createRng } from '../../core/rng.js';
import { parseScenario } from '../../core/scenario.js';
import { createHostMetrics } from '../../backends/host-metrics.js';
import { createReplicaApp, type ReplicaResponse } from '../../backends/replica-app.js';
import type { HostSnapshot, HypervisorHost, JobResult, RequestCost, VmPort, VmStatus } from '../../backends/hypervisor/types.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { getJson, http } from '../helpers/http.js';

/**
 * The replica app's HTTP contract against a tiny stand-in host whose jobs take exactly their cpuMs
 * of wall time, so every outcome (crash, suspension, cancellation) can be set up exactly. The real
 * model is exercised in host-server.test.ts.
 */

class StandInHost implements HypervisorHost {
  readonly name = 'host-x';
  vmStatus: VmStatus = 'running';
  running = 0;
  completed = 0;
  readonly cancelled: RequestCost[] = [];

  submit(vm: string, cost: RequestCost, onDone: (r: JobResult) => void) {
    if (this.vmStatus === 'crashed') {
      queueMicrotask(() => onDone({ ok: false, reason: 'crashed', vm, host: this.name }));
      return { cancel: () => {} };
    }
    this.running++;
    const submittedAt = systemClock.now();
    let settled = false;
    const settle = (result: JobResult): void => {
      if (settled) return;
      settled = true;
      this.running--;
      onDone(result);
    };
    const cancelTimer = systemClock.schedule(cost.cpuMs, () => {
      this.completed++;
      const timing = { vm, host: this.name, submittedAt, finishedAt: systemClock.now(), serviceMs: cost.cpuMs, stealMs: 0, queuedMs: 0, suspendedMs: 0 };
      settle({ ok: true, timing });
    });
    return {
      cancel: () => {
        if (settled) return;
        cancelTimer();
        this.cancelled.push(cost);
        settle({ ok: false, reason: 'cancelled', vm, host: this.name });
      },
    };
  }
  port(vm: string): VmPort {
    return { vm, submit: (cost, onDone) => this.submit(vm, cost, onDone), load: () => this.running };
  }
  start(): void {}
  stop(): void {}
  status(): VmStatus {
    return this.vmStatus;
  }
  onStatusChange(): void {}
  // The replica app never calls the runtime controls; the stand-in sets vmStatus directly instead.
  crash(): void {
    throw new Error('not modelled by the stand-in');
  }
  restore(): void {
    throw new Error('not modelled by the stand-in');
  }
  ownerReturns(): void {
    throw new Error('not modelled by the stand-in');
  }
  setHostLoad(): void {
    throw new Error('not modelled by the stand-in');
  }
  hostLoad(): number {
    return 0;
  }
  snapshot(): HostSnapshot {
    const vm = {
      vm: 'vm-1', host: this.name, status: this.vmStatus, vcpus: 1, serves: true, running: this.running,
      completed: this.completed, cpuSeconds: 0, stealSeconds: 0, swappedMb: 0, ioTraps: 0, pageTableTraps: 0, load: this.running,
    };
    return { host: this.name, hypervisor: 'type1', cores: 1, ownerActive: false, memoryMb: 1024, memoryDemandMb: 0, vms: [vm] };
  }
}

const scenario = parseScenario({
  name: 'replica-app',
  hosts: [{ name: 'host-x', cores: 1, memoryMb: 1024 }],
  vms: [{ name: 'vm-1', host: 'host-x', memoryMb: 512 }],
  workload: {
    classes: [
      { name: 'api', share: 0.4, route: '/api', cpuMs: 5, service: 'deterministic', bodyDigest: true },
      { name: 'upload', share: 0.1, route: '/upload', cpuMs: 5, service: 'deterministic' },
      { name: 'slow', share: 0.5, route: '/api/slow', cpuMs: 5000, service: 'deterministic' },
    ],
  },
});
const MAX_BODY_BYTES = 64 * 1024;

let fake: StandInHost;
let server: TestServer;
let base: string;

beforeAll(async () => {
  fake = new StandInHost();
  const app = createReplicaApp({
    host: fake,
    vm: 'vm-1',
    classes: scenario.workload.classes,
    costs: new RequestCosts(1),
    rng: createRng(1),
    metrics: createHostMetrics(fake),
    maxBodyBytes: MAX_BODY_BYTES,
  });
  server = await startTestServer(app);
  base = server.url;
});

afterAll(() => server.close());

describe('replica app', () => {
  it('answers a request with the model timing, the class of its route and the serving VM', async () => {
    const res = await getJson<ReplicaResponse>(`${base}/api/items?x=1`);
    expect(res.status).toBe(200);
    expect(res.headers['x-served-by']).toBe('vm-1');
    expect(Number(res.headers['x-vm-load'])).toBeGreaterThanOrEqual(0);
    expect(res.json).toMatchObject({ vm: 'vm-1', host: 'host-x', class: 'api', serviceMs: 5, stealMs: 0, bodyBytes: 0 });
    expect(res.json.latencyMs).toBeGreaterThanOrEqual(4);
    expect(res.json.bodySha256).toBe(createHash('sha256').digest('hex'));
  });

  it('counts but does not hash the body of a class that does not ask for its digest', async () => {
    const body = Buffer.alloc(5000, 3);
    const posted = await getJson<ReplicaResponse>(`${base}/upload`, { method: 'POST', body });
    expect(posted.status).toBe(200);
    expect(posted.json).toMatchObject({ class: 'upload', bodyBytes: body.length });
    expect(posted.json).not.toHaveProperty('bodySha256');
    const bodiless = await getJson<ReplicaResponse>(`${base}/upload`);
    expect(bodiless.json).toMatchObject({ class: 'upload', bodyBytes: 0 });
    expect(bodiless.json).not.toHaveProperty('bodySha256');
  });

  it('answers 404 for a path no class routes', async () => {
    const res = await getJson<{ error: string }>(`${base}/nothing-here`);
    expect(res.status).toBe(404);
    expect(res.json.error).toMatch(/no request class/);
  });

  it('counts and hashes the body as it streams, chunked or not', async () => {
    const chunks = [Buffer.alloc(10_000, 1), Buffer.from('hello'), Buffer.alloc(20_000, 7)];
    const whole = Buffer.concat(chunks);
    const sha = createHash('sha256').update(whole).digest('hex');
    for (const body of [whole, chunks]) {
      const res = await getJson<ReplicaResponse>(`${base}/api`, { method: 'POST', body });
      expect(res.status).toBe(200);
      expect(res.json.bodyBytes).toBe(whole.length);
      expect(res.json.bodySha256).toBe(sha);
    }
  });

  it('refuses a body over the limit with 413, declared or discovered while streaming', async () => {
    const declared = await http(`${base}/api`, { method: 'POST', headers: { 'content-length': MAX_BODY_BYTES + 1 }, body: Buffer.alloc(0) }).catch(
      (err: Error) => err,
    );
    expect(declared).toMatchObject({ status: 413 });
    const streamed = await getJson<{ error: string }>(`${base}/api`, { method: 'POST', body: [Buffer.alloc(MAX_BODY_BYTES), Buffer.alloc(10)] });
    expect(streamed.status).toBe(413);
  });

  it('answers 413 while the client still uploads, drops the rest, and keeps the connection for the next request', async () => {
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    const waitFor = async (pattern: RegExp): Promise<void> => {
      while (!pattern.test(data)) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    socket.write(`POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 * MAX_BODY_BYTES}\r\n\r\n`);
    socket.write(Buffer.alloc(MAX_BODY_BYTES + 10));
    // The answer comes before the upload is done: the client is not reset mid-upload.
    await waitFor(/^HTTP\/1\.1 413 /);
    socket.write(Buffer.alloc(MAX_BODY_BYTES - 10));
    socket.write('GET /api HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(/HTTP\/1\.1 200 /);
    socket.destroy();
  });

  it('reports health from the VM status: 503 while suspended, migrating or crashed', async () => {
    const seen: Record<string, number> = {};
    for (const status of ['running', 'suspended', 'migrating', 'crashed'] as const) {
      fake.vmStatus = status;
      seen[status] = (await http(`${base}/healthz`)).status;
    }
    fake.vmStatus = 'running';
    expect(seen).toEqual({ running: 200, suspended: 503, migrating: 503, crashed: 503 });
  });

  it('serves the VM snapshot on /load and the host registry on /metrics', async () => {
    const load = await getJson<{ vm: string; completed: number }>(`${base}/load`);
    expect(load.json.vm).toBe('vm-1');
    expect(load.json.completed).toBeGreaterThan(0);
    const metrics = await http(`${base}/metrics`);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.text).toContain('dispatchlab_vm_requests_completed_total{host="host-x",vm="vm-1"}');
    expect(metrics.text).toMatch(/dispatchlab_vm_service_seconds_count\{host="host-x",vm="vm-1"\} [1-9]/);
  });

  it('drops the connection of a crashed VM, like a dead machine', async () => {
    fake.vmStatus = 'crashed';
    const outcome = await http(`${base}/api`).catch((err: NodeJS.ErrnoException) => err.code);
    fake.vmStatus = 'running';
    expect(outcome).toBe('ECONNRESET');
  });

  it('cancels the model job when the client goes away before it finishes', async () => {
    const before = fake.cancelled.length;
    const req = httpRequest(`${base}/api/slow`, { agent: false });
    const failed = new Promise<void>((resolve) => req.on('error', () => resolve()));
    req.end();
    // Hang up once the request has reached the model (not after a guess at how long that takes).
    await expect.poll(() => fake.running, { timeout: 30_000, interval: 5 }).toBe(1);
    req.destroy();
    await failed;
    await expect.poll(() => fake.cancelled.length, { timeout: 30_000 }).toBe(before + 1);
    expect(fake.running).toBe(0);
  });
});

/** What express did for the app and node:http does not do by itself: HEAD, route matching, the query, errors. */
describe('replica app without express', () => {
  const costScenario = parseScenario({
    name: 'replica-costs',
    hosts: [{ name: 'host-x', cores: 1, memoryMb: 1024 }],
    vms: [{ name: 'vm-1', host: 'host-x', memoryMb: 512 }],
    workload: { classes: [{ name: 'exp', share: 1, route: '/exp', cpuMs: 2, service: 'exponential' }] },
  });
  const [exp] = costScenario.workload.classes;
  const SEED = 5;
  let costHost: StandInHost;
  let costServer: TestServer;
  let costBase: string;
  let brokenServer: TestServer;

  beforeAll(async () => {
    costHost = new StandInHost();
    const replica = (metrics = createHostMetrics(costHost)) =>
      createReplicaApp({ host: costHost, vm: 'vm-1', classes: costScenario.workload.classes, costs: new RequestCosts(SEED), rng: createRng(SEED), metrics, maxBodyBytes: MAX_BODY_BYTES });
    costServer = await startTestServer(replica());
    costBase = costServer.url;
    const broken = createHostMetrics(costHost);
    new Gauge({
      name: 'dispatchlab_test_broken',
      help: 'A metric whose collect() fails.',
      registers: [broken.registry],
      collect() {
        throw new Error('collect failed');
      },
    });
    brokenServer = await startTestServer(replica(broken));
  });

  afterAll(async () => {
    await costServer.close();
    await brokenServer.close();
  });

  it('costs request n as the simulator does, and a request without one index from the VM own stream', async () => {
    const serviceMs = async (path: string): Promise<number> => (await getJson<ReplicaResponse>(`${costBase}${path}`)).json.serviceMs;
    const costs = new RequestCosts(SEED);
    const own = createRng(SEED);
    expect(await serviceMs('/exp?n=3')).toBe(costs.of(exp, 3).cpuMs);
    expect(await serviceMs('/exp/item?x=1&n=11&s=2')).toBe(costs.of(exp, 11).cpuMs);
    expect(await serviceMs('/exp?n=%33')).toBe(costs.of(exp, 3).cpuMs);
    // No index, in the order they arrive: the stream's next draws.
    for (const path of ['/exp', '/exp?n=3&n=3', '/exp?n=-1', '/exp?n=1.5']) {
      expect(await serviceMs(path), path).toBe(drawCost(exp, own).cpuMs);
    }
    expect(costs.of(exp, 3).cpuMs).not.toBe(costs.of(exp, 11).cpuMs);
  });

  it('answers HEAD with the headers of GET and no body, on its own routes and on requests', async () => {
    const get = await http(`${costBase}/healthz`);
    const head = await http(`${costBase}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.text)));
    expect(head.text).toBe('');
    const request = await http(`${costBase}/exp?n=1`, { method: 'HEAD' });
    expect(request.status).toBe(200);
    expect(request.headers['x-served-by']).toBe('vm-1');
    expect(Number(request.headers['content-length'])).toBeGreaterThan(0);
    expect(request.text).toBe('');
  });

  it('matches its own routes in any case and with a trailing slash, for GET and HEAD only', async () => {
    expect((await getJson<{ status: string }>(`${costBase}/HEALTHZ`)).json.status).toBe('running');
    expect((await getJson<{ vm: string }>(`${costBase}/load/`)).json.vm).toBe('vm-1');
    // Another method on an own route is a request; no class routes /healthz.
    const posted = await http(`${costBase}/healthz`, { method: 'POST' });
    expect(posted.status).toBe(404);
    expect(posted.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(posted.text)).toEqual({ error: 'no request class matches /healthz', vm: 'vm-1' });
  });

  it('routes an absolute-form request target by its path', async () => {
    const { port } = new URL(costBase);
    const socket = connect(Number(port), '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.write(`GET http://replica.example/exp?n=4 HTTP/1.1\r\nHost: replica.example\r\nConnection: close\r\n\r\n`);
    await closed;
    expect(data).toMatch(/^HTTP\/1\.1 200 /);
    expect(JSON.parse(data.slice(data.indexOf('\r\n\r\n') + 4))).toMatchObject({ class: 'exp', serviceMs: new RequestCosts(SEED).of(exp, 4).cpuMs });
  });

  it('answers 500 when a scrape fails, and keeps serving', async () => {
    const scrape = await http(`${brokenServer.url}/metrics`);
    expect(scrape.status).toBe(500);
    expect(JSON.parse(scrape.text)).toEqual({ error: 'collect failed', vm: 'vm-1' });
    expect((await http(`${brokenServer.url}/healthz`)).status).toBe(200);
  });
});
