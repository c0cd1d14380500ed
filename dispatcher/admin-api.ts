import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { BackendId } from '../core/types.js';
import type { BackendStatus } from './balancer/types.js';
import { DASHBOARD_HTML } from './dashboard.js';

/**
 * The admin API (express 5, on its own port, loopback by default): read the backends and the
 * policy, and change them at runtime. Reads are open; every change needs `Authorization: Bearer
 * <token>` (401 otherwise), checked before the body is even parsed. Bodies are JSON: malformed
 * JSON or a bad field is a 400 with a message, an unknown backend a 404.
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
  backends(): AdminBackend[];
  policy(): AdminPolicy;
  setPolicy(spec: { name: string; options: Record<string, unknown> }): void;
  addBackend(b: { id: BackendId; url: string; weight?: number }): void;
  removeBackend(id: BackendId): void;
  drain(id: BackendId): void;
  undrain(id: BackendId): void;
  setWeight(id: BackendId, weight: number): void;
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

const PolicyBody = z.strictObject({ name: z.string().min(1), options: z.record(z.string(), z.unknown()).default({}) });
const BackendBody = z.strictObject({ id: z.string().min(1).max(100), url: z.string().min(1), weight: z.number().positive().optional() });
const WeightBody = z.strictObject({ weight: z.number().positive() });

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new AdminError(400, `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`);
}

export function createAdminApp(opts: { control: AdminControl; token: string; registry: Registry }): express.Express {
  const { control, registry } = opts;
  if (opts.token.length < 8) throw new Error('the admin token must be at least 8 characters');
  // Compare digests, so the comparison takes the same time whatever the given token's length.
  const expected = digest(opts.token);
  const requireToken = (req: Request, res: Response, next: NextFunction): void => {
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
    (req: Request, res: Response) => {
      const result = act(req);
      res.json(result ?? { ok: true });
    },
  ];
  const id = (req: Request): string => String(req.params.id);

  const app = express();
  app.disable('x-powered-by');
  app.get('/', (_req, res) => {
    res.type('html').send(DASHBOARD_HTML);
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', registry.contentType).send(await registry.metrics());
  });
  app.get('/backends', (_req, res) => {
    res.json({ backends: control.backends() });
  });
  app.get('/policy', (_req, res) => {
    res.json(control.policy());
  });
  app.put('/policy', ...mutation((req) => {
    control.setPolicy(parseBody(PolicyBody, req.body));
    return control.policy();
  }));
  app.post('/backends', ...mutation((req) => {
    control.addBackend(parseBody(BackendBody, req.body));
    return { backends: control.backends() };
  }));
  app.delete('/backends/:id', ...mutation((req) => control.removeBackend(id(req))));
  app.post('/backends/:id/drain', ...mutation((req) => control.drain(id(req))));
  app.post('/backends/:id/undrain', ...mutation((req) => control.undrain(id(req))));
  app.put('/backends/:id/weight', ...mutation((req) => control.setWeight(id(req), parseBody(WeightBody, req.body).weight)));

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'no such admin endpoint' });
  });
  // express 5 routes thrown errors here, including body-parser's (malformed JSON: status 400).
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof AdminError) {
      res.status(err.status).json({ error: err.message });
      return;
    }
    const e = err as { status?: number; type?: string; message?: string };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: `malformed JSON: ${e.message ?? 'cannot parse the body'}` });
      return;
    }
    // body-parser's own 4xx (413 too large, 415) keep their status; a plain Error from the control
    // is a refusal of the input (the policy registry's or the Balancer's message), hence 400.
    const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 400;
    res.status(status).json({ error: e.message ?? String(err) });
  });
  return app;
}
