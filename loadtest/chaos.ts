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
 */

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'scenarios/chaos.yaml' },
    duration: { type: 'string', default: '30' },
    rate: { type: 'string', default: '200' },
    every: { type: 'string', default: '5' },
    down: { type: 'string', default: '2.5' },
  },
});
const durationMs = Math.min(300, Number(values.duration)) * 1000;
const rateRps = Math.min(2000, Number(values.rate));
const everyMs = Number(values.every) * 1000;
const downMs = Number(values.down) * 1000;
const scenario = loadScenario(values.scenario);

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
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'host', '--scenario', values.scenario, '--host', host.name, '--base-port', String(host.port)], {
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
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
let outstanding = 0;
function send(): void {
  counts.sent++;
  outstanding++;
  const healthyAtSend = anyHealthy();
  const done = (status: number | undefined): void => {
    outstanding--;
    if (status !== undefined && status < 300) counts.ok++;
    else {
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
    ` (${[...lostByCode].map(([code, n]) => `${code}: ${n}`).join(', ') || 'none'})  unanswered ${outstanding}\n`,
);
process.exit(0);
