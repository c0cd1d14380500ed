import net from 'node:net';
import { OpenCount, OpenPacer } from './slow-upload-pacing.js';
import type { FromSlowUploads, SlowUploadPlan, SlowUploadReport, ToSlowUploads } from './slow-uploads-messages.js';

/**
 * Entry of the chaos run's slow-upload child process (forked by slow-uploads.ts): it keeps
 * `plan.slots` connections POSTing a declared body one byte every `plan.byteEveryMs` to the
 * dispatcher, re-opening each one the dispatcher ends, paced (slow-upload-pacing.ts). In its own
 * process its timers and a thousand sockets never share an event loop with the dispatcher the
 * run measures. It talks to the parent only over IPC, and exits after 'stop', after
 * `plan.maxRunMs`, or when the parent goes away.
 */

function send(msg: FromSlowUploads): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(msg, undefined, {}, () => resolve());
  });
}

class SlowUploads {
  private readonly sockets = new Set<net.Socket>();
  /** Re-opens waiting for their paced turn. */
  private readonly waiting = new Set<NodeJS.Timeout>();
  private readonly ends = { answered408: 0, answeredOther: 0, closedUnanswered: 0 };
  private readonly pacer: OpenPacer;
  private readonly open = new OpenCount();
  private opened = 0;
  private stopped = false;

  constructor(private readonly plan: SlowUploadPlan) {
    this.pacer = new OpenPacer(plan.openIntervalMs);
  }

  start(): void {
    this.open.change(performance.now(), 0);
    for (let slot = 0; slot < this.plan.slots; slot++) this.openPaced(slot);
  }

  /** Close every upload; what they did until now. */
  stop(): SlowUploadReport {
    this.stopped = true;
    for (const timer of this.waiting) clearTimeout(timer);
    const report = { opened: this.opened, ...this.ends, stillOpen: this.sockets.size, averageOpen: this.open.average(performance.now()) };
    for (const socket of this.sockets) socket.destroy();
    return report;
  }

  private openPaced(slot: number): void {
    const nowMs = performance.now();
    const timer = setTimeout(() => {
      this.waiting.delete(timer);
      this.openNow(slot);
    }, this.pacer.next(nowMs) - nowMs);
    this.waiting.add(timer);
  }

  private openNow(slot: number): void {
    const { port, smallBytes, largeBytes, byteEveryMs } = this.plan;
    this.opened++;
    let answer = '';
    let trickle: NodeJS.Timeout | undefined;
    // Each upload sends its bytes on its own timer from its own open, so the writes are as spread as the opens.
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${slot % 2 === 0 ? smallBytes : largeBytes}\r\n\r\n`);
      trickle = setInterval(() => socket.writable && socket.write('x'), byteEveryMs);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(trickle);
      this.sockets.delete(socket);
      if (this.stopped) return;
      this.open.change(performance.now(), -1);
      if (answer.startsWith('HTTP/1.1 408')) this.ends.answered408++;
      else if (answer !== '') this.ends.answeredOther++;
      else this.ends.closedUnanswered++;
      this.openPaced(slot);
    });
    this.sockets.add(socket);
    this.open.change(performance.now(), 1);
  }
}

let uploads: SlowUploads | undefined;
let finishing = false;

async function finish(): Promise<void> {
  if (finishing) return;
  finishing = true;
  const report = uploads?.stop() ?? { opened: 0, answered408: 0, answeredOther: 0, closedUnanswered: 0, stillOpen: 0, averageOpen: 0 };
  await send({ type: 'done', report });
  process.exit(0);
}

process.on('message', (msg: ToSlowUploads) => {
  if (msg.type === 'stop') {
    void finish();
    return;
  }
  try {
    uploads = new SlowUploads(msg.plan);
    uploads.start();
    setTimeout(() => void finish(), msg.plan.maxRunMs);
  } catch (err) {
    void send({ type: 'error', message: err instanceof Error ? err.message : String(err) }).then(() => process.exit(1));
  }
});
// The parent died or closed the channel: nothing left to report to.
process.on('disconnect', () => process.exit(0));
void send({ type: 'ready' });
