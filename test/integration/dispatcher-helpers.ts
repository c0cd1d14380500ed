import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { parseScenario, ScenarioSchema, type Scenario } from '../../core/scenario.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';

/** Shared by the dispatcher's integration tests: small scenarios and plain HTTP calls. */

export const ADMIN_TOKEN = 'integration-token-0123';

/** `replicas` hosts with one replica each (r1..rN on h1..hN), a deterministic request class. */
export function replicasScenario(replicas: number, opts: { cpuMs?: number; bodyDigest?: boolean; dispatcher?: Record<string, unknown> } = {}): Scenario {
  const hosts = Array.from({ length: replicas }, (_, i) => ({ name: `h${i + 1}`, cores: 2, memoryMb: 4096 }));
  const vms = hosts.map((h, i) => ({ name: `r${i + 1}`, host: h.name, vcpus: 1, memoryMb: 512 }));
  return parseScenario({
    name: 'dispatcher-test',
    hosts,
    vms,
    workload: { classes: [{ name: 'page', share: 1, route: '/', cpuMs: opts.cpuMs ?? 1, service: 'deterministic', bodyDigest: opts.bodyDigest }] },
    // Probes every 200 ms, one failure marks a replica down: a stopped replica refuses the probe's
    // connection at once. The timeout is beyond any stall of a busy machine, so a late answer is
    // never taken for a dead replica (with 150 ms, one stall marked every replica down).
    dispatcher: { healthCheck: { intervalMs: 200, timeoutMs: 10_000, rise: 1, fall: 1 }, ...opts.dispatcher },
    policies: ['round-robin'],
  });
}

export interface Answer {
  status: number;
  servedBy: string | null;
  setCookie: string[];
  headers: Headers;
  body: string;
}

export async function get(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  return { status: res.status, servedBy: res.headers.get('x-served-by'), setCookie: res.headers.getSetCookie(), headers: res.headers, body: await res.text() };
}

/** Send raw bytes (for request lines fetch will not write) and read the whole answer. */
export function rawRequest(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    // write, not end: Node's server aborts a request whose client half-closes (send Connection: close).
    const socket = net.connect(Number(port), hostname, () => socket.write(text));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

const POLL_MS = 5;

/**
 * Poll `check` until it holds (real sockets: state changes are asynchronous), or fail once
 * `budgetMs` of polling has gone by without it. The budget counts the time this process could
 * run: a poll that comes back late because the event loop stalled (a busy machine) is charged a
 * few intervals, not the stall, so a slow machine delays the answer instead of failing the test.
 */
export async function until(check: () => boolean, budgetMs = 10_000): Promise<void> {
  let spentMs = 0;
  while (!check()) {
    if (spentMs > budgetMs) throw new Error(`condition not reached in ${budgetMs} ms of polling`);
    const startMs = performance.now();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    spentMs += Math.min(performance.now() - startMs, 4 * POLL_MS);
  }
}

/** A round-robin dispatcher in front of the one backend at `backendUrl` (id 'a'), with `settings` over the defaults and no health checks. */
export function oneBackendDispatcher(backendUrl: string, settings: Record<string, unknown>): Promise<RunningDispatcher> {
  return startDispatcher({
    settings: ScenarioSchema.shape.dispatcher.parse(settings),
    backends: [{ id: 'a', url: backendUrl }],
    policy: 'round-robin',
    healthChecks: false,
  });
}

/** How long a test waits for a process or a port to get where it should, at most. */
const WAIT_MS = 30_000;

/** Poll `check` (sync or async) every 20 ms until it holds; fail naming `what` after WAIT_MS. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether process `pid` still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a connection to `url`'s port is refused (nothing listens there any more). */
export function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** A `dispatchlab` command run as a process (startCli). */
export interface Cli {
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminUrl: string;
  /** Every process of the command: its workers', or its own. */
  readonly pids: number[];
  stderr(): string;
  readonly exited: Promise<number | null>;
}

/**
 * Run `dispatchlab <args>` (from the sources, through tsx) with `adminToken`; resolves once its
 * banner has printed the line `ready`. The child is added to `started`, for the caller to end.
 */
export async function startCli(args: readonly string[], ready: RegExp, adminToken: string, started: ChildProcess[]): Promise<Cli> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { env: { ...process.env, DISPATCHLAB_ADMIN_TOKEN: adminToken }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(`the banner of ${args.join(' ')} (stderr: ${err})`, () => ready.test(out) || child.exitCode !== null);
  const dispatcher = /^dispatcher (\S+) \(policy [^,)]+(?:, \d+ workers: pids ([\d ]+))?\)/m.exec(out);
  const admin = /^admin\s+(http\S+)/m.exec(out);
  if (dispatcher === null || admin === null) throw new Error(`no banner: ${out}\n${err}`);
  return { child, url: dispatcher[1], adminUrl: admin[1], pids: (dispatcher[2] ?? String(child.pid)).split(' ').map(Number), stderr: () => err, exited };
}

/** An answer read whole, with what became of its connection. */
export interface Reply {
  readonly status: number;
  readonly connection: string | undefined;
  readonly body: string;
  readonly reusedSocket: boolean;
  /** Resolves once the socket the answer came on is closed. */
  readonly socketClosed: Promise<void>;
}

/** GET `url` through `agent` (false: a connection of its own). */
export function getReply(url: string, agent: http.Agent | false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      const socketClosed = new Promise<void>((done) => (res.socket.destroyed ? done() : res.socket.once('close', () => done())));
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body, reusedSocket: req.reusedSocket, socketClosed }));
    });
    req.on('error', reject);
  });
}
