import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { MAX_WEIGHT } from '../core/limits.js';
import { formatIssues, keyedUnion, pickPolicyBranch, policyOptionsSchema, type ScenarioIssue } from '../core/scenario.js';
import type { BackendId } from '../core/types.js';
import { policyDefinition } from '../policies/index.js';
import type { BackendStatus } from './balancer/types.js';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard.js';
import type { FleetControls, FleetView } from './fleet-view.js';
import type { LiveWindow } from './live-stats.js';

/**
 * The admin API (express 5, on its own port, loopback by default): read the backends and the
 * policy, and change them at runtime; the dashboard page and its server-sent events (`/events`,
 * one frame a second: docs/dispatcher.md). Reads are open; every change needs `Authorization:
 * Bearer <token>` (401 otherwise), checked before the body is even parsed. Bodies are JSON:
 * malformed JSON or a bad field is a 400 with a message, an unknown backend or VM a 404.
 *
 * Nothing here can be driven from another origin: the token travels only in the Authorization
 * header (never a cookie or a URL), which a cross-origin page cannot send without a CORS preflight
 * that this API never approves (it sends no CORS headers at all); on top of that a change whose
 * Origin or Sec-Fetch-Site says it comes from elsewhere is refused (403), and the page may not be
 * framed (clickjacking).
 *
 * Every request, reads included, must name the admin port by an address, `localhost`, or a
 * single-label name (a compose service such as `dispatcher`): any other `Host` is answered 421.
 * That stops DNS rebinding, where a page from an attacker's domain that now resolves to 127.0.0.1
 * reads (and, with a token it cannot have, would change) a loopback-only admin port from the
 * victim's browser.
 */

export interface AdminBackend extends BackendStatus {
  readonly url: string;
}

export interface AdminPolicy {
  readonly name: string;
  readonly label: string;
  readonly options: Record<string, unknown>;
}

/** What the admin API may do to a running dispatcher; errors are AdminErrors (or Errors: 400). */
export interface AdminControl {
  /** Async where the state lives in other processes (the `--workers` primary asks its workers). */
  backends(): AdminBackend[] | Promise<AdminBackend[]>;
  policy(): AdminPolicy | Promise<AdminPolicy>;
  /** A built-in by name, or a policy file (loaded first, hence async). */
  setPolicy(spec: { name: string; options: Record<string, unknown> } | { file: string; options: Record<string, unknown> }): void | Promise<void>;
  addBackend(b: { id: BackendId; url: string; weight?: number }):void | Promise<void>;
  removeBackend(id: BackendId):void | Promise<void>;
  drain(id: BackendId):void | Promise<void>;
  undrain(id: BackendId):void | Promise<void>;
  setWeight(id: BackendId, weight: number): void | Promise<void>;
}

/** What the dashboard shows, once a second (GET /events) or on request (GET /dashboard.json). */
export interface DashboardFrame {
  readonly policy: AdminPolicy;
  /** Registered policy names, for the page's policy switch. */
  readonly policies: readonly string[];
  readonly queueLength: number;
  readonly backends: readonly AdminBackend[];
  readonly fleet: FleetView;
  readonly live: LiveWindow;
}

export interface DashboardFeed {
  frame(): Promise<DashboardFrame>;
  /** The model's fault controls; undefined where the models do not run in this process. */
  readonly controls?: FleetControls;
}

/** A refusal with its HTTP status (404 unknown backend, 409 duplicate, 400 bad value). */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

const NamedPolicyBody = z.strictObject({ name: z.string().min(1), options: policyOptionsSchema.default({}) });
const FilePolicyBody = z.strictObject({ file: z.string().min(1), options: policyOptionsSchema.default({}) });
/** A built-in by name or a policy file, told apart by the key given, as a scenario's policies entry is. */
const PolicyBody = keyedUnion([NamedPolicyBody, FilePolicyBody], (input) =>
  pickPolicyBranch(input, NamedPolicyBody, FilePolicyBody, ['options'], 'expected an object: { "name": ... } or { "file": ... }, with "options"'),
);
/** The bounds of the scenario's VM weight, and the Balancer's. */
const weight = z.number().positive().max(MAX_WEIGHT);
const BackendBody = z.strictObject({ id: z.string().min(1).max(100), url: z.string().min(1), weight: weight.optional() });
const WeightBody = z.strictObject({ weight });
const OwnerBody = z.strictObject({ mode: z.enum(['suspend', 'migrate']), forMs: z.number().positive().max(3_600_000).default(10_000) });
const HostLoadBody = z.strictObject({ cores: z.number().nonnegative().max(1024) });

/** Frames go out this often to every open /events stream. */
const FRAME_INTERVAL_MS = 1000;

/** Tight: only this origin's own script, style and event stream; never framed. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Refuse a change sent by a page of another origin. Browsers send Origin on every cross-origin
 * request and on same-origin POST/PUT/DELETE, and Sec-Fetch-Site on all of them; tools such as
 * curl send neither and are judged by the token alone.
 */
function sameOrigin(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.get('origin');
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.get('host');
  } catch {
    return false;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Echoed user input is cut to this many characters (an unknown name of 60 kB is not sent back whole). */
const MAX_ECHO = 100;
/** A quoted value longer than MAX_ECHO. */
const LONG_QUOTED = new RegExp(`"([^"]{${MAX_ECHO + 1},})"`, 'g');

function clip(text: string, max = MAX_ECHO): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * An error message as sent: every quoted value in it (`no backend "..."`, `unknown policy "..."`:
 * the control's and the Balancer's messages echo what was asked) at most MAX_ECHO characters,
 * and the whole at most 2,000, whatever it echoes unquoted.
 */
function clipMessage(message: string): string {
  return clip(message.replace(LONG_QUOTED, (_quoted, value: string) => `"${clip(value)}"`), 2000);
}

function refuse(issues: readonly ScenarioIssue[], prefix = ''): never {
  const named = (path: string): string => (prefix === '' ? path || 'body' : path === '' ? prefix : `${prefix}.${path}`);
  throw new AdminError(400, issues.map((i) => `${named(i.path)}: ${i.message}`).join('; '));
}

/** The body as `schema` reads it; a 400 naming each bad field (its path, the value found, what was expected) otherwise. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  // express 5 leaves a request without a body at undefined.
  const result = schema.safeParse(body ?? {}, { reportInput: true });
  if (result.success) return result.data;
  return refuse(formatIssues(result.error.issues));
}

/** PUT /policy's body, with a built-in's options checked against its own schema here, so a bad one is named by its path. */
function parsePolicyBody(body: unknown): z.output<typeof PolicyBody> {
  const spec = parseBody(PolicyBody, body);
  // An unknown name, and a policy file's options, are the control's to refuse (the file must be loaded first).
  const def = 'name' in spec ? policyDefinition(spec.name) : undefined;
  const options = def?.options.safeParse(spec.options, { reportInput: true });
  if (options !== undefined && !options.success) refuse(formatIssues(options.error.issues), 'options');
  return spec;
}

/**
 * express.json (strict) refuses a body that is JSON but neither an object nor an array (`null`,
 * `5`, `"s"`) as if it were malformed, with a made-up parse error: say what it is instead.
 * Undefined when the body (body-parser's `err.body`, the raw text) really is not JSON.
 */
function notJsonObject(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return `expected a JSON object, got ${clip(JSON.stringify(value))}`;
}

/** Is `host` (a Host header) one the admin port answers to? See the file comment. */
export function isAllowedAdminHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  const bare = name.startsWith('[') ? name.slice(1, -1) : name;
  if (isIP(bare) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return !name.includes('.');
}

export interface AdminApp {
  readonly app: express.Express;
  /** End every open /events stream (the server's close would otherwise wait for them). */
  closeStreams(): void;
}

/** What /metrics serves: a process's Registry, or the `--workers` primary's aggregate of its workers'. */
export type MetricsText = Pick<Registry, 'contentType' | 'metrics'>;

export function createAdminApp(opts: {
  control: AdminControl;
  token: string;
  registry: MetricsText;
  dashboard: DashboardFeed;
  /** Whether the dispatcher is draining before it stops accepting (its shutdown): /healthz then answers 503. */
  draining?: () => boolean;
}): AdminApp {
  const { control, registry, dashboard, draining = () => false } = opts;
  if (opts.token.length < 8) throw new Error('the admin token must be at least 8 characters');
  // Compare digests, so the comparison takes the same time whatever the given token's length.
  const expected = digest(opts.token);
  const requireToken = (req: Request, res: Response, next: NextFunction): void => {
    if (!sameOrigin(req)) {
      res.status(403).json({ error: 'changes are only accepted from the dashboard\'s own origin' });
      return;
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (match && timingSafeEqual(digest(match[1]), expected)) return next();
    res.status(401).set('www-authenticate', 'Bearer realm="dispatchlab-admin"').json({ error: 'a valid admin token is required: Authorization: Bearer <token>' });
  };
  const json = express.json({ limit: '64kb' });
  // A body express.json skips (no JSON content type) would read as {}: say what is wrong instead of "field required".
  const jsonOnly = (req: Request, res: Response, next: NextFunction): void => {
    if (!req.is('application/json') && (Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined)) {
      res.status(415).json({ error: `the body must be JSON: send Content-Type: application/json (got ${req.get('content-type') ?? 'none'})` });
      return;
    }
    next();
  };
  const mutation = (act: (req: Request) => unknown) => [
    requireToken,
    jsonOnly,
    json,
    // async: express 5 sends a rejection to the error handler below, as it does a throw.
    async (req: Request, res: Response) => {
      const result = await act(req);
      res.json(result ?? { ok: true });
    },
  ];
  const id = (req: Request): string => String(req.params.id);
  const faults = (): NonNullable<DashboardFeed['controls']> => {
    if (dashboard.controls === undefined) {
      throw new AdminError(501, 'fault controls act on the hypervisor model, which runs in this process only under `dispatchlab up`; this dispatcher reads its hosts over HTTP');
    }
    return dashboard.controls;
  };

  // One frame per tick for every open stream; no timer while nobody watches.
  const streams = new Set<Response>();
  let ticker: NodeJS.Timeout | undefined;
  // A frame still being gathered (a slow host) is not started again: the next tick tries.
  let gathering = false;
  const broadcast = async (): Promise<void> => {
    if (streams.size === 0) {
      clearInterval(ticker);
      ticker = undefined;
      return;
    }
    if (gathering) return;
    gathering = true;
    try {
      const data = `data: ${JSON.stringify(await dashboard.frame())}\n\n`;
      for (const res of streams) res.write(data);
    } finally {
      gathering = false;
    }
  };

  const app = express();
  app.disable('x-powered-by');
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!isAllowedAdminHost(req.headers.host)) {
      res.status(421).json({ error: 'the admin API answers only to an address, localhost or a single-label name in Host (DNS rebinding)' });
      return;
    }
    res.set(SECURITY_HEADERS);
    next();
  });
  app.get('/', (_req, res) => {
    res.type('html').send(DASHBOARD_HTML);
  });
  app.get('/dashboard.js', (_req, res) => {
    res.type('text/javascript').send(DASHBOARD_JS);
  });
  app.get('/dashboard.css', (_req, res) => {
    res.type('text/css').send(DASHBOARD_CSS);
  });
  app.get('/dashboard.json', async (_req, res) => {
    res.json(await dashboard.frame());
  });
  app.get('/events', async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    // The browser reconnects after this long if the stream breaks.
    res.write(`retry: 2000\n\n`);
    streams.add(res);
    req.on('close', () => streams.delete(res));
    ticker ??= setInterval(() => void broadcast(), FRAME_INTERVAL_MS).unref();
    res.write(`data: ${JSON.stringify(await dashboard.frame())}\n\n`);
  });
  // A cheap way for the page to check a token before it keeps it.
  app.get('/auth', requireToken, (_req, res) => {
    res.json({ ok: true });
  });
  // Readiness for a front balancer: 503 while the dispatcher drains before it stops accepting.
  app.get('/healthz', (_req, res) => {
    if (draining()) res.status(503).json({ ok: false, draining: true });
    else res.json({ ok: true });
  });
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', registry.contentType).send(await registry.metrics());
  });
  app.get('/backends', async (_req, res) => {
    res.json({ backends: await control.backends() });
  });
  app.get('/policy', async (_req, res) => {
    res.json(await control.policy());
  });
  app.put('/policy', ...mutation(async (req) => {
    await control.setPolicy(parsePolicyBody(req.body));
    return control.policy();
  }));
  app.post('/backends', ...mutation(async (req) => {
    await control.addBackend(parseBody(BackendBody, req.body));
    return { backends: await control.backends() };
  }));
  app.delete('/backends/:id', ...mutation((req) => control.removeBackend(id(req))));
  app.post('/backends/:id/drain', ...mutation((req) => control.drain(id(req))));
  app.post('/backends/:id/undrain', ...mutation((req) => control.undrain(id(req))));
  app.put('/backends/:id/weight', ...mutation((req) => control.setWeight(id(req), parseBody(WeightBody, req.body).weight)));
  app.post('/vms/:id/crash', ...mutation((req) => faults().crash(id(req))));
  app.post('/vms/:id/restore', ...mutation((req) => faults().restore(id(req))));
  app.post('/vms/:id/owner', ...mutation((req) => {
    const body = parseBody(OwnerBody, req.body);
    faults().ownerReturns(id(req), body.mode, body.forMs);
  }));
  app.put('/hosts/:id/load', ...mutation((req) => faults().setHostLoad(id(req), parseBody(HostLoadBody, req.body).cores)));

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'no such admin endpoint' });
  });
  // express 5 routes thrown errors here, including body-parser's (malformed JSON: status 400).
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof AdminError) {
      res.status(err.status).json({ error: clipMessage(err.message) });
      return;
    }
    const e = err as { status?: number; type?: string; message?: string; body?: unknown };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: clipMessage(notJsonObject(e.body) ?? `malformed JSON: ${e.message ?? 'cannot parse the body'}`) });
      return;
    }
    // body-parser's own 4xx (413 too large, 415) keep their status; a plain Error from the control
    // is a refusal of the input (the policy registry's or the Balancer's message), hence 400.
    const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 400;
    res.status(status).json({ error: clipMessage(e.message ?? String(err)) });
  });
  return {
    app,
    closeStreams() {
      clearInterval(ticker);
      ticker = undefined;
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}
