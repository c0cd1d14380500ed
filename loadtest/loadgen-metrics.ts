import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The load generator's own Prometheus metrics (docs/metrics.md, "Load generator"), so what it sent
 * can be set beside what the dispatchers counted: a dispatcher rate far from the generator's means
 * requests are lost or counted twice between them. One Registry of its own.
 */
export class LoadgenMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'dispatchlab_loadgen_requests_total',
    help: 'Requests the load generator sent and saw end, by dispatcher URL and code (HTTP status, error, timeout; dropped: not sent, too many outstanding)',
    labelNames: ['dispatcher', 'code'],
    registers: [this.registry],
  });
  private readonly dispatchers = new Gauge({
    name: 'dispatchlab_loadgen_dispatchers',
    help: 'Dispatchers the load is spread over (arrival i goes to dispatcher i mod this)',
    registers: [this.registry],
  });

  requestEnded(code: string, dispatcher: string): void {
    this.requests.inc({ dispatcher, code });
  }

  spreadOver(count: number): void {
    this.dispatchers.set(count);
  }

  /** Serves GET /metrics on `port` (0: any free one); resolves once listening, with its URL. */
  async serve(port: number, bind: string): Promise<{ url: string; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      void this.registry.metrics().then((text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text));
    });
    server.listen(port, bind);
    await once(server, 'listening');
    const address = server.address() as AddressInfo;
    return {
      url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/metrics`,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }
}
