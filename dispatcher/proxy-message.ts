import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * What the proxied hot path (http-dispatcher.ts, request-info.ts, forward-headers.ts,
 * request-guard.ts, lingerOn, the engines' `forward`) uses of a request and its response: node:http's
 * IncomingMessage and ServerResponse satisfy these structurally, and so do the fast front's own
 * objects (fast-front.ts), which serve bodyless requests without node:http's streams.
 */

export interface ProxyRequest {
  readonly method?: string;
  url?: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  /** The whole request (its body included) has been read. */
  readonly complete: boolean;
  readonly readableFlowing: boolean | null;
  readonly readableAborted: boolean;
  readonly socket: { readonly remoteAddress?: string; destroy(): void };
  unpipe(): unknown;
  resume(): unknown;
  once(event: 'end', fn: () => void): unknown;
}

export interface ProxyResponse {
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  writeHead(status: number, statusMessage: string, headers?: OutgoingHttpHeaders): unknown;
  /** False when the client's connection is backed up: wait for 'drain'. */
  write(chunk: Buffer): boolean;
  end(data?: string | Buffer): unknown;
  destroy(): unknown;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  /** Every byte of the answer was handed to the operating system. */
  readonly writableFinished: boolean;
  readonly destroyed: boolean;
  /** Whether the connection is kept after this answer; false makes it the connection's last. */
  shouldKeepAlive: boolean;
  /** 'close', once per response: the answer was flushed, or the connection closed first. */
  on(event: 'close', fn: () => void): unknown;
  once(event: 'close' | 'drain', fn: () => void): unknown;
  off(event: 'drain', fn: () => void): unknown;
}
