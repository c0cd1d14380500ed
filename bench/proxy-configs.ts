/**
 * The configurations `npm run bench:proxy` writes into its temp dir: the nginx backend, the nginx
 * and HAProxy proxies set up the way their operators would for a fair keep-alive comparison
 * (/work/shared/notes: nginx needs HTTP/1.1 upstream, an empty Connection header and a raised
 * keepalive_requests; HAProxy `http-reuse always`; HAProxy's maxconn must stay under the open-file
 * limit), the dispatcher's scenario, and wrk's script for clients that keep their session cookie.
 * Pure text, unit-tested in test/bench/proxy-configs.test.ts.
 */

/** Connections every proxy must hold: the 1,000-connection run plus its upstream side and slack. */
export const MAX_CONNECTIONS = 4096;

const nginxPreamble = (dir: string, name: string): string[] => [
  'worker_processes 1;',
  'daemon off;',
  'master_process on;',
  `pid ${dir}/${name}.pid;`,
  `error_log ${dir}/${name}.err warn;`,
  `worker_rlimit_nofile ${MAX_CONNECTIONS * 2};`,
  `events { worker_connections ${MAX_CONNECTIONS * 2}; }`,
];

// Bodies are never buffered to disk here, but nginx opens its temp paths at start: keep them in the temp dir.
const nginxTempPaths = (dir: string, name: string): string[] =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${name}-${kind};`);

/** One nginx worker answering `200 "ok\n"` on every port: the backends every proxy balances over. */
export function nginxBackendConf(dir: string, ports: readonly number[]): string {
  return [
    ...nginxPreamble(dir, 'backend'),
    'http {',
    '  access_log off;',
    ...nginxTempPaths(dir, 'backend'),
    '  keepalive_requests 10000000;',
    '  keepalive_timeout 65s;',
    '  server {',
    ...ports.map((p) => `    listen 127.0.0.1:${p} backlog=${MAX_CONNECTIONS};`),
    '    location / { return 200 "ok\\n"; }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** nginx as the proxy under test: one worker, round-robin upstream with keep-alive connections. */
export function nginxProxyConf(dir: string, port: number, backendPorts: readonly number[]): string {
  return [
    ...nginxPreamble(dir, 'proxy'),
    'http {',
    '  access_log off;',
    ...nginxTempPaths(dir, 'proxy'),
    '  keepalive_requests 10000000;',
    '  keepalive_timeout 65s;',
    '  upstream backends {',
    ...backendPorts.map((p) => `    server 127.0.0.1:${p};`),
    '    keepalive 128;',
    '    keepalive_requests 10000000;',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${port} backlog=${MAX_CONNECTIONS};`,
    '    location / {',
    '      proxy_pass http://backends;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** HAProxy as the proxy under test: one thread, round-robin, server connections reused across clients. */
export function haproxyConf(port: number, backendPorts: readonly number[]): string {
  return [
    'global',
    '  nbthread 1',
    `  maxconn ${MAX_CONNECTIONS}`,
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  http-reuse always',
    '  timeout connect 5s',
    '  timeout client 65s',
    '  timeout server 30s',
    'frontend bench',
    `  bind 127.0.0.1:${port}`,
    `  maxconn ${MAX_CONNECTIONS}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    ...backendPorts.map((p, i) => `  server b${i + 1} 127.0.0.1:${p}`),
    '',
  ].join('\n');
}

/**
 * The dispatcher's scenario: only its dispatcher settings (the defaults: no per-backend limit, so
 * no queue) and policies matter, since `--backends` names the nginx backends. JSON is YAML.
 */
export function dispatcherScenario(policies: readonly string[]): string {
  return `${JSON.stringify(
    {
      name: 'bench-proxy',
      hosts: [{ name: 'h1', cores: 2, memoryMb: 4096 }],
      vms: [{ name: 'r1', host: 'h1', vcpus: 2, memoryMb: 512 }],
      workload: { classes: [{ name: 'trivial', share: 1, route: '/', cpuMs: 0, service: 'deterministic' }] },
      policies,
    },
    null,
    2,
  )}\n`;
}

/**
 * wrk's Lua script for clients that keep their session: every request carries one of `cookies`
 * (`name=value`, as the dispatcher issued them), in turn, so each session returns to its pin. The
 * requests are formatted once, in init, so the script costs wrk nothing per request beyond a lookup.
 */
export function wrkCookieScript(cookies: readonly string[]): string {
  if (cookies.length === 0) throw new Error('wrkCookieScript: no cookies');
  const list = cookies.map((c) => JSON.stringify(c)).join(', ');
  return [
    `local cookies = { ${list} }`,
    'local requests = {}',
    'local i = 0',
    'function init(args)',
    '  for n, c in ipairs(cookies) do requests[n] = wrk.format(nil, nil, { Cookie = c }) end',
    'end',
    'function request()',
    '  i = i % #requests + 1',
    '  return requests[i]',
    'end',
    '',
  ].join('\n');
}
