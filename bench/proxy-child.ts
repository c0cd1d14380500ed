import { createServer } from 'node:http';

/**
 * The backends of `npm run bench:proxy` when nginx cannot be had: one process answering
 * `200 "ok\n"` on every port given, kept alive as long as nginx's (65 s), so every proxy meets the
 * same small, fast backends. Prints `ready` once all ports listen. Usage: proxy-child.ts PORT...
 */

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0)) {
  process.stderr.write('usage: proxy-child.ts PORT...\n');
  process.exit(2);
}
const body = Buffer.from('ok\n');
await Promise.all(
  ports.map(
    (port) =>
      new Promise<void>((resolve, reject) => {
        const server = createServer((_req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
          res.end(body);
        });
        server.keepAliveTimeout = 65_000;
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      }),
  ),
);
process.stdout.write('ready\n');
