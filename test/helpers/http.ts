import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** A plain node:http client for the backend tests: no pooling, so nothing outlives a test. */

export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export interface HttpOptions {
  readonly method?: string;
  readonly body?: Buffer | readonly Buffer[];
  readonly headers?: Record<string, string | number>;
}

/** One request; `body` as an array is sent chunk by chunk without a Content-Length (chunked). */
export function http(url: string, opts: HttpOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: { connection: 'close', ...opts.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // A server that refuses a body may close while we still write; the response, if any, wins.
    req.on('error', reject);
    if (opts.body === undefined) req.end();
    else if (Buffer.isBuffer(opts.body)) req.end(opts.body);
    else {
      for (const chunk of opts.body) req.write(chunk);
      req.end();
    }
  });
}

export async function getJson<T>(url: string, opts?: HttpOptions): Promise<{ status: number; headers: IncomingHttpHeaders; json: T }> {
  const res = await http(url, opts);
  return { status: res.status, headers: res.headers, json: JSON.parse(res.text) as T };
}
