import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { loadScenario } from '../core/scenario.js';
import { startDispatcher } from '../dispatcher/dispatcher-service.js';

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
 */

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'faults' },
    scenario: { type: 'string' },
    duration: { type: 'string', default: '30' },
    rate: { type: 'string' },
    every: { type: 'string', default: '5' },
    down: { type: 'string', default: '2.5' },
  },
});
if (values.mode !== 'faults' && values.mode !== 'overload') throw new Error(`--mode is faults or overload, got ${values.mode}`);
const overload = values.mode === 'overload';
const scenarioFile = values.scenario ?? (overload ? 'scenarios/overload.yaml' : 'scenarios/chaos.yaml');
const scenario = loadScenario(scenarioFile);
const arrival = scenario.workload.arrival;
const durationMs = Math.min(300, Number(values.duration)) * 1000;
const rateRps = Math.min(2000, Number(values.rate ?? (overload && 'rateRps' in arrival ? arrival.rateRps : 200)));
const everyMs = Number(values.every) * 1000;
const downMs = Number(values.down) * 1000;

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

const hosts: Host[] = await Promise.all(scenario.hosts.map(async (h) => ({ name: h.name, port: await freePort(), state: 'up' as const })));
await Promise.all(hosts.map(spawnHost));
const dispatcher = await startDispatcher({
  settings: scenario.dispatcher,
  backends: hosts.map((h, i) => ({ id: scenario.vms[i].name, url: `http://127.0.0.1:${h.port}` })),
  policy: scenario.policies[0],
  seed: scenario.seed,
});
const anyHealthy = (): boolean => hosts.some((h) => h.state === 'up');

const counts = { sent: 0, ok: 0, server5xx: 0, failed: 0, lostWhileHealthy: 0 };
/** Lost-while-healthy requests by status (or "none" for no answer): which mechanism let them through. */
const lostByCode = new Map<string, number>();
/** Answer times (ms) of the 2xx and of the 503s, and how many 503s said when to come back. */
const okMs: number[] = [];
const refusedMs: number[] = [];
let refusedWithRetryAfter = 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
let outstanding = 0;
function send(): void {
  counts.sent++;
  outstanding++;
  const healthyAtSend = anyHealthy();
  const sentAt = performance.now();
  const done = (status: number | undefined): void => {
    outstanding--;
    if (status === 503) refusedMs.push(performance.now() - sentAt);
    if (status !== undefined && status < 300) {
      counts.ok++;
      okMs.push(performance.now() - sentAt);
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
  const req = http.get(`${dispatcher.url}/`, { agent, timeout: 10_000 }, (res) => {
    if (res.statusCode === 503 && res.headers['retry-after'] !== undefined) refusedWithRetryAfter++;
    res.resume();
    res.on('end', () => done(res.statusCode));
  });
  req.on('timeout', () => req.destroy());
  req.on('error', () => done(undefined));
}

const startedAt = performance.now();
const load = setInterval(() => {
  const due = Math.floor(((performance.now() - startedAt) * rateRps) / 1000) - counts.sent;
  for (let i = 0; i < due; i++) send();
}, 5);
let turn = 0;
const chaos = setInterval(() => {
  if (overload) return;
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

await new Promise((resolve) => setTimeout(resolve, durationMs));
clearInterval(load);
clearInterval(chaos);
const drainUntil = performance.now() + 12_000;
while (outstanding > 0 && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 50));
for (const h of hosts) {
  h.child?.kill('SIGCONT');
  h.child?.kill('SIGKILL');
}
await dispatcher.close(0);
agent.destroy();
process.stdout.write(
  `sent ${counts.sent}  2xx ${counts.ok}  5xx ${counts.server5xx}  failed ${counts.failed}  lost-while-healthy ${counts.lostWhileHealthy}` +
    ` (${[...lostByCode].map(([code, n]) => `${code}: ${n}`).join(', ') || 'none'})  unanswered ${outstanding}\n` +
    `2xx ms: ${quantiles(okMs)}\n503 ms: ${quantiles(refusedMs)}  (${refusedWithRetryAfter} of ${refusedMs.length} with Retry-After)\n`,
);
process.exit(0);
