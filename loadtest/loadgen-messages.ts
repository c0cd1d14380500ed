import type { LoadPlan, LoadResult, LoadTick } from './load-plan.js';

/** The IPC protocol between `compare` and its load-generator child process. */

export type ToChild = { readonly type: 'run'; readonly plan: LoadPlan } | { readonly type: 'start' } | { readonly type: 'measure' };

export type FromChild =
  | { readonly type: 'tick'; readonly tick: LoadTick }
  /** About to send the run's first request: the parent starts its run, then answers 'start'. */
  | { readonly type: 'ready' }
  /** Warm-up over and nothing in flight: the parent scrapes, then answers 'measure'. */
  | { readonly type: 'warm' }
  | { readonly type: 'done'; readonly result: LoadResult }
  | { readonly type: 'error'; readonly message: string };
