import { parseScenario } from '../core/scenario.js';
import { startHost } from '../backends/host-server.js';
import { startDispatcher } from '../dispatcher/dispatcher-service.js';

/**
 * One side of `npm run bench:proxy`, in its own process so the load generator never shares its
 * event loop: `replica` serves one trivial replica (cpuMs 0); `dispatcher <replicaUrl>` proxies
 * to it. Over IPC it reports its URL, then answers 'usage' with its CPU time and request count.
 */

const benchScenario = parseScenario({
  name: 'bench-proxy',
  hosts: [{ name: 'h1', cores: 2, memoryMb: 4096 }],
  vms: [{ name: 'r1', host: 'h1', vcpus: 2, memoryMb: 512 }],
  workload: { classes: [{ name: 'trivial', share: 1, route: '/', cpuMs: 0, service: 'deterministic' }] },
  policies: ['round-robin'],
});

export interface ChildUsage {
  readonly cpuMicros: number;
  readonly requests: number;
}

async function main(): Promise<void> {
  const [role, replicaUrl] = process.argv.slice(2);
  let url: string;
  let requests: () => number;
  if (role === 'replica') {
    const host = await startHost({ scenario: benchScenario, hostName: 'h1', port: 'auto' });
    url = host.replicas[0].url;
    requests = () => host.host.snapshot().vms[0].completed;
  } else if (role === 'dispatcher' && replicaUrl) {
    const d = await startDispatcher({ settings: benchScenario.dispatcher, backends: [{ id: 'r1', url: replicaUrl }], policy: 'round-robin', healthChecks: false });
    url = d.url;
    requests = () => d.balancer.stats().requests;
  } else {
    throw new Error('usage: proxy-child.ts replica | dispatcher <replicaUrl>');
  }
  process.on('message', (msg) => {
    if (msg !== 'usage') return;
    const cpu = process.cpuUsage();
    process.send!({ cpuMicros: cpu.user + cpu.system, requests: requests() } satisfies ChildUsage);
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ url });
}

void main();
