/** The IPC protocol between the chaos run (loadtest/chaos.ts) and its slow-upload child process. */

export interface SlowUploadPlan {
  /** The dispatcher's proxy port on 127.0.0.1. */
  readonly port: number;
  /** How many uploads to keep open: even slots declare `smallBytes`, odd ones `largeBytes`. */
  readonly slots: number;
  readonly smallBytes: number;
  readonly largeBytes: number;
  /** Each open upload sends one body byte this often. */
  readonly byteEveryMs: number;
  /** Opens (the first ones and each re-open) at least this far apart (slow-upload-pacing.ts); 0: all at once. */
  readonly openIntervalMs: number;
  /** The child stops and exits by itself this long after 'start', if the parent has not stopped it. */
  readonly maxRunMs: number;
}

/** How the uploads ended, and how many were open. */
export interface SlowUploadReport {
  readonly opened: number;
  readonly answered408: number;
  readonly answeredOther: number;
  readonly closedUnanswered: number;
  readonly stillOpen: number;
  /** The time-weighted mean number open, from 'start' to 'stop'. */
  readonly averageOpen: number;
}

export type ToSlowUploads = { readonly type: 'start'; readonly plan: SlowUploadPlan } | { readonly type: 'stop' };

export type FromSlowUploads =
  /** Loaded and listening for 'start' (the fork's start-up cost is paid before the measurement). */
  | { readonly type: 'ready' }
  /** Answer to 'stop' (or the child's own maxRunMs): every upload is closed, the child exits next. */
  | { readonly type: 'done'; readonly report: SlowUploadReport }
  | { readonly type: 'error'; readonly message: string };
