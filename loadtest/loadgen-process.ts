import { runClosedLoop } from './closed-loop.js';
import type { LoadPlan, LoadResult, LoadTick } from './load-plan.js';
import type { FromChild, ToChild } from './loadgen-messages.js';
import { runOpenLoop } from './open-loop.js';

/**
 * Entry of the load-generator child process (forked by loadgen.ts). It runs one load plan, so the
 * generator's timers and sockets never share an event loop with the dispatcher or the replicas it
 * measures, and theirs never delay its sends. It talks to the parent only over IPC, and exits when
 * done or when the parent goes away.
 */

function send(msg: FromChild): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(msg, undefined, {}, () => resolve());
  });
}

let startGo: (() => void) | undefined;
let measureGo: (() => void) | undefined;

async function run(plan: LoadPlan): Promise<LoadResult> {
  const hooks = {
    onTick: (tick: LoadTick) => void send({ type: 'tick', tick }),
    beforeWarmup: async () => {
      const go = new Promise<void>((resolve) => (startGo = resolve));
      await send({ type: 'ready' });
      await go;
    },
    beforeMeasure: async () => {
      const go = new Promise<void>((resolve) => (measureGo = resolve));
      await send({ type: 'warm' });
      await go;
    },
  };
  return plan.kind === 'open' ? runOpenLoop(plan, hooks) : runClosedLoop(plan, hooks);
}

process.on('message', (msg: ToChild) => {
  if (msg.type === 'start') {
    startGo?.();
    return;
  }
  if (msg.type === 'measure') {
    measureGo?.();
    return;
  }
  run(msg.plan).then(
    async (result) => {
      await send({ type: 'done', result });
      process.exit(0);
    },
    async (err: unknown) => {
      await send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    },
  );
});
// The parent died or closed the channel: nothing left to report to.
process.on('disconnect', () => process.exit(0));
