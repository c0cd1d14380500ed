import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestEvents } from '../../core/request-events.js';
import { PROXY_ENGINES } from '../../core/scenario.js';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { ADMIN_TOKEN, get, rawRequest, replicasScenario } from './dispatcher-helpers.js';

describe.each(PROXY_ENGINES)('dispatcher routing on real sockets, %s engine', (engine) => {
  let up: RunningUp;
  let url: string;
  /** Each attempt's backend as its request events name it: [event, id, backendIndex]. */
  const named: [string, string, number][] = [];
  const events: RequestEvents = {
    arrived: () => undefined,
    admitted: (_at, backend, _waitMs, _attempt, index) => void named.push(['admitted', backend, index]),
    attemptEnded: (_at, backend, _failed, index) => void named.push(['ended', backend, index]),
    answered: () => undefined,
  };

  beforeAll(async () => {
    // The byte-exact test reads the replicas' body digest, which a scenario must ask for.
    up = await startUp({ scenario: replicasScenario(3, { bodyDigest: true, dispatcher: { engine } }), policy: 'round-robin', adminToken: ADMIN_TOKEN, dispatcher: { events } });
    url = up.dispatcher.url;
  });
  afterAll(async () => {
    await up?.close();
  });

  it('round-robin visits the replicas in order', async () => {
    const served: (string | null)[] = [];
    for (let i = 0; i < 9; i++) {
      const answer = await get(`${url}/page`);
      expect(answer.status).toBe(200);
      served.push(answer.servedBy);
    }
    const first = served.slice(0, 3);
    expect(new Set(first)).toEqual(new Set(['r1', 'r2', 'r3']));
    expect(served).toEqual([...first, ...first, ...first]);
  });

  it('never leaves the configured set: an absolute-URI request line and a forged Host are served by a replica', async () => {
    const absolute = await rawRequest(url, 'GET http://elsewhere.invalid:9/steal HTTP/1.1\r\nHost: elsewhere.invalid:9\r\nConnection: close\r\n\r\n');
    expect(absolute).toMatch(/^HTTP\/1\.1 200/);
    expect(absolute).toMatch(/x-served-by: r[123]\r\n/i);
    const forged = await rawRequest(url, 'GET /x HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n');
    expect(forged).toMatch(/^HTTP\/1\.1 200/);
    expect(forged).toMatch(/x-served-by: r[123]\r\n/i);
    const bad = await rawRequest(url, 'GET elsewhere.invalid:443 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(bad).toMatch(/^HTTP\/1\.1 400/);
    const tunnel = await rawRequest(url, 'CONNECT elsewhere.invalid:443 HTTP/1.1\r\nHost: elsewhere.invalid:443\r\n\r\n');
    expect(tunnel).toMatch(/^HTTP\/1\.1 405/);
    expect(tunnel).toContain('CONNECT is not supported');
  });

  it('forwards a 1 MB POST byte-exact', async () => {
    const body = randomBytes(1 << 20);
    const answer = await get(`${url}/upload`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    expect(answer.status).toBe(200);
    const json = JSON.parse(answer.body) as { bodyBytes: number; bodySha256: string };
    expect(json.bodyBytes).toBe(body.length);
    expect(json.bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it("reports each answer's X-VM-Load on its lease, and names the backend in the request events by id and by its place in the Balancer's list", async () => {
    named.length = 0;
    for (let i = 0; i < 3; i++) expect((await get(`${url}/page`)).status).toBe(200);
    const views = up.dispatcher.balancer.views();
    for (const v of views) expect([v.id, typeof v.reportedLoad, typeof v.reportedAt]).toEqual([v.id, 'number', 'number']);
    const order = views.map((v) => v.id);
    expect(named.filter(([event]) => event === 'admitted').map(([, id]) => id).sort()).toEqual(['r1', 'r2', 'r3']);
    expect(named).toHaveLength(6);
    for (const [event, id, index] of named) expect([event, id, order[index]]).toEqual([event, id, id]);
  });

  it("drops the backend's hop-by-hop headers from the answer", async () => {
    const answer = await get(`${url}/page`);
    expect(answer.headers.get('keep-alive')).toBeNull();
    expect(answer.headers.get('x-vm-load')).not.toBeNull();
  });
});

describe('dispatcher admin and metrics on real sockets', () => {
  let up: RunningUp;
  let url: string;

  beforeAll(async () => {
    up = await startUp({ scenario: replicasScenario(3), policy: 'round-robin', adminToken: ADMIN_TOKEN });
    url = up.dispatcher.url;
    // Traffic for the counts and metrics below: four rounds of the three replicas.
    for (let i = 0; i < 12; i++) expect((await get(`${url}/page`)).status).toBe(200);
  });
  afterAll(async () => {
    await up?.close();
  });

  it('switches policy through the admin API with the token, and refuses it without', async () => {
    const admin = up.dispatcher.adminUrl;
    const refused = await fetch(`${admin}/policy`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"name":"least-loaded"}' });
    expect(refused.status).toBe(401);
    expect(up.dispatcher.balancer.policy.name).toBe('round-robin');

    const switched = await fetch(`${admin}/policy`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: '{"name":"least-loaded"}',
    });
    expect(switched.status).toBe(200);
    expect(up.dispatcher.balancer.policy.name).toBe('least-loaded');
    expect(await (await fetch(`${admin}/policy`)).json()).toMatchObject({ name: 'least-loaded' });
    expect((await get(`${url}/page`)).status).toBe(200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/dispatchlab_policy_info\{policy="least-loaded"\} 1/);
    expect(metrics).toMatch(/dispatchlab_policy_info\{policy="round-robin"\} 0/);
  });

  it('lists backends with their state, in-flight and requests', async () => {
    const list = (await (await fetch(`${up.dispatcher.adminUrl}/backends`)).json()) as { backends: { id: string; state: string; inFlight: number; requests: number }[] };
    expect(list.backends.map((b) => b.id).sort()).toEqual(['r1', 'r2', 'r3']);
    for (const b of list.backends) expect(b).toMatchObject({ state: 'healthy', inFlight: 0 });
    expect(list.backends.reduce((sum, b) => sum + b.requests, 0)).toBeGreaterThanOrEqual(12);
  });

  it('exposes metrics that pass promtool check metrics', async () => {
    const text = await (await fetch(`${up.dispatcher.adminUrl}/metrics`)).text();
    for (const name of ['dispatchlab_requests_total', 'dispatchlab_request_duration_seconds_bucket', 'dispatchlab_queue_wait_seconds_bucket', 'dispatchlab_queue_length', 'dispatchlab_backend_in_flight', 'dispatchlab_backend_up', 'dispatchlab_backend_state', 'dispatchlab_backend_weight']) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/dispatchlab_requests_total\{policy="round-robin",backend="r1",code="200"\} \d+/);
    const bin = execFileSync('bash', ['scripts/ensure-promtool.sh'], { encoding: 'utf8' }).trim();
    // promtool exits non-zero and prints the problems when a metric is malformed.
    const out = execFileSync(`${bin}/promtool`, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(out).toBe('');
  });
});
