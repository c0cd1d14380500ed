import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A node:http server for a test: 127.0.0.1, an ephemeral port; close() also drops kept-alive sockets. */
export interface TestServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startTestServer(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer(handler);
  // Longer than any client pool's idle time, so a reused socket is never closed under it.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
