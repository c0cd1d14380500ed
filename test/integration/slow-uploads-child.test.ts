import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { forkSlowUploads } from '../../loadtest/slow-uploads.js';
import { until } from './dispatcher-helpers.js';

// The chaos run's slow-upload child (loadtest/slow-uploads-process.ts) over its IPC protocol,
// against a stand-in dispatcher on port 0 that ends the first uploads of each size in each way
// the child tells apart, and keeps the rest open: the child re-opens what was ended, keeps
// `slots` open, sends body bytes, and on 'stop' reports how they ended and exits.

const SMALL_BYTES = 100;
const LARGE_BYTES = 5000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

interface Accepted {
  readonly declaredBytes: number;
  bodyBytes: number;
  closed: boolean;
}

/** Large uploads 1 and 2: 408. Small 1: 413; small 2: closed unanswered. Every later one: kept open. */
async function standInDispatcher(): Promise<{ port: number; accepted: Accepted[] }> {
  const accepted: Accepted[] = [];
  const seen = { [SMALL_BYTES]: 0, [LARGE_BYTES]: 0 };
  const server = net.createServer((socket) => {
    let head = '';
    let upload: Accepted | undefined;
    socket.setEncoding('latin1');
    socket.on('error', () => undefined);
    socket.on('close', () => upload && (upload.closed = true));
    socket.on('data', (chunk: string) => {
      if (upload) {
        upload.bodyBytes += chunk.length;
        return;
      }
      head += chunk;
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const declaredBytes = Number(/content-length: (\d+)/i.exec(head)?.[1]);
      upload = { declaredBytes, bodyBytes: head.length - end - 4, closed: false };
      accepted.push(upload);
      const nth = ++seen[declaredBytes as keyof typeof seen];
      if (declaredBytes === LARGE_BYTES && nth <= 2) socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else if (declaredBytes === SMALL_BYTES && nth === 1) socket.end('HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else if (declaredBytes === SMALL_BYTES && nth === 2) socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, accepted };
}

describe('the slow-upload child process', () => {
  it('keeps its slots open, re-opening what the dispatcher ends, and reports how they ended', { timeout: 60_000 }, async () => {
    const { port, accepted } = await standInDispatcher();
    const child = await forkSlowUploads();
    cleanups.push(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone, as it should be.
      }
    });
    child.start({ port, slots: 4, smallBytes: SMALL_BYTES, largeBytes: LARGE_BYTES, byteEveryMs: 20, openIntervalMs: 5, maxRunMs: 50_000 });

    const kept = (): Accepted[] => accepted.filter((a) => !a.closed);
    // Four ended (two 408, one 413, one unanswered) and each re-opened: four open, each sending its body.
    await until(() => accepted.length === 8 && kept().length === 4 && kept().every((a) => a.bodyBytes > 0), 30_000);
    expect(kept().map((a) => a.declaredBytes).sort()).toEqual([SMALL_BYTES, SMALL_BYTES, LARGE_BYTES, LARGE_BYTES]);

    const report = await child.stop(30_000);
    expect(report).toMatchObject({ opened: 8, answered408: 2, answeredOther: 1, closedUnanswered: 1, stillOpen: 4 });
    expect(report.averageOpen).toBeGreaterThan(0);
    expect(report.averageOpen).toBeLessThanOrEqual(4);
    // 'stop' closed every upload, and the child is gone.
    await until(() => accepted.every((a) => a.closed), 10_000);
    await until(() => {
      try {
        process.kill(child.pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
  });
});
