import type { DispatcherSettings, PolicySpec } from '../core/scenario.js';
import type { DispatcherBackend } from './dispatcher-service.js';

/**
 * The messages between a `--workers` primary (dispatcher/cluster.ts) and its workers
 * (dispatcher/cluster-worker.ts), over node:cluster's IPC channel. Every message carries `dispatchlab`
 * so that other users of the channel (prom-client's own cluster messages) are told apart.
 */

/** What a worker needs to start its dispatcher: plain data, since it crosses the process boundary. */
export interface WorkerConfig {
  readonly index: number;
  readonly settings: DispatcherSettings;
  readonly backends: readonly DispatcherBackend[];
  readonly policy: PolicySpec;
  readonly seed: number;
  readonly port: number;
  readonly bind: string;
  /** base64: every worker signs and checks session cookies with the same key, so pins hold whichever worker a connection lands on. */
  readonly sessionSecret: string;
  readonly healthChecks: boolean;
  /** Admin changes made before this worker started (a restarted one), applied in order before it reports ready. */
  readonly replay: readonly WorkerCall[];
  /** Keep the request events for the primary to collect (`events` reads); `compare --workers` builds its report from them. */
  readonly keepEvents: boolean;
}

/**
 * Request events (core/request-events.ts) kept by a worker, flat and positional as they are
 * emitted: ['r', at] arrived, ['a', at, backend, queueWaitMs, attempt, backendIndex] admitted,
 * ['e', at, backend, failed, backendIndex] attempt ended, ['n', at, backend, code, latencyMs]
 * answered; `at` on the worker's clock.
 */
export type KeptEvent =
  | readonly ['r', number]
  | readonly ['a', number, string, number, number, number]
  | readonly ['e', number, string, boolean, number]
  | readonly ['n', number, string, string, number];

/** The reply to `events`: what was kept since the last read, and the worker's clock origin (performance.timeOrigin) to shift it by. */
export interface KeptEvents {
  readonly timeOriginMs: number;
  readonly events: readonly KeptEvent[];
}

/** The AdminControl methods that change a dispatcher: the primary sends each to every worker. */
export type WorkerMutation = 'setPolicy' | 'addBackend' | 'removeBackend' | 'drain' | 'undrain' | 'setWeight';
/**
 * Reads: `status` is what the dashboard frame needs beyond the backends, `metrics` the registry as
 * JSON, `events` the kept request events (KeptEvents, emptied by the read), `cpu` process.cpuUsage().
 */
export type WorkerRead = 'backends' | 'policy' | 'status' | 'metrics' | 'events' | 'cpu';

export interface WorkerCall {
  readonly method: WorkerMutation | WorkerRead;
  readonly args: readonly unknown[];
}

export type ToWorker =
  | { readonly dispatchlab: 'start'; readonly config: WorkerConfig }
  | { readonly dispatchlab: 'call'; readonly id: number; readonly call: WorkerCall }
  | { readonly dispatchlab: 'close'; readonly graceMs: number }
  /** The worker's own shutdown (RunningDispatcher.shutdown): drain, then close, as its settings say. */
  | { readonly dispatchlab: 'shutdown' };

export type FromWorker =
  /** The worker listens for messages now (one sent before would be lost): send it its config. */
  | { readonly dispatchlab: 'hello' }
  | { readonly dispatchlab: 'ready'; readonly url: string }
  | { readonly dispatchlab: 'failed'; readonly message: string }
  | { readonly dispatchlab: 'reply'; readonly id: number; readonly result?: unknown; readonly error?: { readonly status: number; readonly message: string } };

export function isProtocolMessage(msg: unknown): msg is { dispatchlab: string } {
  return typeof msg === 'object' && msg !== null && typeof (msg as { dispatchlab?: unknown }).dispatchlab === 'string';
}
