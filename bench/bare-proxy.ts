import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { DEFAULT_LISTEN_BACKLOG } from '../core/limits.js';

/**
 * A minimal Node proxy from the usual parts, for `npm run bench:proxy`: node:http in front, one undici Pool per
 * backend, round-robin, each answer written straight into the client's response (the handler
 * below, the fastest way measured in notes/proxy-throughput-here.md). No balancer, no metrics, no
 * hop-by-hop filtering beyond what undici refuses: only bodyless GETs, as the bench sends. It
 * listens with the dispatcher's default backlog, so a burst of connections meets the same queue.
 * Prints its URL once it listens. Usage: bare-proxy.ts BACKEND_URL...
 */

const pools = process.argv.slice(2).map((url) => new Pool(url, { connections: null, headersTimeout: 0, bodyTimeout: 0 }));
if (pools.length === 0) throw new Error('usage: bare-proxy.ts BACKEND_URL...');
let next = 0;

const server = createServer((req, res) => {
  const pool = pools[next++ % pools.length];
  pool.dispatch({ path: req.url ?? '/', method: 'GET', headers: req.headers }, {
    onRequestStart() {},
    onResponseStart(_c: Dispatcher.DispatchController, status: number, h: IncomingHttpHeaders) {
      res.writeHead(status, h);
    },
    onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer) {
      res.write(chunk);
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError() {
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    },
  });
});
server.keepAliveTimeout = 65_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: DEFAULT_LISTEN_BACKLOG }, () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`bare proxy http://127.0.0.1:${port}\n`);
});
