import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CLIENT_FRONTS, policyLabel, policyName, PROXY_ENGINES, type ClientFront, type PolicySpec, type ProxyEngineName, type Scenario } from '../core/scenario.js';
import { dispatcherStarter, type RunningCluster } from '../dispatcher/cluster.js';
import type { RunningDispatcher, StartDispatcherOptions } from '../dispatcher/dispatcher-service.js';
import { DEFAULT_LISTEN_BACKLOG, MAX_LISTEN_BACKLOG } from '../core/limits.js';
import { CliError } from './errors.js';
import { parseCount } from './flags.js';
import { loadPolicies, policyFileSpec } from './policy-files.js';
import type { CliIo } from './io.js';

/** What `dispatchlab dispatcher` and `dispatchlab up` share: the policy, the admin token, the banner, and (with `host`) signals. */

/** The engines as a sentence lists them: "a, b or c". */
const ENGINE_NAMES = `${PROXY_ENGINES.slice(0, -1).join(', ')} or ${PROXY_ENGINES[PROXY_ENGINES.length - 1]}`;

export const ENGINE_HELP = `the proxy engine: ${ENGINE_NAMES} (default: the scenario's dispatcher.engine, else socket)`;

/** `--engine`: one of PROXY_ENGINES. */
export function parseEngine(text: string): ProxyEngineName {
  const engine = PROXY_ENGINES.find((name) => name === text);
  if (engine === undefined) throw new CliError(`--engine: expected ${ENGINE_NAMES}, got "${text}"`);
  return engine;
}

/** The scenario with `--engine`, when given, in place of its dispatcher.engine. */
export function withEngine(scenario: Scenario, engine: ProxyEngineName | undefined): Scenario {
  return engine === undefined ? scenario : { ...scenario, dispatcher: { ...scenario.dispatcher, engine } };
}

/** `--front`: what reads the proxy port's requests (dispatcher.client.front). */
export const FRONT_FLAG = [
  '--front <name>',
  `what reads the clients' requests: ${CLIENT_FRONTS.join(' or ')} (default: the scenario's dispatcher.client.front, else ${CLIENT_FRONTS[0]}; http-proxy always has node)`,
  parseFront,
] as const;

export function parseFront(text: string): ClientFront {
  const front = CLIENT_FRONTS.find((name) => name === text);
  if (front === undefined) throw new CliError(`--front: expected ${CLIENT_FRONTS.join(' or ')}, got "${text}"`);
  return front;
}

/** The scenario with `--front`, when given, in place of its dispatcher.client.front. */
export function withFront(scenario: Scenario, front: ClientFront | undefined): Scenario {
  if (front === undefined) return scenario;
  const { dispatcher } = scenario;
  return { ...scenario, dispatcher: { ...dispatcher, client: { ...dispatcher.client, front } } };
}

/** `--backlog`: the proxy port's listen backlog (dispatcher.client.backlog). */
export const BACKLOG_FLAG = [
  '--backlog <n>',
  `the proxy port's listen backlog, 1-${MAX_LISTEN_BACKLOG} (default: the scenario's dispatcher.client.backlog, else ${DEFAULT_LISTEN_BACKLOG}; the kernel caps it at net.core.somaxconn)`,
  parseBacklog,
] as const;

export function parseBacklog(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LISTEN_BACKLOG) throw new CliError(`--backlog: expected a whole number 1-${MAX_LISTEN_BACKLOG}, got "${text}"`);
  return n;
}

/** The scenario with `--backlog`, when given, in place of its dispatcher.client.backlog. */
export function withBacklog(scenario: Scenario, backlog: number | undefined): Scenario {
  if (backlog === undefined) return scenario;
  const { dispatcher } = scenario;
  return { ...scenario, dispatcher: { ...dispatcher, client: { ...dispatcher.client, backlog } } };
}

/**
 * A policy by label or name: the scenario's entry (with its options) when it lists one, else a
 * policy file or the bare name; policy files are loaded (async) before the dispatcher starts.
 */
export async function resolvePolicy(scenario: Scenario, text: string | undefined): Promise<PolicySpec> {
  const spec =
    text === undefined
      ? scenario.policies[0]
      : (scenario.policies.find((p) => policyLabel(p) === text) ?? scenario.policies.find((p) => policyName(p) === text) ?? policyFileSpec(text) ?? text);
  await loadPolicies([spec], '--policy');
  return spec;
}

/**
 * The admin token: `--admin-token-file`, else DISPATCHLAB_ADMIN_TOKEN, else undefined (the
 * dispatcher then generates one and the banner prints it): changes are never open.
 */
export function readAdminToken(file: string | undefined): string | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new CliError(`--admin-token-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    if (text.length < 8) throw new CliError(`--admin-token-file: ${file} holds no token of at least 8 characters`);
    return text;
  }
  const env = process.env.DISPATCHLAB_ADMIN_TOKEN?.trim();
  if (env !== undefined && env !== '') {
    if (env.length < 8) throw new CliError('DISPATCHLAB_ADMIN_TOKEN: the token must be at least 8 characters');
    return env;
  }
  return undefined;
}

/**
 * The session cookies' HMAC key from DISPATCHLAB_SESSION_SECRET (at least 16 bytes), so pins
 * survive a restart and several dispatchers honour each other's; undefined: a random key per process.
 */
export function readSessionSecret(): Buffer | undefined {
  const text = process.env.DISPATCHLAB_SESSION_SECRET;
  if (text === undefined || text === '') return undefined;
  if (Buffer.byteLength(text) < 16) throw new CliError('DISPATCHLAB_SESSION_SECRET: the secret must be at least 16 bytes');
  return Buffer.from(text);
}

/** Errors from starting (a port in use, a bad policy) are the user's input: exit 2 with the message. */
export function asCliError(err: unknown): never {
  if (err instanceof Error && !(err instanceof CliError) && err.name !== 'ScenarioError') throw new CliError(err.message);
  throw err;
}

/**
 * A generated token goes to a file only its owner can read (a fresh 0700 directory, the file
 * 0600), never to stdout, which ends up in container logs. Returns the file's path.
 */
export function writeGeneratedToken(token: string, dir = tmpdir()): string {
  const file = join(mkdtempSync(join(dir, 'dispatchlab-')), 'admin-token');
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return file;
}

/**
 * Remove what writeGeneratedToken created for `file`: the file and its fresh directory (only ever
 * called with a path it returned, never a user's --admin-token-file). Best effort: a directory
 * already gone, or one that cannot be removed, is left as it is.
 */
export function removeGeneratedToken(file: string): void {
  try {
    rmSync(dirname(file), { recursive: true, force: true });
  } catch {
    // Best effort: the process is ending; a leftover directory is the worst outcome.
  }
}

/**
 * The function that removes a generated token's directory: called once the stop has finished, or
 * else when the process exits (a failed stop, an exit without one). Without a generated file
 * (a token the user gave), it does nothing.
 */
function removeOnExit(file: string | undefined): () => void {
  if (file === undefined) return () => undefined;
  const remove = (): void => {
    process.off('exit', remove);
    removeGeneratedToken(file);
  };
  process.once('exit', remove);
  return remove;
}

export const WORKERS_FLAG = ['--workers <n>', 'dispatcher processes sharing the proxy port, each with its own Balancer and in-flight view (docs/dispatcher.md)', parseCount('--workers'), 1] as const;

/** One dispatcher in this process, or with --workers N > 1 a primary (admin port) and N worker processes (dispatcher/cluster.ts) that log to stderr. */
export function startDispatchers(workers: number, io: CliIo): (o: StartDispatcherOptions) => Promise<RunningDispatcher | RunningCluster> {
  return dispatcherStarter(workers, (line) => io.stderr.write(`${line}\n`));
}

/**
 * Print the URLs and where the admin token is. A generated token is written to a fresh file
 * (writeGeneratedToken); the returned function removes it, and the process's exit does so if that
 * is never called: call it once the dispatcher has stopped. A token given by the user is left alone.
 */
export function printDispatcher(io: CliIo, d: RunningDispatcher | RunningCluster, policy: PolicySpec, tokenGiven: boolean): () => void {
  const pids = 'pids' in d ? d.pids() : undefined;
  const tokenFile = tokenGiven ? undefined : writeGeneratedToken(d.adminToken);
  const lines = [
    `dispatcher ${d.url} (policy ${policyLabel(policy)}${pids === undefined ? '' : `, ${pids.length} workers: pids ${pids.join(' ')}`})`,
    `admin      ${d.adminUrl}`,
    `dashboard  ${d.adminUrl}/`,
    `metrics    ${d.adminUrl}/metrics`,
    tokenGiven
      ? 'admin token: as configured'
      : `admin token: in ${tokenFile} (generated, mode 0600, removed at shutdown; set DISPATCHLAB_ADMIN_TOKEN or --admin-token-file to choose one)`,
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
  return removeOnExit(tokenFile);
}

/**
 * Run until SIGINT/SIGTERM, then stop gracefully (a dispatcher's shutdown: drain, then close; a
 * host's close) and exit 0. The other signal during the stop calls `stopNow` (a dispatcher's
 * close, which ends its drain): Ctrl-C after a SIGTERM need not wait out the drain.
 */
export function closeOnSignal(io: CliIo, what: string, stop: () => Promise<void>, stopNow?: () => Promise<void>): void {
  let stopping = false;
  io.onStop((signal) => {
    if (stopping) {
      if (stopNow === undefined) return;
      io.stderr.write(`${what}: ${signal} during the shutdown, closing now\n`);
      void stopNow();
      return;
    }
    stopping = true;
    io.stderr.write(`${what}: ${signal}, shutting down\n`);
    void stop().then(() => io.exit(0));
  });
}
