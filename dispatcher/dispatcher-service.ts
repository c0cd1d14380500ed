import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { resolve as resolvePath } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../core/clock.js';
import { fanOut, NO_BACKEND, type RequestEvents } from '../core/request-events.js';
import { createRng, type Rng } from '../core/rng.js';
import { policyLabel, policyName, policyOptions, type DispatcherSettings, type PolicySpec, type Scenario } from '../core/scenario.js';
import type { BackendId } from '../core/types.js';
import { closeConnectionsAfterResponse, closeServer, listen, serverUrl, type Server } from '../core/server-lifecycle.js';
import { createPolicy, policyFileProblems, policyNames } from '../policies/index.js';
import { AdminError, createAdminApp, type AdminControl } from './admin-api.js';
import { Balancer } from './balancer/balancer.js';
import type { BalancerObserver } from './balancer/types.js';
import { HealthChecker, type HealthProbe } from './balancer/health-check.js';
import { addAcceptHandles, type AcceptHandles } from './accept-handles.js';
import { FastFront } from './fast-front.js';
import { createProxyHandler } from './http-dispatcher.js';
import { FleetTracker, remoteFleetSource, type FleetSource } from './fleet-view.js';
import { LiveStats, type LiveWindow } from './live-stats.js';
import { DispatcherMetrics } from './metrics.js';
import { createPolicyErrorLog } from './policy-error-log.js';
import { DeadlineQueue } from './balancer/deadlines.js';
import { DnsCache } from './dns-cache.js';
import { createHttpProxyEngine, type ProxyEngine, type ProxyEngineOptions } from './proxy-engine.js';
import { createSocketEngine } from './socket-engine.js';
import { createUndiciEngine } from './undici-engine.js';
import { SessionSigner } from './session-cookie.js';
import { listNames } from '../core/names.js';

/**
 * A running dispatcher: the proxy port (the fast front or node:http's server, and the proxy
 * engine) and the admin port (express: API, dashboard, /metrics), around one Balancer, one policy,
 * one metrics Registry and the active health checks. `dispatchlab dispatcher`, `dispatchlab up` and `compare` start it.
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
  /**
   * Which of several dispatchers sharing the fleet this is (default 0): its policy draws from the
   * seed's stream `policy-<index>`, as dispatcher k of `simulate --dispatchers K` does.
   */
  readonly dispatcherIndex?: number;
  /** Serve the admin port (default true); a `--workers` worker has none, the primary serves it (dispatcher/cluster.ts). */
  readonly admin?: boolean;
  /**
   * The fleet the dashboard shows: the scenario's hosts and VMs, read from `source` (the models
   * in this process), or else from each host's /metrics on its backends' ports. Without it the
   * dashboard shows the backends only.
   */
  readonly fleet?: { readonly scenario: Scenario; readonly source?: FleetSource };
  /** Where policy errors go (the request fails with 500); default: stderr, deduplicated. */
  readonly onPolicyError?: (message: string) => void;
  /** Hears every attempt as it ends (BalancerObserver.onAttemptEnded): the trace parity tests compare. */
  readonly onAttemptEnded?: BalancerObserver['onAttemptEnded'];
  /** Another sink of the request events, beside the metrics (`compare` builds its report from them). */
  readonly events?: RequestEvents;
}

export interface RunningDispatcher {
  readonly url: string;
  readonly adminUrl: string;
  readonly adminToken: string;
  readonly balancer: Balancer;
  readonly registry: Registry;
  /** What the admin API calls; a `--workers` primary calls it in every worker. */
  readonly control: AdminControl;
  /** Resolves with the accept handles the proxy port has beside its own, once they accept (accept-handles.ts; 0 in a --workers worker). */
  readonly acceptHandles: Promise<number>;
  /** The dashboard's rolling window of answers. */
  liveWindow(): LiveWindow;
  /**
   * Stop accepting now; in-flight requests get up to graceMs (default: the scenario's
   * `dispatcher.shutdown.graceMs`) to finish. Ends a drain early. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
  /**
   * What SIGTERM does: drain for `dispatcher.shutdown.drainMs` (keep accepting and serving, every
   * answer with `Connection: close`, the admin `/healthz` 503), then close(). Idempotent.
   */
  shutdown(): Promise<void>;
}

/** The proxy engine of each `dispatcher.engine` name. */
export const PROXY_ENGINE_FACTORIES: Record<DispatcherSettings['engine'], (opts: ProxyEngineOptions) => ProxyEngine> = {
  undici: createUndiciEngine,
  'http-proxy': createHttpProxyEngine,
  socket: createSocketEngine,
};

/** Clients may keep connections as long as the replicas keep ours. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

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

/** A host's registry is served on every replica port (docs/metrics.md): its first backend's will do. */
export function hostMetricsUrls(backends: readonly DispatcherBackend[]): Map<string, string> {
  const urls = new Map<string, string>();
  for (const b of backends) if (b.host !== undefined && !urls.has(b.host)) urls.set(b.host, new URL('/metrics', b.url).href);
  return urls;
}

/**
 * The live health probe: GET <backend><path>, passing on a 2xx. The HealthChecker owns the
 * timeout (on its clock, where it can tell our own lateness from the backend's) and cancels the
 * request through the returned function.
 */
function httpProbe(agent: http.Agent, balancer: Balancer, path: string): HealthProbe {
  return (id, done) => {
    const url = balancer.backendData(id) as URL | undefined;
    if (url === undefined) {
      done(false);
      return;
    }
    const req = http.get(new URL(path, url), { agent }, (res) => {
      res.resume();
      done(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('error', () => done(false));
    return () => req.destroy();
  };
}

export async function startDispatcher(opts: StartDispatcherOptions): Promise<RunningDispatcher> {
  const { settings } = opts;
  const clock = opts.clock ?? systemClock;
  const rng: Rng = createRng(opts.seed ?? 1);
  // The stream the simulator gives its dispatcher of the same index: the same seed, the same draws.
  const policyStream = `policy-${opts.dispatcherIndex ?? 0}`;
  const makePolicy = (spec: PolicySpec) => createPolicy(spec, { rng: rng.stream(policyStream) });
  let spec = opts.policy;
  const metrics = new DispatcherMetrics(policyLabel(spec));
  const live = new LiveStats({ clock, policy: policyLabel(spec) });
  // Each backend's origin rides on its Balancer record (BackendInit.data): every lease carries it.
  const balancer = new Balancer({
    clock,
    policy: makePolicy(spec),
    settings,
    backends: opts.backends.map((b) => ({ id: b.id, weight: b.weight, host: b.host, data: backendUrl(b.id, b.url) })),
    observer: { ...metrics.observer, onPolicyError: opts.onPolicyError ?? createPolicyErrorLog(), ...(opts.onAttemptEnded ? { onAttemptEnded: opts.onAttemptEnded } : {}) },
  });
  metrics.bind(balancer);
  // The dashboard's rolling window hears the answers, as the metrics and a run's accumulator do.
  const liveAnswers: RequestEvents = {
    arrived: () => undefined,
    admitted: () => undefined,
    attemptEnded: () => undefined,
    answered: (_arrivedAtMs, backend, code, latencyMs) => live.answered(backend, code, latencyMs),
  };
  const events = fanOut([metrics, liveAnswers, ...(opts.events === undefined ? [] : [opts.events])]);

  const deadlines = {
    upstream: new DeadlineQueue(clock, settings.timeouts.upstreamMs),
    total: new DeadlineQueue(clock, settings.timeouts.totalMs),
    body: new DeadlineQueue(clock, settings.client.bodyTimeoutMs),
  };
  // One resolver cache for the proxy and the probes: one lookup per backend name per TTL.
  const dns = new DnsCache();
  const engine = PROXY_ENGINE_FACTORIES[settings.engine]({
    lookup: dns.lookup,
    maxSocketsPerBackend: settings.maxConnPerBackend > 0 ? settings.maxConnPerBackend : undefined,
  });
  // Node checks the header and request timeouts on this interval (30 s by default, which let a
  // slow-header client live ~95 s); once a second is cheap and keeps the cut close to the setting.
  const checkIntervalMs = Math.min(1000, settings.client.headersTimeoutMs);
  const httpServer = http.createServer({ connectionsCheckingInterval: checkIntervalMs });
  // The fast front (fast-front.ts) serves bodyless requests itself and hands the rest to node:http;
  // http-proxy pipes node:http's own request and response, so with it node:http serves them all.
  const proxyServer: Server =
    settings.client.front === 'fast' && settings.engine !== 'http-proxy'
      ? new FastFront(httpServer, { keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS, headersTimeoutMs: settings.client.headersTimeoutMs, checkIntervalMs })
      : httpServer;
  proxyServer.on(
    'request',
    createProxyHandler({
      balancer,
      engine,
      clock,
      signer: new SessionSigner(opts.sessionSecret),
      deadlines,
      clientAddress: settings.clientAddress,
      events,
    }),
  );
  // CONNECT (a tunnel request, as to a forward proxy) never reaches the request handler: Node emits
  // 'connect' and, with no listener, drops the socket. Answer it: this is not an open proxy.
  httpServer.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify({ error: 'CONNECT is not supported: the dispatcher only forwards to its configured backends' });
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    const now = clock.now();
    events.arrived(now);
    events.answered(now, NO_BACKEND, '405', 0);
  });
  httpServer.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // A client that is slow to send its request is the client's problem, answered 408 by Node before
  // (headers) or while (body) the Balancer sees it; a backend is never charged for it (issue 17.7).
  httpServer.headersTimeout = settings.client.headersTimeoutMs;
  httpServer.requestTimeout = settings.client.requestTimeoutMs;
  proxyServer.maxConnections = settings.client.maxConnections;

  const known = (id: BackendId): BackendId => {
    if (balancer.backendData(id) === undefined) throw new AdminError(404, `no backend "${id}" (backends: ${listNames(balancer.backends().map((b) => b.id)) || 'none'})`);
    return id;
  };
  const control: AdminControl = {
    backends: () => balancer.backends().map((b) => ({ ...b, url: (balancer.backendData(b.id) as URL).origin })),
    policy: () => ({ name: policyName(spec), label: policyLabel(spec), options: policyOptions(spec) }),
    async setPolicy(next) {
      if ('file' in next) {
        next = { ...next, file: resolvePath(next.file) };
        const problems = await policyFileProblems(next, true);
        if (problems.length > 0) throw new AdminError(400, problems.join('; '));
      }
      const policy = makePolicy(next);
      balancer.setPolicy(policy);
      spec = next;
      metrics.policyChanged(policyLabel(next));
      live.policyChanged(policyLabel(next));
    },
    addBackend(b) {
      if (balancer.backendData(b.id) !== undefined) throw new AdminError(409, `backend "${b.id}" already exists`);
      balancer.addBackend({ id: b.id, weight: b.weight, data: backendUrl(b.id, b.url) });
    },
    removeBackend(id) {
      balancer.removeBackend(known(id));
      metrics.backendRemoved(id);
    },
    drain: (id) => balancer.drain(known(id)),
    undrain: (id) => balancer.undrain(known(id)),
    setWeight: (id, weight) => balancer.setWeight(known(id), weight),
  };
  const adminToken = opts.adminToken ?? randomBytes(24).toString('base64url');
  const fleet = opts.fleet === undefined ? undefined : new FleetTracker(opts.fleet.scenario, opts.fleet.source ?? remoteFleetSource(hostMetricsUrls(opts.backends)), clock);
  let draining = false;
  const admin = createAdminApp({
    control,
    token: adminToken,
    registry: metrics.registry,
    draining: () => draining,
    dashboard: {
      controls: fleet?.controls,
      frame: async () => ({
        policy: await control.policy(),
        policies: policyNames(),
        queueLength: balancer.queueLength(),
        backends: await control.backends(),
        fleet: fleet === undefined ? { hosts: [], controls: false } : await fleet.view(),
        live: live.window(),
      }),
    },
  });
  const adminServer = http.createServer(admin.app);

  const health = settings.healthCheck;
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1, lookup: dns.lookup });
  const checker =
    opts.healthChecks === false
      ? undefined
      : new HealthChecker({
          clock,
          balancer,
          settings: health,
          probe: httpProbe(probeAgent, balancer, health.path),
        });

  let url: string;
  let adminUrl: string;
  let acceptHandles: AcceptHandles | undefined;
  try {
    const bind = opts.bind ?? '127.0.0.1';
    url = serverUrl(bind, await listen(proxyServer, opts.port ?? 0, bind, 'dispatcher', settings.client.backlog));
    acceptHandles = addAcceptHandles(proxyServer, settings.client.acceptHandles, settings.client.backlog, (message) => process.emitWarning(message));
    const adminBind = opts.adminBind ?? '127.0.0.1';
    adminUrl = opts.admin === false ? '' : serverUrl(adminBind, await listen(adminServer, opts.adminPort ?? 0, adminBind, 'dispatcher admin'));
  } catch (err) {
    await Promise.all([acceptHandles?.close(), closeServer(proxyServer, 0), closeServer(adminServer, 0)]);
    engine.close();
    for (const queue of Object.values(deadlines)) queue.clear();
    throw err;
  }
  checker?.start();

  let closing: Promise<void> | undefined;
  let endDrain = (): void => undefined;
  let shuttingDown: Promise<void> | undefined;
  const close = (graceMs = settings.shutdown.graceMs): Promise<void> => {
    endDrain();
    closing ??= (async () => {
      checker?.stop();
      admin.closeStreams();
      // The added handles end with the port: each keeps its socket listening.
      await Promise.all([acceptHandles.close(), closeServer(proxyServer, graceMs), closeServer(adminServer, 0)]);
      engine.close();
      for (const queue of Object.values(deadlines)) queue.clear();
      probeAgent.destroy();
    })();
    return closing;
  };
  return {
    url,
    adminUrl,
    adminToken,
    balancer,
    registry: metrics.registry,
    control,
    acceptHandles: acceptHandles.added,
    liveWindow: () => live.window(),
    close,
    shutdown() {
      shuttingDown ??=
        closing ??
        new Promise<void>((drained) => {
          draining = true;
          closeConnectionsAfterResponse(proxyServer);
          // The health checks go on: what is served during the drain still needs live backends.
          const cancel = clock.schedule(settings.shutdown.drainMs, drained);
          endDrain = () => {
            cancel();
            drained();
          };
        }).then(() => close());
      return shuttingDown;
    },
  };
}
