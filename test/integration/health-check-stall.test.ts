import { afterAll, describe, expect, it } from 'vitest';
import { ScenarioSchema } from '../../core/scenario.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { get, until } from './dispatcher-helpers.js';

/** Hold this process's event loop: what a CPU-starved dispatcher's loop does to its timers. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

const STALL_MS = 1000;

let servers: TestServer[] = [];
let dispatcher: RunningDispatcher | undefined;
afterAll(async () => {
  await dispatcher?.close(0);
  await Promise.all(servers.map((s) => s.close()));
});

describe('health checks on real sockets when the dispatcher itself stalls (issue 17)', () => {
  it('a probe timed out by our own stalled loop does not mark a healthy backend down; a hung backend still goes down', async () => {
    let steadyProbes = 0;
    const steady = await startTestServer((req, res) => {
      if (req.url === '/healthz' && ++steadyProbes === 2) busyWait(STALL_MS); // the loop stalls with this probe out
      res.end('ok');
    });
    const hung = await startTestServer((req, res) => {
      if (req.url !== '/healthz') res.end('ok');
    });
    servers = [steady, hung];
    // One failure marks down and it takes ten passes to come back, so a wrongly failed probe would
    // still show at the end. The timeout is well under the stall.
    const settings = ScenarioSchema.shape.dispatcher.parse({ healthCheck: { intervalMs: 400, timeoutMs: 300, rise: 10, fall: 1 } });
    dispatcher = await startDispatcher({
      settings,
      policy: 'round-robin',
      backends: [
        { id: 'steady', url: steady.url },
        { id: 'hung', url: hung.url },
      ],
    });
    const state = (id: string) => dispatcher!.balancer.backends().find((b) => b.id === id)!.state;
    await until(() => steadyProbes >= 4 && state('hung') === 'down');
    expect(state('steady')).toBe('healthy');
    expect((await get(`${dispatcher.url}/`)).status).toBe(200);
  });
});
