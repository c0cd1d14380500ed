import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminError, createAdminApp, type AdminBackend, type AdminControl } from '../../dispatcher/admin-api.js';
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
      if (spec.name === 'nope') throw new Error('unknown policy "nope" (known: round-robin)');
      policy = spec.name;
      calls.push(`policy ${spec.name} ${JSON.stringify(spec.options)}`);
    },
    addBackend: (b) => void calls.push(`add ${b.id} ${b.url} ${b.weight}`),
    removeBackend: (id) => (known(id), void calls.push(`remove ${id}`)),
    drain: (id) => (known(id), void calls.push(`drain ${id}`)),
    undrain: (id) => (known(id), void calls.push(`undrain ${id}`)),
    setWeight: (id, w) => (known(id), void calls.push(`weight ${id} ${w}`)),
  };
}

let server: TestServer;
let base: string;
const control = fakeControl();

beforeAll(async () => {
  server = await startTestServer(createAdminApp({ control, token: TOKEN, registry: new Registry() }));
  base = server.url;
});
afterAll(() => server.close());

async function call(method: string, path: string, body?: string, token: string | null = TOKEN) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
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

  it('serves the dashboard, /healthz and /metrics', async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/fetch\('backends'\)/);
    expect((await call('GET', '/healthz')).body).toEqual({ ok: true });
    expect((await fetch(`${base}/metrics`)).headers.get('content-type')).toMatch(/text\/plain/);
  });
});
