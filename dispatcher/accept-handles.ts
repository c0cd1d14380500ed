import { spawn, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import net from 'node:net';

/**
 * More accept handles on a listening socket, so that a busy process takes a burst of new
 * connections in a few turns of its event loop instead of one connection per turn.
 *
 * Why: since libuv 1.45 (Node 20; libuv PR #3696, found as Node 20's regression against 18 in
 * nodejs/performance#95) a listening handle accepts one connection per turn of the event loop. A
 * saturated proxy's turn takes tens to hundreds of milliseconds (up to 1,024 socket events), so a
 * burst of 1,000 connections waits seconds in the kernel's accept queue with their first requests
 * already sent, and a load generator counts them as timeouts (BENCHMARKS.md, "the 1,000-connection
 * timeouts"). Every handle on the socket accepts one connection per turn: `count` more handles
 * accept `count + 1` per turn.
 *
 * How: each handle needs a descriptor of its own, and Node has no dup(). A handle sent over an IPC
 * channel arrives as a duplicate descriptor (SCM_RIGHTS), so a child process that lives for the
 * round trip sends the listening handle back `count` times. Each copy is listened on with the
 * same backlog (a listen on a listening socket only sets its backlog) by a net.Server that hands
 * its connections to `server`. The clean form, several SO_REUSEPORT sockets in one process
 * (`listen({ reusePort })`), arrives in Node 22.12; Node 20 has nothing else. Hand-written for that
 * reason: no library does it.
 *
 * Not in a node:cluster worker, whose listening handle is the primary's: there the primary, idle
 * but for accepting, hands the connections over.
 */

export interface AcceptHandles {
  /** Resolves with how many handles were added (0 when none could be), once they accept. */
  readonly added: Promise<number>;
  /**
   * Stop accepting on the added handles. Resolves once no descriptor of the socket is left but
   * the server's own: the child that duplicates them is gone (ended, if it was still at work), and
   * every copy, those still on their way included, is closed.
   */
  close(): Promise<void>;
}

/** The child's whole program: send every handle back, then hang up after the last. */
const ECHO = 'process.on("message",(m,h)=>process.send(m,h,()=>{if(m.last)process.disconnect()}))';

/** How long the round trip may take before the server goes on with its one handle. */
const ROUND_TRIP_LIMIT_MS = 10_000;

/** Node's own bookkeeping of a server's connections, which `close()` waits on and `maxConnections` reads. */
type CountingServer = net.Server & { _connections: number };
type ServedSocket = net.Socket & { server: net.Server; _server: net.Server };

/**
 * Add `count` accept handles to the listening `server`, in the background: the server accepts on
 * its own handle meanwhile (the round trip takes a child's start-up, ~0.2 s), so nobody waits on
 * it. A failure (the child cannot start or answer) is reported through `warn` and leaves the
 * server as it was.
 */
export function addAcceptHandles(server: net.Server, count: number, backlog: number | undefined, warn: (message: string) => void): AcceptHandles {
  const handle = (server as unknown as { _handle?: object | null })._handle;
  if (count <= 0 || cluster.isWorker || handle == null) return { added: Promise.resolve(0), close: () => Promise.resolve() };
  const extras: net.Server[] = [];
  let closed = false;
  const child = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const gone = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  const added = duplicates(child, handle, count, () => closed).then(
    (copies) => {
      if (closed) {
        copies.forEach(closeCopy);
        return 0;
      }
      for (const copy of copies) {
        const extra = net.createServer({ noDelay: true }, (socket) => adopt(server as CountingServer, socket as ServedSocket));
        extra.on('error', () => undefined);
        extras.push(extra.listen(copy, backlog));
      }
      return extras.length;
    },
    (err: Error) => {
      if (!closed) warn(`could not add accept handles to the proxy port (${err.message}); it accepts one connection per event-loop turn`);
      return 0;
    },
  );
  return {
    added,
    async close() {
      closed = true;
      for (const extra of extras) extra.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await gone;
      await added;
    },
  };
}

function closeCopy(copy: object): void {
  (copy as { close(): void }).close();
}

/**
 * Serve a connection accepted on a copy as `server`'s own, as Node's accept does: refused past
 * `maxConnections`, counted so that `server.close()` waits for it, uncounted when it closes (Node's
 * socket decrements its `_server`'s count).
 */
function adopt(server: CountingServer, socket: ServedSocket): void {
  if (server.maxConnections && server._connections >= server.maxConnections) {
    socket.destroy();
    return;
  }
  server._connections++;
  socket.server = server;
  socket._server = server;
  server.emit('connection', socket);
}

/**
 * `count` duplicates of `handle`, sent back by `child`. A copy that arrives once the round trip has
 * failed, or once `closed()` says nobody wants it, is closed at once.
 */
function duplicates(child: ChildProcess, handle: object, count: number, closed: () => boolean): Promise<object[]> {
  return new Promise((resolve, reject) => {
    const copies: object[] = [];
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      copies.forEach(closeCopy);
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`no answer within ${ROUND_TRIP_LIMIT_MS} ms`), ROUND_TRIP_LIMIT_MS);
    child.on('error', (err) => fail(err.message));
    child.on('exit', (code, signal) => fail(`the helper process ended (${signal ?? code}) after ${copies.length} of ${count}`));
    child.on('message', (_message, copy) => {
      if (copy === undefined) return;
      if (settled || closed()) {
        closeCopy(copy);
        if (!settled) fail('closed');
        return;
      }
      copies.push(copy);
      if (copies.length < count) return;
      settled = true;
      clearTimeout(timer);
      resolve(copies);
    });
    for (let i = 0; i < count; i++) child.send({ last: i === count - 1 }, handle as net.Server);
  });
}
