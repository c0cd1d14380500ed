import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoadgenMetrics } from '../../loadtest/loadgen-metrics.js';

describe('LoadgenMetrics', () => {
  it('serves what was sent per dispatcher and code on /metrics, in an exposition promtool accepts', async () => {
    const metrics = new LoadgenMetrics();
    metrics.spreadOver(2);
    for (let i = 0; i < 3; i++) metrics.requestEnded('200', 'http://10.0.0.2:8080/');
    metrics.requestEnded('dropped', 'http://10.0.0.3:8080/');
    const server = await metrics.serve(0, '127.0.0.1');
    const { url } = server;
    const res = await fetch(url);
    const text = await res.text();
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain('dispatchlab_loadgen_requests_total{dispatcher="http://10.0.0.2:8080/",code="200"} 3');
    expect(text).toContain('dispatchlab_loadgen_requests_total{dispatcher="http://10.0.0.3:8080/",code="dropped"} 1');
    expect(text).toContain('dispatchlab_loadgen_dispatchers 2');
    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
    await server.close();

    const binDir = execFileSync('bash', ['scripts/ensure-promtool.sh'], { encoding: 'utf8' }).trim();
    const check = spawnSync(join(binDir, 'promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});
