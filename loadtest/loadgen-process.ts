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

/** The parent's answer the generator waits for ('start' after 'ready', 'measure' after 'warm'). */
let answered: (() => void) | undefined;

/** Tell the parent `msg` and wait for its answer: the generator goes on only when the parent has done its part. */
async function askParent(msg: FromChild): Promise<void> {
  const go = new Promise<void>((resolve) => (answered = resolve));
  await send(msg);
  await go;
}

async function run(plan: LoadPlan): Promise<LoadResult> {
  const hooks = {
    onTick: (tick: LoadTick) => void send({ type: 'tick', tick }),
    beforeWarmup: () => askParent({ type: 'ready' }),
    beforeMeasure: () => askParent({ type: 'warm' }),
  };
  return plan.kind === 'open' ? runOpenLoop(plan, hooks) : runClosedLoop(plan, hooks);
}

process.on('message', (msg: ToChild) => {
  if (msg.type === 'start' || msg.type === 'measure') {
    answered?.();
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
