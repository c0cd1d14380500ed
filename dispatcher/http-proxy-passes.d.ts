/** http-proxy 1.18.1's response passes, which @types/http-proxy does not describe (proxy-engine.ts runs them itself). */
declare module 'http-proxy/lib/http-proxy/passes/web-outgoing.js' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  /** Copies one part of the backend's response head onto `res`; true stops the passes after it. */
  type OutgoingPass = (req: IncomingMessage, res: ServerResponse, proxyRes: IncomingMessage, options: object) => boolean | undefined;
  const passes: Readonly<Record<string, OutgoingPass>>;
  export default passes;
}
