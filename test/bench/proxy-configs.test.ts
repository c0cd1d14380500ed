import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseScenario } from '../../core/scenario.js';
import { dispatcherScenario, haproxyConf, nginxBackendConf, nginxProxyConf, wrkCookieScript } from '../../bench/proxy-configs.js';

const braces = (text: string) => [...text].reduce((depth, c) => depth + (c === '{' ? 1 : c === '}' ? -1 : 0), 0);

describe('nginx configurations', () => {
  it('answers on every backend port from one worker, with its files in the temp dir', () => {
    const conf = nginxBackendConf('/tmp/b', [4001, 4002]);
    expect(conf).toContain('worker_processes 1;');
    expect(conf).toMatch(/listen 127\.0\.0\.1:4001 /);
    expect(conf).toMatch(/listen 127\.0\.0\.1:4002 /);
    expect(conf).toContain('return 200 "ok\\n";');
    expect(conf).toContain('pid /tmp/b/backend.pid;');
    expect(conf).toContain('proxy_temp_path /tmp/b/backend-proxy;');
    expect(braces(conf)).toBe(0);
  });

  it('proxies with upstream keep-alive set up as the notes require for a fair comparison', () => {
    const conf = nginxProxyConf('/tmp/b', 5000, [4001, 4002]);
    expect(conf).toMatch(/listen 127\.0\.0\.1:5000 /);
    expect(conf).toMatch(/upstream backends \{\s+server 127\.0\.0\.1:4001;\s+server 127\.0\.0\.1:4002;\s+keepalive \d+;/);
    expect(conf).toContain('proxy_http_version 1.1;');
    expect(conf).toContain('proxy_set_header Connection "";');
    expect(conf).toMatch(/keepalive_requests \d{7,};/);
    // The 1,000-connection run: a client and an upstream connection each, plus the keep-alive pool.
    expect(Number(/worker_connections (\d+);/.exec(conf)?.[1])).toBeGreaterThanOrEqual(2 * 1000 + 128);
    expect(conf).not.toContain('/tmp/b/backend');
    expect(braces(conf)).toBe(0);
  });
});

describe('HAProxy configuration', () => {
  it('runs one thread, reuses server connections and balances over every backend', () => {
    const conf = haproxyConf(5001, [4001, 4002]);
    expect(conf).toMatch(/^\s+nbthread 1$/m);
    expect(conf).toMatch(/^\s+http-reuse always$/m);
    expect(conf).toMatch(/^\s+bind 127\.0\.0\.1:5001$/m);
    expect(conf).toMatch(/^\s+server b1 127\.0\.0\.1:4001$/m);
    expect(conf).toMatch(/^\s+server b2 127\.0\.0\.1:4002$/m);
    // Room for the 1,000-connection run, and HAProxy does not start with maxconn near this machine's 20,000 open files.
    for (const m of conf.matchAll(/maxconn (\d+)/g)) {
      expect(Number(m[1])).toBeGreaterThanOrEqual(1000);
      expect(Number(m[1])).toBeLessThan(20_000 / 2);
    }
    expect(conf.match(/maxconn/g)).toHaveLength(2);
  });
});

describe('the dispatcher scenario', () => {
  it('is a valid scenario listing the policies the bench asks for', () => {
    const scenario = parseScenario(parse(dispatcherScenario(['round-robin', 'least-loaded', 'session-sticky'])));
    expect(scenario.policies).toEqual(['round-robin', 'least-loaded', 'session-sticky']);
    expect(scenario.dispatcher.maxConnPerBackend).toBe(0);
  });
});

describe('wrk cookie script', () => {
  it('formats one request per session cookie and hands them out in turn', () => {
    const script = wrkCookieScript(['dl_session=a.b.c', 'dl_session=d.e.f']);
    expect(script).toContain('local cookies = { "dl_session=a.b.c", "dl_session=d.e.f" }');
    expect(script).toContain('wrk.format(nil, nil, { Cookie = c })');
    expect(script).toMatch(/function request\(\)\s+i = i % #requests \+ 1\s+return requests\[i\]/);
  });

  it('refuses an empty cookie list, which would make wrk send nothing', () => {
    expect(() => wrkCookieScript([])).toThrow(/no cookies/);
  });
});
