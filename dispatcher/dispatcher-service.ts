import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../core/clock.js';
import { fanOut, NO_BACKEND, type RequestEvents } from '../core/request-events.js';
import { createRng, type Rng } from '../core/rng.js';
import { policyLabel, policyName, policyOptions, type DispatcherSettings, type PolicySpec } from '../core/scenario.js';
import type { BackendId } from '../core/types.js';
import { closeServer, listen, serverUrl } from '../core/server-lifecycle.js';
import { createPolicy } from '../policies/index.js';
import { AdminError, createAdminApp, type AdminControl } from './admin-api.js';
import { Balancer } from './balancer/balancer.js';
import { HealthChecker } from './health-check.js';
import { createProxyHandler } from './http-dispatcher.js';
import { DispatcherMetrics } from './metrics.js';
import { createHttpProxyEngine } from './proxy-engine.js';
import { SessionSigner } from './session-cookie.js';

/**
 * A running dispatcher: the proxy port (node:http + the proxy engine) and the admin port
 * (express: API, dashboard, /metrics), around one Balancer, one policy, one metrics Registry and
 * the active health checks. `dispatchlab dispatcher`, `dispatchlab up` and `compare` start it.
 */

export interface DispatcherBackend {
  readonly id: BackendId;
  /** http://host:port; any path is ignored. */
  readonly url: string;
  readonly weight?: number;
  readonly host?: string;
}

export interface StartDispatcherOptions {
  readonly settings: DispatcherSettings;
  readonly backends: readonly DispatcherBackend[];
  readonly policy: PolicySpec;
  /** Seeds the policies' random draws (the scenario's seed). */
  readonly seed?: number;
  readonly clock?: Clock;
  /** Proxy port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Admin port; 0 (the default) picks a free one. */
  readonly adminPort?: number;
  /** Proxy address, 127.0.0.1 unless asked (0.0.0.0 in containers). */
  readonly bind?: string;
  /** Admin address: loopback unless asked, since it controls the dispatcher. */
  readonly adminBind?: string;
  /** Bearer token for admin changes; a random one is generated when absent (read it from the result). */
  readonly adminToken?: string;
  /** HMAC key of session cookies (>= 16 bytes); dispatchers sharing it honour each other's pins. */
  readonly sessionSecret?: Buffer;
  /** Active health checks (default on). */
  readonly healthChecks?: boolean;
  /** Another sink of the request events, beside the metrics (`compare` builds its report from them). */
  readonly events?: RequestEvents;
}

export interface RunningDispatcher {
  readonly url: string;
  readonly adminUrl: string;
  readonly adminToken: string;
  readonly balancer: Balancer;
  readonly registry: Registry;
  /** Graceful: in-flight requests get up to graceMs (default 2 s) to finish. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

function backendUrl(id: BackendId, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AdminError(400, `backend "${id}": "${text}" is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== 'http:') throw new AdminError(400, `backend "${id}": only http:// backends are supported, got ${url.protocol}`);
  return new URL(url.origin);
}

/** The URL a client reaches a server on: a 0.0.0.0 bind is reachable on loopback. */
/** GET <backend><path> answered 2xx within timeoutMs (the HealthChecker also races its own timer). */
function httpProbe(agent: http.Agent, url: URL, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(new URL(path, url), { agent, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export async function startDispatcher(opts: StartDispatcherOptions): Promise<RunningDispatcher> {
  const { settings } = opts;
  const clock = opts.clock ?? systemClock;
  const rng: Rng = createRng(opts.seed ?? 1);
  const makePolicy = (spec: PolicySpec) => createPolicy(spec, { rng: rng.stream(`policy:${policyName(spec)}`) });
  let spec = opts.policy;
  const metrics = new DispatcherMetrics(policyLabel(spec));
  const targets = new Map<BackendId, URL>();
  for (const b of opts.backends) targets.set(b.id, backendUrl(b.id, b.url));
  const balancer = new Balancer({
    clock,
    policy: makePolicy(spec),
    settings,
    backends: opts.backends.map((b) => ({ id: b.id, weight: b.weight, host: b.host })),
    observer: metrics.observer,
  });
  metrics.bind(balancer);
  const events = opts.events === undefined ? metrics : fanOut([metrics, opts.events]);

  const engine = createHttpProxyEngine({
    upstreamTimeoutMs: settings.timeouts.upstreamMs,
    maxSocketsPerBackend: settings.maxConnPerBackend > 0 ? settings.maxConnPerBackend : undefined,
  });
  const proxyServer = http.createServer(
    createProxyHandler({
      balancer,
      engine,
      clock,
      targets,
      signer: new SessionSigner(opts.sessionSecret),
      totalTimeoutMs: settings.timeouts.totalMs,
      events,
    }),
  );
  // CONNECT (a tunnel request, as to a forward proxy) never reaches the request handler: Node emits
  // 'connect' and, with no listener, drops the socket. Answer it: this is not an open proxy.
  proxyServer.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify({ error: 'CONNECT is not supported: the dispatcher only forwards to its configured backends' });
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    const now = clock.now();
    events.arrived(now);
    events.answered(now, NO_BACKEND, '405', 0);
  });
  // Clients may keep connections as long as the replicas keep ours.
  proxyServer.keepAliveTimeout = 65_000;
  proxyServer.headersTimeout = 66_000;

  const known = (id: BackendId): BackendId => {
    if (!targets.has(id)) throw new AdminError(404, `no backend "${id}" (backends: ${[...targets.keys()].join(', ') || 'none'})`);
    return id;
  };
  const control: AdminControl = {
    backends: () => balancer.backends().map((b) => ({ ...b, url: targets.get(b.id)?.origin ?? '' })),
    policy: () => ({ name: policyName(spec), label: policyLabel(spec), options: policyOptions(spec) }),
    setPolicy(next) {
      const policy = makePolicy(next);
      balancer.setPolicy(policy);
      spec = next;
      metrics.policyChanged(policyLabel(next));
    },
    addBackend(b) {
      if (targets.has(b.id)) throw new AdminError(409, `backend "${b.id}" already exists`);
      const url = backendUrl(b.id, b.url);
      balancer.addBackend({ id: b.id, weight: b.weight });
      targets.set(b.id, url);
    },
    removeBackend(id) {
      balancer.removeBackend(known(id));
      targets.delete(id);
    },
    drain: (id) => balancer.drain(known(id)),
    undrain: (id) => balancer.undrain(known(id)),
    setWeight: (id, weight) => balancer.setWeight(known(id), weight),
  };
  const adminToken = opts.adminToken ?? randomBytes(24).toString('base64url');
  const adminServer = http.createServer(createAdminApp({ control, token: adminToken, registry: metrics.registry }));

  const health = settings.healthCheck;
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const checker =
    opts.healthChecks === false
      ? undefined
      : new HealthChecker({
          clock,
          balancer,
          intervalMs: health.intervalMs,
          timeoutMs: health.timeoutMs,
          rise: health.rise,
          fall: health.fall,
          probe: (id) => {
            const url = targets.get(id);
            return url ? httpProbe(probeAgent, url, health.path, health.timeoutMs) : Promise.resolve(false);
          },
        });

  let url: string;
  let adminUrl: string;
  try {
    const bind = opts.bind ?? '127.0.0.1';
    url = serverUrl(bind, await listen(proxyServer, opts.port ?? 0, bind, 'dispatcher'));
    const adminBind = opts.adminBind ?? '127.0.0.1';
    adminUrl = serverUrl(adminBind, await listen(adminServer, opts.adminPort ?? 0, adminBind, 'dispatcher admin'));
  } catch (err) {
    await Promise.all([closeServer(proxyServer, 0), closeServer(adminServer, 0)]);
    engine.close();
    throw err;
  }
  checker?.start();

  let closing: Promise<void> | undefined;
  return {
    url,
    adminUrl,
    adminToken,
    balancer,
    registry: metrics.registry,
    close(graceMs = 2000) {
      closing ??= (async () => {
        checker?.stop();
        await Promise.all([closeServer(proxyServer, graceMs), closeServer(adminServer, 0)]);
        engine.close();
        probeAgent.destroy();
      })();
      return closing;
    },
  };
}
