import { execFileSync, type ChildProcess } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, http } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { alive, startCli as startCommandAs, waitFor, type Cli } from './dispatcher-helpers.js';

/**
 * `dispatchlab dispatcher --workers N` as a real process tree (a primary and N workers on the
 * shared proxy port), in front of four test backends that hold every request until the test lets
 * them go, so what each worker decided is seen at the backends while it is still in flight.
 * Herding: with one worker least-loaded never sends two requests of a round to one backend; with
 * two, each worker sees only its own in-flight requests and some round puts two on one backend
 * (the live twin of test/sim/herding.test.ts). Then the admin API's coherence over the workers,
 * /metrics aggregated, a killed worker restarted, session pins shared by the workers, and SIGTERM
 * draining every worker.
 * Nothing here measures speed; every wait is bounded.
 */

const TOKEN = 'workers-test-token';
const IDS = ['b1', 'b2', 'b3', 'b4'];
const ROUNDS = 20;

interface Held {
  readonly id: string;
  readonly res: ServerResponse;
}
const held: Held[] = [];
const backends: TestServer[] = [];
const started: ChildProcess[] = [];
const startCommand = (args: readonly string[], ready: RegExp): Promise<Cli> => startCommandAs(args, ready, TOKEN, started);

function startCli(workers: number): Promise<Cli> {
  const list = backends.map((b, i) => `${IDS[i]}=${b.url}`).join(',');
  const args = ['dispatcher', '--scenario', 'test/fixtures/dispatcher-two-replicas.yaml', '--backends', list, '--policy', 'least-loaded', '--port', '0', '--admin-port', '0', '--workers', String(workers)];
  return startCommand(args, /^backend\s+b4 /m);
}

interface BackendRow {
  id: string;
  inFlight: number;
  requests: number;
  weight: number;
  workers?: Array<{ pid: number; inFlight: number; requests: number; weight: number }>;
}

async function backendRows(cli: Cli): Promise<BackendRow[]> {
  return (await getJson<{ backends: BackendRow[] }>(`${cli.adminUrl}/backends`)).json.backends;
}

/**
 * One round: four requests at once, each on a connection of its own (so the primary hands them to
 * the workers in turn); once the backends hold all four, count them per backend, then answer them.
 */
async function round(cli: Cli, whileHeld?: () => Promise<void>): Promise<number[]> {
  await waitFor('no request in flight', async () => (await backendRows(cli)).every((b) => b.inFlight === 0));
  const answers = IDS.map(() => http(`${cli.url}/`));
  await waitFor('four requests held', () => held.length === 4);
  const counts = IDS.map((id) => held.filter((h) => h.id === id).length);
  await whileHeld?.();
  for (const h of held.splice(0)) h.res.end('ok');
  for (const a of await Promise.all(answers)) expect(a.status).toBe(200);
  return counts;
}

async function stop(cli: Cli): Promise<number | null> {
  cli.child.kill('SIGTERM');
  return cli.exited;
}

beforeAll(async () => {
  for (const id of IDS) {
    backends.push(
      await startTestServer((req, res) => {
        if (req.url === '/healthz') res.end('ok');
        else held.push({ id, res });
      }),
    );
  }
});

afterAll(async () => {
  for (const h of held.splice(0)) h.res.end();
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(backends.map((b) => b.close()));
});

describe('dispatcher --workers 1: one Balancer sees every request in flight', () => {
  it('least-loaded never puts two requests of a round on one backend', { timeout: 120_000 }, async () => {
    const cli = await startCli(1);
    for (let r = 0; r < ROUNDS; r++) expect(await round(cli)).toEqual([1, 1, 1, 1]);
    expect(await stop(cli)).toBe(0);
  });
});

describe('dispatcher --workers 2', () => {
  let cli: Cli;
  beforeAll(async () => {
    cli = await startCli(2);
  }, 120_000);

  it('each worker sees only its own in-flight requests, so least-loaded herds: some round puts two on one backend', { timeout: 120_000 }, async () => {
    expect(cli.pids).toHaveLength(2);
    let sawViews = false;
    const rounds: number[][] = [];
    for (let r = 0; r < ROUNDS; r++) {
      rounds.push(
        await round(cli, async () => {
          // While the four are held: the sum is every request, each worker's view only its own.
          const rows = await backendRows(cli);
          expect(rows.reduce((s, b) => s + b.inFlight, 0)).toBe(4);
          for (const b of rows) expect(b.workers?.reduce((s, w) => s + w.inFlight, 0)).toBe(b.inFlight);
          sawViews ||= rows.some((b) => b.workers?.some((w) => w.inFlight > 0 && w.inFlight < b.inFlight) ?? false);
        }),
      );
    }
    expect(rounds.some((counts) => Math.max(...counts) >= 2)).toBe(true);
    // The requests went to both workers, and the admin API counts them all.
    const rows = await backendRows(cli);
    expect(rows.reduce((s, b) => s + b.requests, 0)).toBe(ROUNDS * 4);
    for (const pid of cli.pids) expect(rows.reduce((s, b) => s + (b.workers?.find((w) => w.pid === pid)?.requests ?? 0), 0)).toBeGreaterThan(0);
    expect(sawViews).toBe(true);
  });

  it('/metrics sums the workers and passes promtool', async () => {
    const text = (await http(`${cli.adminUrl}/metrics`)).text;
    const answered = [...text.matchAll(/^dispatchlab_requests_total\{[^}]*code="200"\} (\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
    expect(answered).toBe(ROUNDS * 4);
    // The scenario labels least-loaded "ll"; every worker has it, so the aggregate is 1, not 2.
    expect(text).toMatch(/^dispatchlab_policy_info\{policy="ll"\} 1$/m);
    expect(text).toMatch(/^dispatchlab_worker_restarts_total 0$/m);
    const bin = execFileSync('bash', ['scripts/ensure-promtool.sh'], { encoding: 'utf8' }).trim();
    expect(execFileSync(`${bin}/promtool`, ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('');
  });

  it('an admin change reaches every worker, and a worker that dies is restarted with the changes replayed', { timeout: 120_000 }, async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    expect((await http(`${cli.adminUrl}/backends/b1/weight`, { method: 'PUT', headers: auth, body: Buffer.from('{"weight":3}') })).status).toBe(200);
    expect((await http(`${cli.adminUrl}/policy`, { method: 'PUT', headers: auth, body: Buffer.from('{"name":"round-robin"}') })).status).toBe(200);
    const weights = async (): Promise<number[] | undefined> => (await backendRows(cli)).find((b) => b.id === 'b1')?.workers?.map((w) => w.weight);
    expect(await weights()).toEqual([3, 3]);

    const [victim, survivor] = cli.pids;
    process.kill(victim, 'SIGKILL');
    // Until the primary has seen the death, a read may fail (503): it names the worker that went.
    await waitFor('a restarted worker', async () => {
      const res = await getJson<{ backends?: BackendRow[] }>(`${cli.adminUrl}/backends`);
      const pids = res.json.backends?.[0].workers?.map((w) => w.pid) ?? [];
      return res.status === 200 && pids.length === 2 && !pids.includes(victim);
    });
    expect(cli.stderr()).toMatch(new RegExp(`worker 1 \\(pid ${victim}\\) died \\(SIGKILL\\); starting another`));
    expect(await weights()).toEqual([3, 3]);
    expect((await getJson<{ name: string }>(`${cli.adminUrl}/policy`)).json.name).toBe('round-robin');
    expect((await http(`${cli.adminUrl}/metrics`)).text).toMatch(/^dispatchlab_worker_restarts_total 1$/m);
    expect(alive(survivor)).toBe(true);
  });

  it('a session pinned by one worker stays pinned whichever worker its next connections reach (one cookie key)', { timeout: 120_000 }, async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    expect((await http(`${cli.adminUrl}/policy`, { method: 'PUT', headers: auth, body: Buffer.from('{"name":"session-sticky"}') })).status).toBe(200);
    /** One request on a connection of its own; the backend that got it, and the cookie it came back with. */
    const once = async (cookie?: string): Promise<{ id: string; cookie?: string }> => {
      const answer = http(`${cli.url}/`, cookie === undefined ? {} : { headers: { cookie } });
      await waitFor('a request held', () => held.length === 1);
      const [h] = held.splice(0);
      h.res.end('ok');
      const setCookie = (await answer).headers['set-cookie']?.find((c) => c.startsWith('dl_session='))?.split(';')[0];
      return { id: h.id, cookie: setCookie };
    };
    const first = await once();
    expect(first.cookie).toBeDefined();
    // Enough connections that both workers get some (the primary hands them out in turn).
    for (let i = 0; i < 8; i++) expect((await once(first.cookie)).id).toBe(first.id);
  });

  it('SIGTERM to the primary drains every worker: a request in flight is answered, then all exit 0', { timeout: 120_000 }, async () => {
    const workers = (await backendRows(cli))[0].workers?.map((w) => w.pid) ?? [];
    expect(workers).toHaveLength(2);
    const answer = http(`${cli.url}/`);
    await waitFor('a request held', () => held.length === 1);
    cli.child.kill('SIGTERM');
    await waitFor('the shutdown to start', () => /SIGTERM, shutting down/.test(cli.stderr()));
    for (const h of held.splice(0)) h.res.end('drained');
    expect((await answer).text).toBe('drained');
    expect(await cli.exited).toBe(0);
    for (const pid of workers) await waitFor(`worker ${pid} to exit`, () => !alive(pid));
  });
});

describe('up --workers 2', () => {
  it('runs the hosts in the primary and the dispatcher in two workers; the dashboard shows the fleet and every worker', { timeout: 120_000 }, async () => {
    const cli = await startCommand(['up', '--scenario', 'test/fixtures/dispatcher-two-replicas.yaml', '--port', '0', '--admin-port', '0', '--workers', '2'], /^replica\s+r2 /m);
    expect(cli.pids).toHaveLength(2);
    for (let i = 0; i < 6; i++) expect((await http(`${cli.url}/`)).status).toBe(200);
    const frame = (await getJson<{ backends: BackendRow[]; fleet: { hosts: Array<{ name: string }> }; policy: { label: string } }>(`${cli.adminUrl}/dashboard.json`)).json;
    expect(frame.fleet.hosts.map((h) => h.name)).toEqual(['h1', 'h2']);
    expect(frame.backends.map((b) => b.id)).toEqual(['r1', 'r2']);
    expect(frame.backends.reduce((s, b) => s + b.requests, 0)).toBe(6);
    expect(frame.backends[0].workers?.map((w) => w.pid).sort()).toEqual([...cli.pids].sort());
    expect(await stop(cli)).toBe(0);
    for (const pid of cli.pids) await waitFor(`worker ${pid} to exit`, () => !alive(pid));
  });
});
