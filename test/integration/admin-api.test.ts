import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminError, createAdminApp, type AdminBackend, type AdminControl, type DashboardFeed, type DashboardFrame } from '../../dispatcher/admin-api.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const TOKEN = 'test-token-123456';

/** An in-memory control that records calls, so the tests see what the API asked for. */
function fakeControl(): AdminControl & { calls: string[] } {
  const calls: string[] = [];
  const backend = (id: string): AdminBackend => ({
    id, url: `http://127.0.0.1:1/${id}`, weight: 1, healthy: true, state: 'healthy', inFlight: 0,
    requests: 0, errors: 0, ejections: 0, consecutiveFailures: 0,
  });
  let policy = 'round-robin';
  const known = (id: string): void => {
    if (id !== 'web-1') throw new AdminError(404, `no backend "${id}"`);
  };
  return {
    calls,
    backends: () => [backend('web-1')],
    policy: () => ({ name: policy, label: policy, options: {} }),
    setPolicy(spec) {
      const name = 'file' in spec ? spec.file : spec.name;
      if (name.startsWith('nope')) throw new Error(`unknown policy "${name}" (known: round-robin)`);
      policy = name;
      calls.push(`policy ${name} ${JSON.stringify(spec.options)}`);
    },
    addBackend: (b) => void calls.push(`add ${b.id} ${b.url} ${b.weight}`),
    removeBackend: (id) => (known(id), void calls.push(`remove ${id}`)),
    drain: (id) => (known(id), void calls.push(`drain ${id}`)),
    undrain: (id) => (known(id), void calls.push(`undrain ${id}`)),
    setWeight: (id, w) => (known(id), void calls.push(`weight ${id} ${w}`)),
  };
}

/** A feed whose frames count up, and fault controls that record calls (or none: `controls: false`). */
function fakeFeed(calls: string[], controls = true): DashboardFeed {
  let n = 0;
  return {
    frame: async () => ({ queueLength: n++, policies: ['round-robin'] }) as unknown as DashboardFrame,
    controls: controls
      ? {
          crash: (vm) => void calls.push(`crash ${vm}`),
          restore: (vm) => void calls.push(`restore ${vm}`),
          ownerReturns: (vm, mode, forMs) => void calls.push(`owner ${vm} ${mode} ${forMs}`),
          setHostLoad: (host, cores) => void calls.push(`load ${host} ${cores}`),
        }
      : undefined,
  };
}

let server: TestServer;
let base: string;
const control = fakeControl();
const admin = createAdminApp({ control, token: TOKEN, registry: new Registry(), dashboard: fakeFeed(control.calls) });

beforeAll(async () => {
  server = await startTestServer(admin.app);
  base = server.url;
});
afterAll(() => {
  admin.closeStreams();
  return server.close();
});

async function call(method: string, path: string, body?: string, token: string | null = TOKEN, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, { method, headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('admin API', () => {
  it('lists backends and the policy without a token', async () => {
    const backends = await call('GET', '/backends', undefined, null);
    expect(backends.status).toBe(200);
    expect((backends.body.backends as AdminBackend[])[0]).toMatchObject({ id: 'web-1', state: 'healthy', inFlight: 0 });
    expect((await call('GET', '/policy', undefined, null)).body).toMatchObject({ name: 'round-robin' });
  });

  it('refuses every change without the right token, before reading the body', async () => {
    const before = control.calls.length;
    for (const [method, path] of [['PUT', '/policy'], ['POST', '/backends'], ['DELETE', '/backends/web-1'], ['POST', '/backends/web-1/drain'], ['PUT', '/backends/web-1/weight']]) {
      expect((await call(method, path, '{"name":"random"}', null)).status).toBe(401);
      expect((await call(method, path, '{not json', 'wrong-token-000')).status).toBe(401);
    }
    expect(control.calls.length).toBe(before);
  });

  it('applies changes with the token', async () => {
    expect((await call('PUT', '/policy', '{"name":"least-loaded","options":{"metric":"in-flight"}}')).body).toMatchObject({ name: 'least-loaded' });
    expect((await call('POST', '/backends', '{"id":"web-9","url":"http://127.0.0.1:9","weight":2}')).status).toBe(200);
    expect((await call('POST', '/backends/web-1/drain')).status).toBe(200);
    expect((await call('POST', '/backends/web-1/undrain')).status).toBe(200);
    expect((await call('PUT', '/backends/web-1/weight', '{"weight":3}')).status).toBe(200);
    expect((await call('DELETE', '/backends/web-1')).status).toBe(200);
    expect(control.calls.slice(-6)).toEqual([
      'policy least-loaded {"metric":"in-flight"}', 'add web-9 http://127.0.0.1:9 2', 'drain web-1', 'undrain web-1', 'weight web-1 3', 'remove web-1',
    ]);
  });

  it('answers 400 with a message for malformed JSON, bad fields and a bad policy', async () => {
    const malformed = await call('PUT', '/policy', '{"name":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/malformed JSON/);
    const badWeight = await call('PUT', '/backends/web-1/weight', '{"weight":-1}');
    expect(badWeight.status).toBe(400);
    expect(badWeight.body.error).toMatch(/^weight: /);
    expect((await call('POST', '/backends', '{"id":"x"}')).body.error).toMatch(/^url: /);
    const badPolicy = await call('PUT', '/policy', '{"name":"nope"}');
    expect(badPolicy).toEqual({ status: 400, body: { error: 'unknown policy "nope" (known: round-robin)' } });
  });

  it('says a body that is JSON but not an object is not an object, rather than malformed', async () => {
    const before = control.calls.length;
    for (const [method, path] of [['PUT', '/policy'], ['POST', '/vms/web-1/owner'], ['PUT', '/hosts/h/load'], ['PUT', '/backends/web-1/weight']]) {
      expect(await call(method, path, 'null')).toEqual({ status: 400, body: { error: 'expected a JSON object, got null' } });
      expect((await call(method, path, 'true')).body.error).toBe('expected a JSON object, got true');
      expect((await call(method, path, ' 5 ')).body.error).toBe('expected a JSON object, got 5');
      expect((await call(method, path, '"s"')).body.error).toBe('expected a JSON object, got "s"');
    }
    expect((await call('PUT', '/backends/web-1/weight', '[]')).body.error).toBe('body: []: Invalid input: expected object, received array');
    expect((await call('PUT', '/policy', '[]')).body.error).toBe('body: []: expected an object: { "name": ... } or { "file": ... }, with "options"');
    expect((await call('PUT', '/policy', '{"name":')).body.error).toMatch(/^malformed JSON: /);
    expect(control.calls.length).toBe(before);
  });

  it("names the bad field of a policy body, as a scenario's policies entry is named", async () => {
    const before = control.calls.length;
    const error = async (body: string) => {
      const res = await call('PUT', '/policy', body);
      expect(res.status).toBe(400);
      return res.body.error;
    };
    expect(await error('{"name":5}')).toBe('name: 5: Invalid input: expected string, received number');
    expect(await error('{}')).toBe('body: {}: give name (a built-in policy) or file (a policy file)');
    expect(await error('{"nam":"random"}')).toBe('nam: unknown field (expected name or file)');
    expect(await error('{"name":"x","options":null}')).toBe('options: null: expected an object');
    expect(await error('{"file":"x.ts","options":[1]}')).toBe('options: [1]: expected an object');
    expect(await error('{"name":"random","file":"x"}')).toBe('body: {"name":"random","file":"x"}: give name or file, not both');
    expect(await error('{"name":"random","lable":"x"}')).toBe('lable: unknown field');
    // A built-in's options, by their path.
    expect(await error('{"name":"random","options":{"x":1}}')).toBe('options.x: unknown field');
    expect(await error('{"name":"least-loaded","options":{"metric":"cpu"}}')).toMatch(/^options\.metric: "cpu": Invalid option: expected one of /);
    expect(control.calls.length).toBe(before);
  });

  it('cuts the input it echoes to 100 characters, its own messages and the control\'s', async () => {
    const long = 'n'.repeat(60_000);
    const refused = await call('PUT', '/policy', JSON.stringify({ name: `nope${long}` }));
    expect(refused).toEqual({ status: 400, body: { error: `unknown policy "nope${'n'.repeat(96)}…" (known: round-robin)` } });
    const ghost = await call('POST', `/backends/${'g'.repeat(5000)}/drain`);
    expect(ghost).toEqual({ status: 404, body: { error: `no backend "${'g'.repeat(100)}…"` } });
    expect((await call('PUT', '/backends/web-1/weight', JSON.stringify({ weight: long }))).body.error).toBe(`weight: "${'n'.repeat(56)}...: Invalid input: expected number, received string`);
    const notObject = await call('PUT', '/policy', JSON.stringify(long));
    expect(notObject.body.error).toBe(`expected a JSON object, got "${'n'.repeat(99)}…`);
  });

  it('says a body without a JSON content type must be JSON (415), instead of reading it as empty', async () => {
    const before = control.calls.length;
    const res = await fetch(`${base}/policy`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' }, body: '{"name":"random"}' });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: string }).error).toBe('the body must be JSON: send Content-Type: application/json (got text/plain)');
    expect(control.calls.length).toBe(before);
    // No body at all (drain) needs no content type.
    expect((await fetch(`${base}/backends/web-1/drain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('answers 404 for an unknown backend or endpoint', async () => {
    expect(await call('POST', '/backends/ghost/drain')).toEqual({ status: 404, body: { error: 'no backend "ghost"' } });
    expect((await call('GET', '/nothing')).status).toBe(404);
  });

  it('serves the dashboard (script and style as files, under a CSP that forbids inline code and framing), /healthz and /metrics', async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self';.*frame-ancestors 'none'/);
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
    expect(await page.text()).toMatch(/<script src="dashboard.js"/);
    const script = await fetch(`${base}/dashboard.js`);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(await script.text()).toMatch(/new EventSource\('events'\)/);
    expect((await fetch(`${base}/dashboard.css`)).headers.get('content-type')).toMatch(/text\/css/);
    expect((await call('GET', '/healthz')).body).toEqual({ ok: true });
    expect((await fetch(`${base}/metrics`)).headers.get('content-type')).toMatch(/text\/plain/);
  });

  it('streams frames as server-sent events, one right away and then one a second', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${base}/events`, { signal: ctrl.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/^data: /gm) ?? []).length < 2) text += decoder.decode((await reader.read()).value);
    ctrl.abort();
    const frames = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]) as { queueLength: number });
    expect(frames[1].queueLength).toBeGreaterThan(frames[0].queueLength);
  });

  it('fault controls need the token, reach the model, and check their bodies', async () => {
    const before = control.calls.length;
    for (const [method, path] of [['POST', '/vms/web-1/crash'], ['POST', '/vms/web-1/restore'], ['POST', '/vms/web-1/owner'], ['PUT', '/hosts/h/load']]) {
      expect((await call(method, path, '{"mode":"suspend","cores":1}', null)).status).toBe(401);
    }
    expect(control.calls.length).toBe(before);
    expect((await call('POST', '/vms/web-1/crash')).status).toBe(200);
    expect((await call('POST', '/vms/web-1/restore')).status).toBe(200);
    expect((await call('POST', '/vms/web-1/owner', '{"mode":"migrate"}')).status).toBe(200);
    expect((await call('POST', '/vms/web-1/owner', '{"mode":"suspend","forMs":2500}')).status).toBe(200);
    expect((await call('PUT', '/hosts/h/load', '{"cores":1.5}')).status).toBe(200);
    expect(control.calls.slice(-5)).toEqual(['crash web-1', 'restore web-1', 'owner web-1 migrate 10000', 'owner web-1 suspend 2500', 'load h 1.5']);
    expect((await call('POST', '/vms/web-1/owner', '{"mode":"later"}')).status).toBe(400);
    expect((await call('PUT', '/hosts/h/load', '{"cores":-1}')).status).toBe(400);
  });

  it('refuses a change from another origin even with the token (CSRF), and /auth checks a token', async () => {
    const before = control.calls.length;
    expect((await call('POST', '/vms/web-1/crash', undefined, TOKEN, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await call('PUT', '/policy', '{"name":"random"}', TOKEN, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await call('PUT', '/policy', '{"name":"random"}', TOKEN, { 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect(control.calls.length).toBe(before);
    expect((await call('POST', '/vms/web-1/crash', undefined, TOKEN, { origin: base, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await call('GET', '/auth', undefined, null)).status).toBe(401);
    expect((await call('GET', '/auth')).body).toEqual({ ok: true });
  });

  it('answers 501 to fault controls where the models run elsewhere', async () => {
    const remote = createAdminApp({ control, token: TOKEN, registry: new Registry(), dashboard: fakeFeed([], false) });
    const other = await startTestServer(remote.app);
    try {
      const res = await fetch(`${other.url}/vms/web-1/crash`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(501);
      expect(((await res.json()) as { error: string }).error).toMatch(/dispatchlab up/);
    } finally {
      remote.closeStreams();
      await other.close();
    }
  });
});
describe('admin API: Host check (DNS rebinding)', () => {
  it('answers an address, localhost or a single-label name, and 421 to any other Host, reads included', async () => {
    const { isAllowedAdminHost } = await import('../../dispatcher/admin-api.js');
    for (const host of ['127.0.0.1:9901', '[::1]:9901', 'localhost:9901', 'LOCALHOST', 'app.localhost', 'dispatcher:9901', '10.0.0.5']) {
      expect(isAllowedAdminHost(host)).toBe(true);
    }
    for (const host of [undefined, '', 'evil.example:9901', 'evil.example', '127.0.0.1.nip.io', 'a b']) {
      expect(isAllowedAdminHost(host)).toBe(false);
    }
    const { request } = await import('node:http');
    const status = (hostHeader: string) =>
      new Promise<number | undefined>((resolve, reject) => {
        const req = request(`${base}/backends`, { headers: { host: hostHeader } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status('evil.example:9901')).toBe(421);
    expect(await status('127.0.0.1:9901')).toBe(200);
  });
});
