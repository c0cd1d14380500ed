import { policyFileProblems } from '../policies/index.js';
import { AdminError, type AdminControl } from './admin-api.js';
import type { RequestEvents } from '../core/request-events.js';
import { isProtocolMessage, type FromWorker, type KeptEvent, type KeptEvents, type ToWorker, type WorkerCall, type WorkerConfig } from './cluster-protocol.js';
import { startDispatcher, type RunningDispatcher } from './dispatcher-service.js';

/**
 * A `--workers` worker (forked by dispatcher/cluster.ts): one dispatcher with its own Balancer on
 * the shared proxy port, no admin port. It does what the primary asks over IPC: apply an admin
 * change, report its backends, status and metrics, close or shut down (drain, then close) and exit.
 * Like an nginx worker it ignores SIGINT (a Ctrl-C reaches the whole process group; the primary
 * orders the shutdown), shuts down and exits on SIGTERM (the primary then starts another), and
 * closes and exits when the primary is gone.
 */

function send(msg: FromWorker): void {
  process.send?.(msg);
}

let kept: KeptEvent[] = [];
const keeper: RequestEvents = {
  arrived: (at) => void kept.push(['r', at]),
  admitted: (at, backend, waitMs, attempt, index) => void kept.push(['a', at, backend, waitMs, attempt, index]),
  attemptEnded: (at, backend, failed, index) => void kept.push(['e', at, backend, failed, index]),
  answered: (at, backend, code, latencyMs) => void kept.push(['n', at, backend, code, latencyMs]),
};

function takeEvents(): KeptEvents {
  const events = kept;
  kept = [];
  return { timeOriginMs: performance.timeOrigin, events };
}

function call(d: RunningDispatcher, { method, args }: WorkerCall): unknown {
  const control: AdminControl = d.control;
  switch (method) {
    case 'backends':
      return control.backends();
    case 'policy':
      return control.policy();
    case 'status':
      return { queueLength: d.balancer.queueLength(), live: d.liveWindow() };
    case 'metrics':
      return d.registry.getMetricsAsJSON();
    case 'events':
      return takeEvents();
    case 'cpu':
      return process.cpuUsage();
    default:
      return (control[method] as (...a: unknown[]) => unknown)(...args);
  }
}

async function start(config: WorkerConfig): Promise<RunningDispatcher> {
  const problems = typeof config.policy === 'object' && 'file' in config.policy ? await policyFileProblems(config.policy) : [];
  if (problems.length > 0) throw new Error(problems.join('; '));
  const d = await startDispatcher({
    settings: config.settings,
    backends: config.backends,
    policy: config.policy,
    seed: config.seed,
    dispatcherIndex: config.index,
    port: config.port,
    bind: config.bind,
    sessionSecret: Buffer.from(config.sessionSecret, 'base64'),
    healthChecks: config.healthChecks,
    admin: false,
    ...(config.keepEvents ? { events: keeper } : {}),
  });
  for (const c of config.replay) await call(d, c);
  return d;
}

let running: Promise<RunningDispatcher> | undefined;
/** Stop the dispatcher as `how` says, then exit. A close during a shutdown's drain ends the drain early. */
function stopAndExit(how: (d: RunningDispatcher) => Promise<void>): void {
  void (running ?? Promise.reject(new Error('not started')))
    .then(how)
    .catch(() => undefined)
    .finally(() => process.exit(0));
}

process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => stopAndExit((d) => d.shutdown()));
// Without the primary no new connection reaches this worker (the primary accepts them): no drain.
process.on('disconnect', () => stopAndExit((d) => d.close()));
process.on('message', (msg: unknown) => {
  if (!isProtocolMessage(msg)) return;
  const m = msg as ToWorker;
  if (m.dispatchlab === 'start') {
    running = start(m.config);
    running.then(
      (d) => send({ dispatchlab: 'ready', url: d.url }),
      (err: unknown) => {
        send({ dispatchlab: 'failed', message: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  } else if (m.dispatchlab === 'call') {
    void (running ?? Promise.reject(new Error('not started')))
      .then((d) => call(d, m.call))
      .then(
        (result) => send({ dispatchlab: 'reply', id: m.id, result }),
        (err: unknown) => {
          const e = err as { message?: string };
          send({ dispatchlab: 'reply', id: m.id, error: { status: err instanceof AdminError ? err.status : 400, message: e.message ?? String(err) } });
        },
      );
  } else if (m.dispatchlab === 'close') {
    stopAndExit((d) => d.close(m.graceMs));
  } else if (m.dispatchlab === 'shutdown') {
    stopAndExit((d) => d.shutdown());
  }
});
send({ dispatchlab: 'hello' });
