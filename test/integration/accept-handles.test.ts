import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ScenarioSchema } from '../../core/scenario.js';
import { addAcceptHandles } from '../../dispatcher/accept-handles.js';
import { startDispatcher } from '../../dispatcher/dispatcher-service.js';
import { startTestServer } from '../helpers/test-server.js';

// The proxy port's added accept handles (dispatcher/accept-handles.ts): they accept connections
// for the server, which counts them as its own, and they stop with it.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listening(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  return (server.address() as net.AddressInfo).port;
}

function busyWaitMs(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/**
 * Open `count` connections while the event loop is held, so the kernel completes and queues them
 * all before the server's next poll; resolves with how many the server accepted in that one poll
 * (before the next check phase), and the clients.
 */
async function burst(server: net.Server, port: number, count: number): Promise<{ inOnePoll: number; clients: net.Socket[] }> {
  let accepted = 0;
  const onConnection = (): void => {
    accepted++;
  };
  server.on('connection', onConnection);
  const { inOnePoll, clients } = await new Promise<{ inOnePoll: number; clients: net.Socket[] }>((resolve) => {
    setImmediate(() => {
      const clients = Array.from({ length: count }, () => net.connect(port, '127.0.0.1').on('error', () => undefined));
      // The connects are issued in the ticks queued just now; hold the loop after them.
      process.nextTick(() => busyWaitMs(150));
      // Queued from a check phase: runs in the next turn's, right after the poll that sees the queue.
      setImmediate(() => resolve({ inOnePoll: accepted, clients }));
    });
  });
  await waitFor(() => accepted === count);
  server.off('connection', onConnection);
  return { inOnePoll, clients };
}

async function waitFor(condition: () => boolean, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('added accept handles', () => {
  it('accept more than one queued connection per turn of the loop, all of them for the server', async () => {
    const server = net.createServer((socket) => socket.end('hello'));
    const port = await listening(server);
    const handles = addAcceptHandles(server, 8, undefined, (m) => expect.fail(m));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())), () => handles.close());
    expect(await handles.added).toBe(8);

    const { inOnePoll, clients } = await burst(server, port, 30);
    // One handle accepts one connection per turn (Node 20, libuv >= 1.45); nine accept up to nine.
    expect(inOnePoll).toBeGreaterThanOrEqual(2);
    const answers = await Promise.all(clients.map((c) => new Promise<string>((resolve) => {
      let text = '';
      c.on('data', (d: Buffer) => (text += d.toString()));
      c.on('close', () => resolve(text));
    })));
    expect(answers).toEqual(Array(30).fill('hello'));
  });

  it("count their connections as the server's own: close() waits for them, maxConnections covers them", async () => {
    const server = net.createServer();
    const port = await listening(server);
    const handles = addAcceptHandles(server, 8, undefined, (m) => expect.fail(m));
    cleanups.push(() => handles.close());
    expect(await handles.added).toBe(8);

    const { clients } = await burst(server, port, 20);
    let closed = false;
    handles.close();
    server.close(() => (closed = true));
    // Every connection is still open, on whichever handle it came in: the close waits for them all.
    for (const c of clients.slice(0, 19)) c.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    clients[19].destroy();
    await waitFor(() => closed);
    // The duplicates closed with the handles: nothing listens on the port any more.
    expect(await refused(port)).toBe(true);

    const limited = net.createServer();
    limited.maxConnections = 5;
    const limitedPort = await listening(limited);
    const limitedHandles = addAcceptHandles(limited, 8, undefined, (m) => expect.fail(m));
    cleanups.push(() => new Promise<void>((resolve) => limited.close(() => resolve())), () => limitedHandles.close());
    expect(await limitedHandles.added).toBe(8);
    const open = new Set<net.Socket>();
    limited.on('connection', (socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    const more = Array.from({ length: 12 }, () => net.connect(limitedPort, '127.0.0.1').on('error', () => undefined));
    const ends = more.map((c) => new Promise<void>((resolve) => c.on('close', () => resolve())));
    // The seven past the limit are closed by the server, whichever handle took them.
    await waitFor(() => more.filter((c) => c.destroyed).length === 7);
    expect(open.size).toBe(5);
    for (const c of more) c.destroy();
    await Promise.all(ends);
  });

  it("give the dispatcher's proxy port its handles by default, and stop with it", async () => {
    const backend = await startTestServer((_req, res) => res.end('ok'));
    cleanups.push(() => backend.close());
    const settings = ScenarioSchema.shape.dispatcher.parse({});
    expect(settings.client.acceptHandles).toBeGreaterThan(0);
    const dispatcher = await startDispatcher({ settings, backends: [{ id: 'a', url: backend.url }], policy: 'round-robin', healthChecks: false });
    const port = Number(new URL(dispatcher.url).port);

    expect(await dispatcher.acceptHandles).toBe(settings.client.acceptHandles);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => fetch(`${dispatcher.url}/`, { headers: { connection: 'close' } }).then((r) => r.text())),
    );
    expect(answers).toEqual(Array(50).fill('ok'));
    await dispatcher.close(0);
    expect(await refused(port)).toBe(true);

    // Closed before the child has sent the copies back: it is ended, and whatever copy arrives is closed.
    const early = await startDispatcher({ settings, backends: [{ id: 'a', url: backend.url }], policy: 'round-robin', healthChecks: false });
    await early.close(0);
    expect(await refused(Number(new URL(early.url).port))).toBe(true);
    expect(await early.acceptHandles).toBe(0);
  });
});
