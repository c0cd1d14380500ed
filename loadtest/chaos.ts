import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { loadScenario } from '../core/scenario.js';
import { startDispatcher, type RunningDispatcher } from '../dispatcher/dispatcher-service.js';
import { forkSlowUploads, type SlowUploadsChild } from './slow-uploads.js';

/**
 * `npm run chaos`: RELIABILITY.md's fault battery in one bounded run on 127.0.0.1. Four host
 * processes (scenarios/chaos.yaml) behind one in-process dispatcher; open-loop GETs at --rate
 * for --duration; every --every, one host in turn is killed (SIGKILL, restarted on its port after
 * --down) or hung (SIGSTOP, SIGCONT after --down). Prints what was sent, answered 2xx, answered
 * 5xx or failed, and how many of the failures were "lost while a healthy backend existed": a host
 * process was running and not stopped both when the request was sent and when it failed, so a
 * retry to it could have saved the request. Stops by itself, and kills every process it started.
 *
 * `--mode overload` kills nothing: it sends scenarios/overload.yaml's fleet twice its capacity
 * (the scenario's arrival rate unless --rate) and shows how fast the excess is refused: the
 * latency of the 503s and how many carried Retry-After, beside the 2xx latency.
 *
 * `--mode shutdown` runs the dispatcher as its own process and sends it SIGTERM halfway through
 * the load: how many requests sent before the signal were answered 2xx, how many sent after it
 * were refused or failed, and how long the process took to exit. The load generator acts as a
 * front balancer would: it probes the dispatcher's admin /healthz every HEALTH_EVERY_MS and stops
 * sending once it answers 503 (draining) or not at all. The drain is scenarios/chaos.yaml's
 * `dispatcher.shutdown.drainMs` unless `--drain <seconds>` (0: none, for the A/B).
 *
 * `--slow-clients N` (any mode) also opens N connections that send a request's headers one byte a
 * second and never finish them: how long the dispatcher lets them live, and whether they get 408.
 *
 * `--slow-uploads N` (not with --mode shutdown) splits the run in two halves: a baseline of GETs
 * alone, then the same GETs beside N connections that POST a declared body at one byte a second,
 * half a small one (8 KiB) and half a large one (1 MiB, past the 64 KiB buffered before routing). The
 * uploads run in a child process of their own (slow-uploads.ts), so their sockets and timers
 * cost this process, the dispatcher's, nothing. Their opens are spread over --upload-spread
 * seconds (1 by default), and one that the dispatcher ends is re-opened as soon as that pace
 * allows (slow-upload-pacing.ts), so about N stay open without opening or re-opening together;
 * `--upload-spread 0` opens and re-opens them all at once, to measure what that burst costs the
 * dispatcher. Prints the GETs' median and p99 in each half (the second half's without the GETs
 * sent while the uploads were being opened, which get a line of their own: the target is about
 * slow clients being connected, and a crowd connecting at once is another load), this process's event-loop delay in
 * each half, the Balancer's outlier ejections and consecutive failures (the target: none), how
 * the slow uploads ended (408 / other / still open at the end) and how many were open on average.
 */

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'faults' },
    scenario: { type: 'string' },
    duration: { type: 'string', default: '30' },
    rate: { type: 'string' },
    every: { type: 'string', default: '5' },
    down: { type: 'string', default: '2.5' },
    'slow-clients': { type: 'string', default: '0' },
    'slow-uploads': { type: 'string', default: '0' },
    drain: { type: 'string' },
    'upload-spread': { type: 'string', default: '1' },
  },
});
if (!['faults', 'overload', 'shutdown'].includes(values.mode)) throw new Error(`--mode is faults, overload or shutdown, got ${values.mode}`);
const overload = values.mode === 'overload';
const shutdown = values.mode === 'shutdown';
const slowClients = Math.min(1000, Number(values['slow-clients']));
const slowUploads = Math.min(2000, Number(values['slow-uploads']));
if (slowUploads > 0 && shutdown) throw new Error('--slow-uploads needs the dispatcher in this process: not with --mode shutdown');
if (values.drain !== undefined && !shutdown) throw new Error('--drain is for --mode shutdown');
const uploadSpreadMs = Number(values['upload-spread']) * 1000;
if (!(uploadSpreadMs >= 0 && uploadSpreadMs <= 60_000)) throw new Error(`--upload-spread is 0 to 60 seconds, got ${values['upload-spread']}`);
const scenarioFile = values.scenario ?? (overload ? 'scenarios/overload.yaml' : 'scenarios/chaos.yaml');
const scenario = loadScenario(scenarioFile);
const arrival = scenario.workload.arrival;
const durationMs = Math.min(300, Number(values.duration)) * 1000;
const rateRps = Math.min(2000, Number(values.rate ?? (overload && 'rateRps' in arrival ? arrival.rateRps : 200)));
const everyMs = Number(values.every) * 1000;
const downMs = Number(values.down) * 1000;
/** How often the load generator, as a front balancer, probes the dispatcher's /healthz in --mode shutdown. */
const HEALTH_EVERY_MS = 100;

/** The scenario file the dispatcher process reads: the given one, or a copy with `--drain`'s drain period. */
function dispatcherScenarioFile(): string {
  if (values.drain === undefined) return scenarioFile;
  const raw = parseYaml(readFileSync(scenarioFile, 'utf8')) as { dispatcher?: { shutdown?: Record<string, unknown> } };
  const dispatcher = { ...raw.dispatcher, shutdown: { ...raw.dispatcher?.shutdown, drainMs: Number(values.drain) * 1000 } };
  const file = join(mkdtempSync(join(tmpdir(), 'dispatchlab-chaos-')), 'scenario.json');
  writeFileSync(file, JSON.stringify({ ...raw, dispatcher }));
  return file;
}

if (!shutdown) {
  // Checked before anything starts. A slow client holds three descriptors here: its socket, the
  // dispatcher's side of it and the upstream one. A slow upload, whose client is in its own
  // process, holds the dispatcher's side, and an upstream one once its body fills the buffer read
  // before routing: two are counted (the child, with the same soft limit, one). The soft limit is
  // what Node was started with.
  const softLimit = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  const descriptorsNeeded = 2 * slowUploads + 3 * slowClients + 1000;
  if (softLimit !== undefined && descriptorsNeeded > Number(softLimit)) {
    throw new Error(`${slowUploads + slowClients} slow connections need about ${descriptorsNeeded} file descriptors; the soft limit is ${softLimit}: raise it with ulimit -n (within ulimit -Hn)`);
  }
}

/** Median, p99 and max of `ms`, as printed. */
function quantiles(ms: number[]): string {
  if (ms.length === 0) return 'none';
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number): string => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(0);
  return `median ${at(0.5)}  p99 ${at(0.99)}  max ${sorted[sorted.length - 1].toFixed(0)}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

interface Host {
  readonly name: string;
  readonly port: number;
  child?: ChildProcess;
  state: 'up' | 'killed' | 'stopped';
}

function spawnHost(host: Host): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'host', '--scenario', scenarioFile, '--host', host.name, '--base-port', String(host.port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  host.child = child;
  return new Promise((resolve) => child.stdout!.once('data', () => resolve()));
}

/** The slow uploads' own process, forked (and its start-up paid) before anything else starts. */
const uploaders: SlowUploadsChild | undefined = slowUploads > 0 ? await forkSlowUploads() : undefined;
const hosts: Host[] = await Promise.all(scenario.hosts.map(async (h) => ({ name: h.name, port: await freePort(), state: 'up' as const })));
await Promise.all(hosts.map(spawnHost));
const backends = hosts.map((h, i) => ({ id: scenario.vms[i].name, url: `http://127.0.0.1:${h.port}` }));
/** The dispatcher: in this process, or (shutdown mode) a child process to send SIGTERM to. */
let dispatcherUrl: string;
let stopDispatcher: () => Promise<void>;
let dispatcherProcess: ChildProcess | undefined;
let balancer: RunningDispatcher['balancer'] | undefined;
let healthUrl: string | undefined;
if (shutdown) {
  const port = await freePort();
  const adminPort = await freePort();
  healthUrl = `http://127.0.0.1:${adminPort}/healthz`;
  const list = backends.map((b) => `${b.id}=${b.url}`).join(',');
  const args = ['--import', 'tsx', 'cli/main.ts', 'dispatcher', '--scenario', dispatcherScenarioFile(), '--backends', list, '--port', String(port), '--admin-port', String(adminPort)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, DISPATCHLAB_ADMIN_TOKEN: 'chaos-shutdown-run' } });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.stdout.resume();
  dispatcherProcess = child;
  dispatcherUrl = `http://127.0.0.1:${port}`;
  stopDispatcher = async () => {
    child.kill('SIGKILL');
  };
} else {
  const dispatcher = await startDispatcher({ settings: scenario.dispatcher, backends, policy: scenario.policies[0], seed: scenario.seed });
  dispatcherUrl = dispatcher.url;
  stopDispatcher = () => dispatcher.close(0);
  balancer = dispatcher.balancer;
}
const anyHealthy = (): boolean => hosts.some((h) => h.state === 'up');

const counts = { sent: 0, ok: 0, server5xx: 0, failed: 0, lostWhileHealthy: 0 };
/** Lost-while-healthy requests by status (or "none" for no answer): which mechanism let them through. */
const lostByCode = new Map<string, number>();
/** Answer times (ms) of the 2xx and of the 503s, and how many 503s said when to come back. */
const okMs: number[] = [];
/** With --slow-uploads: the 2xx answer times of GETs sent before the slow uploads began, and after. */
const okMsByPhase = { baseline: [] as number[], opening: [] as number[], slowUploads: [] as number[] };
let slowUploadsFromMs: number | undefined;
/** When the last of the slow uploads has been opened: GETs sent before it are the opening's, not the steady state's. */
let allUploadsOpenFromMs: number | undefined;
const refusedMs: number[] = [];
let refusedWithRetryAfter = 0;
/** Shutdown mode: when SIGTERM was sent and when the process exited (ms since the start), and the answers on either side of it. */
let sigtermAtMs: number | undefined;
let exitedAtMs: number | undefined;
/** Shutdown mode: when the generator saw /healthz fail and stopped sending (ms since the start), and the requests it then held back. */
let movedAwayAtMs: number | undefined;
let heldBack = 0;
let outstandingAtSigterm = 0;
const aroundStop = { before: { sent: 0, ok: 0 }, after: { sent: 0, ok: 0, non2xx: 0, failed: 0 } };
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
let outstanding = 0;
function send(): void {
  counts.sent++;
  outstanding++;
  const healthyAtSend = anyHealthy();
  const sentAt = performance.now();
  const phase =
    slowUploadsFromMs === undefined ? okMsByPhase.baseline : sentAt - startedAt < (allUploadsOpenFromMs ?? 0) ? okMsByPhase.opening : okMsByPhase.slowUploads;
  const side = sigtermAtMs === undefined ? aroundStop.before : aroundStop.after;
  side.sent++;
  const done = (status: number | undefined): void => {
    outstanding--;
    if (status !== undefined && status < 300) side.ok++;
    else if (side === aroundStop.after && status === undefined) aroundStop.after.failed++;
    else if (side === aroundStop.after) aroundStop.after.non2xx++;
    if (status === 503) refusedMs.push(performance.now() - sentAt);
    if (status !== undefined && status < 300) {
      counts.ok++;
      okMs.push(performance.now() - sentAt);
      phase.push(performance.now() - sentAt);
    } else {
      if (status === undefined) counts.failed++;
      else counts.server5xx++;
      if (healthyAtSend && anyHealthy()) {
        counts.lostWhileHealthy++;
        const code = String(status ?? 'none');
        lostByCode.set(code, (lostByCode.get(code) ?? 0) + 1);
      }
    }
  };
  const req = http.get(`${dispatcherUrl}/`, { agent, timeout: 10_000 }, (res) => {
    if (res.statusCode === 503 && res.headers['retry-after'] !== undefined) refusedWithRetryAfter++;
    res.resume();
    res.on('end', () => done(res.statusCode));
  });
  req.on('timeout', () => req.destroy());
  req.on('error', () => done(undefined));
}

/** This process's event-loop delay (the dispatcher's, and the GETs' client's) in each half. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
const loopDelayByPhase = { baseline: '', slowUploads: '' };
const takeLoopDelay = (): string => {
  const text = `p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)}  max ${(loopDelay.max / 1e6).toFixed(0)}`;
  loopDelay.reset();
  return text;
};
loopDelay.enable();

const startedAt = performance.now();
const load = setInterval(() => {
  const due = Math.floor(((performance.now() - startedAt) * rateRps) / 1000) - counts.sent - heldBack;
  if (movedAwayAtMs !== undefined) heldBack += due;
  else for (let i = 0; i < due; i++) send();
}, 5);
// As a front balancer: once the dispatcher's /healthz says 503 (draining) or nothing, send it nothing more.
let probing = false;
const probe = setInterval(() => {
  if (healthUrl === undefined || sigtermAtMs === undefined || movedAwayAtMs !== undefined || probing) return;
  probing = true;
  const moveAway = (): void => {
    movedAwayAtMs ??= performance.now() - startedAt;
  };
  const req = http.get(healthUrl, { agent: false, timeout: 1000 }, (res) => {
    res.resume();
    if (res.statusCode !== 200) moveAway();
    probing = false;
  });
  req.on('timeout', () => req.destroy());
  req.on('error', () => {
    moveAway();
    probing = false;
  });
}, HEALTH_EVERY_MS);
let turn = 0;
const chaos = setInterval(() => {
  if (overload || shutdown) return;
  const host = hosts[turn % hosts.length];
  const kill = turn % 2 === 0;
  turn++;
  if (host.state !== 'up' || !host.child) return;
  if (kill) {
    host.state = 'killed';
    host.child.kill('SIGKILL');
    process.stdout.write(`${((performance.now() - startedAt) / 1000).toFixed(1)}s kill ${host.name}\n`);
    setTimeout(() => void spawnHost(host).then(() => (host.state = 'up')), downMs);
  } else {
    host.state = 'stopped';
    host.child.kill('SIGSTOP');
    process.stdout.write(`${((performance.now() - startedAt) / 1000).toFixed(1)}s hang ${host.name}\n`);
    setTimeout(() => {
      host.child?.kill('SIGCONT');
      host.state = 'up';
    }, downMs);
  }
}, everyMs);

const sigterm = setTimeout(() => {
  if (!dispatcherProcess) return;
  sigtermAtMs = performance.now() - startedAt;
  outstandingAtSigterm = outstanding;
  dispatcherProcess.once('exit', () => (exitedAtMs = performance.now() - startedAt));
  dispatcherProcess.kill('SIGTERM');
  process.stdout.write(`${(sigtermAtMs / 1000).toFixed(1)}s SIGTERM the dispatcher\n`);
}, durationMs / 2);

/** Slow clients: each sends one header byte a second and never ends its headers. */
interface SlowClient {
  readonly openedAtMs: number;
  closedAtMs?: number;
  answer: string;
}
const slow: SlowClient[] = [];
const slowSockets: net.Socket[] = [];
const { port: dispatcherPort } = new URL(dispatcherUrl);
for (let i = 0; i < slowClients; i++) {
  const client: SlowClient = { openedAtMs: performance.now(), answer: '' };
  const socket = net.connect(Number(dispatcherPort), '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '));
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (client.answer += chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => (client.closedAtMs = performance.now()));
  slow.push(client);
  slowSockets.push(socket);
}
const trickle = setInterval(() => {
  for (const socket of slowSockets) if (!socket.destroyed && socket.writable) socket.write('x');
}, 1000);

/** Slow uploads, in their own process: a declared body sent one byte a second; each one the dispatcher ends is replaced. */
const SLOW_UPLOAD_BYTES = { small: 8 * 1024, large: 1024 * 1024 };
const uploadStart = setTimeout(() => {
  if (!uploaders) return;
  slowUploadsFromMs = performance.now() - startedAt;
  allUploadsOpenFromMs = slowUploadsFromMs + uploadSpreadMs;
  loopDelayByPhase.baseline = takeLoopDelay();
  process.stdout.write(`${(slowUploadsFromMs / 1000).toFixed(1)}s ${slowUploads} slow uploads start, spread over ${uploadSpreadMs} ms\n`);
  uploaders.start({
    port: Number(dispatcherPort),
    slots: slowUploads,
    smallBytes: SLOW_UPLOAD_BYTES.small,
    largeBytes: SLOW_UPLOAD_BYTES.large,
    byteEveryMs: 1000,
    openIntervalMs: uploadSpreadMs / slowUploads,
    // Bounded by itself too, should this process die before it stops them.
    maxRunMs: durationMs / 2 + 30_000,
  });
}, durationMs / 2);

await new Promise((resolve) => setTimeout(resolve, durationMs));
clearTimeout(uploadStart);
clearInterval(load);
clearInterval(probe);
loopDelayByPhase.slowUploads = takeLoopDelay();
loopDelay.disable();
const uploadReport = await uploaders?.stop(10_000).catch((err: unknown) => {
  process.stderr.write(`slow uploads: ${err instanceof Error ? err.message : String(err)}\n`);
  return undefined;
});
clearInterval(chaos);
clearInterval(trickle);
clearTimeout(sigterm);
const drainUntil = performance.now() + 12_000;
while (outstanding > 0 && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 50));
for (const h of hosts) {
  h.child?.kill('SIGCONT');
  h.child?.kill('SIGKILL');
}
for (const socket of slowSockets) socket.destroy();
const balancerAtEnd = balancer && { ejections: balancer.stats().ejections, consecutiveFailures: balancer.backends().map((b) => `${b.id} ${b.consecutiveFailures}`).join(', ') };
await stopDispatcher();
agent.destroy();
const slowLives = slow.filter((c) => c.closedAtMs !== undefined).map((c) => (c.closedAtMs as number) - c.openedAtMs);
if (slowClients > 0) {
  process.stdout.write(
    `slow clients ${slowClients}: closed by the dispatcher ${slowLives.length} (lived ms: ${quantiles(slowLives)}), ` +
      `answered 408 ${slow.filter((c) => c.answer.startsWith('HTTP/1.1 408')).length}, still open at the end ${slowClients - slowLives.length}\n`,
  );
}
if (uploadReport) {
  process.stdout.write(
    `slow uploads ${slowUploads} at a time (half 8 KiB, half 1 MiB, 1 byte/s), ${uploadReport.opened} opened in all: ` +
      `ended 408 ${uploadReport.answered408}, other answer ${uploadReport.answeredOther}, closed unanswered ${uploadReport.closedUnanswered}, ` +
      `still open at the end ${uploadReport.stillOpen}, open on average in the second half ${uploadReport.averageOpen.toFixed(0)}\n` +
      `GET 2xx ms, baseline (first half, no slow uploads): ${quantiles(okMsByPhase.baseline)}\n` +
      `GET 2xx ms, while the slow uploads were being opened (${uploadSpreadMs} ms): ${quantiles(okMsByPhase.opening)}\n` +
      `GET 2xx ms, beside the slow uploads (the rest of the second half):  ${quantiles(okMsByPhase.slowUploads)}\n` +
      `event-loop delay ms of the dispatcher's process, baseline: ${loopDelayByPhase.baseline}  beside the slow uploads: ${loopDelayByPhase.slowUploads}\n`,
  );
}
if (balancerAtEnd) process.stdout.write(`outlier ejections ${balancerAtEnd.ejections}  consecutive failures at the end: ${balancerAtEnd.consecutiveFailures}\n`);
if (sigtermAtMs !== undefined) {
  const { before, after } = aroundStop;
  process.stdout.write(
    `shutdown: sent before SIGTERM ${before.sent} (${outstandingAtSigterm} of them unanswered at the signal), 2xx ${before.ok}, lost ${before.sent - before.ok}; ` +
      `sent after ${after.sent}: 2xx ${after.ok}, other answers ${after.non2xx}, no answer (refused or closed) ${after.failed}; ` +
      `/healthz failed ${movedAwayAtMs === undefined ? 'never' : `${(movedAwayAtMs - sigtermAtMs).toFixed(0)} ms after SIGTERM`}, then ${heldBack} not sent; ` +
      `exited ${exitedAtMs === undefined ? 'not within the run' : `${(exitedAtMs - sigtermAtMs).toFixed(0)} ms after SIGTERM`}\n`,
  );
}
process.stdout.write(
  `sent ${counts.sent}  2xx ${counts.ok}  5xx ${counts.server5xx}  failed ${counts.failed}` +
    // Only faults make a loss one a retry could have saved: in the other modes every host stays up.
    (overload || shutdown ? '' : `  lost-while-healthy ${counts.lostWhileHealthy} (${[...lostByCode].map(([code, n]) => `${code}: ${n}`).join(', ') || 'none'})`) +
    `  unanswered ${outstanding}\n` +
    `2xx ms: ${quantiles(okMs)}\n503 ms: ${quantiles(refusedMs)}  (${refusedWithRetryAfter} of ${refusedMs.length} with Retry-After)\n`,
);
process.exit(0);
