import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { startHost, type RunningHost } from '../../backends/host-server.js';
import type { ReplicaResponse } from '../../backends/replica-app.js';
import type { VmSnapshot } from '../../backends/hypervisor/types.js';
import { getJson, http } from '../helpers/http.js';

/**
 * The host processes on real sockets around the real hypervisor model: one host-a process serving
 * replica r1 and its neighbour n1 (one core between them), one host-b process serving r2, and a
 * non-serving VM that must get no port. Timing assertions use the model's own report of each
 * request (stealMs, latencyMs), not wall time, so they hold on a slow shared machine.
 */

const scenario = parseScenario({
  name: 'noisy-neighbour-test',
  hosts: [
    { name: 'host-a', cores: 1, memoryMb: 8192 },
    { name: 'host-b', cores: 1, memoryMb: 8192 },
  ],
  vms: [
    { name: 'r1', host: 'host-a' },
    { name: 'n1', host: 'host-a' },
    { name: 'idle', host: 'host-a', serves: false },
    { name: 'r2', host: 'host-b' },
  ],
  workload: {
    classes: [
      { name: 'page', share: 0.5, route: '/', cpuMs: 20, service: 'deterministic' },
      { name: 'heavy', share: 0.5, route: '/heavy', cpuMs: 50, service: 'deterministic' },
    ],
  },
});

let hostA: RunningHost;
let hostB: RunningHost;
const url = (h: RunningHost, vm: string): string => h.replicas.find((r) => r.vm === vm)!.url;

beforeAll(async () => {
  hostA = await startHost({ scenario, hostName: 'host-a', port: 'auto' });
  hostB = await startHost({ scenario, hostName: 'host-b', port: 'auto' });
});

afterAll(async () => {
  await Promise.all([hostA?.close(200), hostB?.close(200)]);
});

/** Sequential page requests to r1, as the model accounted for them. */
async function measureR1(count: number): Promise<ReplicaResponse[]> {
  const out: ReplicaResponse[] = [];
  for (let i = 0; i < count; i++) out.push((await getJson<ReplicaResponse>(`${url(hostA, 'r1')}/page`)).json);
  return out;
}

/** Fire `count` heavy requests at a replica at once; resolves when they have all finished. */
async function burst(target: string, count: number): Promise<() => Promise<unknown>> {
  const all = Promise.all(Array.from({ length: count }, () => http(`${target}/heavy`)));
  // Only measure once the burst is inside the model, not still in the sockets.
  await expect.poll(async () => (await getJson<VmSnapshot>(`${target}/load`)).json.running, { timeout: 5000, interval: 5 }).toBeGreaterThan(0);
  return () => all;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('startHost', () => {
  it('serves each replica of the host on its own port, and none for a non-serving VM', () => {
    expect(hostA.replicas.map((r) => r.vm)).toEqual(['r1', 'n1']);
    expect(hostB.replicas.map((r) => r.vm)).toEqual(['r2']);
    for (const r of [...hostA.replicas, ...hostB.replicas]) {
      expect(r.port).toBeGreaterThan(0);
      expect(r.url).toBe(`http://127.0.0.1:${r.port}`);
    }
    expect(hostA.metricsUrl).toBe(`${hostA.replicas[0].url}/metrics`);
  });

  it('answers with the model’s account of the request and the VM’s load', async () => {
    const res = await getJson<ReplicaResponse>(`${url(hostA, 'n1')}/heavy/x`);
    expect(res.status).toBe(200);
    expect(res.headers['x-served-by']).toBe('n1');
    expect(Number.isFinite(Number(res.headers['x-vm-load']))).toBe(true);
    expect(res.json).toMatchObject({ vm: 'n1', host: 'host-a', class: 'heavy', bodyBytes: 0 });
    // Virtualization adds to the native 50 ms, never takes from it.
    expect(res.json.serviceMs).toBeGreaterThanOrEqual(50);
    // On wall time the model charges progress at the clock readings of its events, so a completion
    // can land a few microseconds before the summed service time: allow well under a millisecond.
    expect(res.json.latencyMs).toBeGreaterThanOrEqual(res.json.serviceMs - 1);
    expect((await http(`${url(hostA, 'r1')}/healthz`)).status).toBe(200);
  });

  it('slows a replica when its neighbour on the same host is busy, and not for a VM on another host', async () => {
    const idle = await measureR1(4);

    const sameHost = await burst(url(hostA, 'n1'), 12);
    const contended = await measureR1(4);
    await sameHost();

    const otherHost = await burst(url(hostB, 'r2'), 12);
    const isolated = await measureR1(4);
    await otherHost();

    const steal = (xs: ReplicaResponse[]) => mean(xs.map((x) => x.stealMs));
    const latency = (xs: ReplicaResponse[]) => mean(xs.map((x) => x.latencyMs));
    expect(steal(idle)).toBeLessThan(1);
    // One core between two busy single-vCPU VMs: r1 waits for about as long as it runs.
    expect(steal(contended)).toBeGreaterThan(0.3 * mean(contended.map((x) => x.serviceMs)));
    expect(latency(contended)).toBeGreaterThan(1.5 * latency(idle));
    expect(steal(isolated)).toBeLessThan(1);
    expect(latency(isolated)).toBeLessThan(1.5 * latency(idle));
  });

  it('exposes the host registry on every replica port, and it passes promtool check metrics', async () => {
    const scrape = await http(hostA.metricsUrl);
    expect(scrape.status).toBe(200);
    expect(scrape.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of [
      'dispatchlab_vm_cpu_seconds_total{host="host-a",vm="n1"}',
      'dispatchlab_vm_steal_seconds_total{host="host-a",vm="r1"}',
      'dispatchlab_vm_running_requests{host="host-a",vm="idle"}',
      'dispatchlab_vm_requests_completed_total{host="host-a",vm="r1"}',
      'dispatchlab_vm_service_seconds_bucket{le="0.001",host="host-a",vm="r1"}',
      'dispatchlab_vm_swapped_bytes{host="host-a",vm="r1"}',
      'dispatchlab_vm_traps_total{host="host-a",vm="r1",kind="io"}',
      'dispatchlab_vm_up{host="host-a",vm="n1"}',
      'dispatchlab_host_owner_active{host="host-a"}',
      'dispatchlab_vm_state{host="host-a",vm="n1",state="running"} 1',
      'dispatchlab_vm_state{host="host-a",vm="n1",state="crashed"} 0',
      'dispatchlab_host_load_cores{host="host-a"}',
    ]) {
      expect(scrape.text).toContain(name);
    }
    expect((await http(`${url(hostA, 'n1')}/metrics`)).text).toContain('dispatchlab_vm_cpu_seconds_total{host="host-a",vm="r1"}');

    const binDir = execFileSync('bash', ['scripts/ensure-promtool.sh'], { encoding: 'utf8', timeout: 120_000 }).trim();
    const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-metrics-'));
    try {
      const file = join(dir, 'scrape.txt');
      writeFileSync(file, scrape.text);
      // Throws (non-zero exit) with promtool's complaints if the exposition is not clean.
      const out = execFileSync('bash', ['-c', `"${binDir}/promtool" check metrics < "${file}" 2>&1`], { encoding: 'utf8', timeout: 30_000 });
      expect(out.trim()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closes gracefully: an in-flight request finishes, then the ports refuse', async () => {
    const h = await startHost({ scenario, hostName: 'host-b', port: 'auto' });
    const target = h.replicas[0].url;
    const inFlight = getJson<ReplicaResponse>(`${target}/heavy`);
    await expect.poll(async () => (await getJson<VmSnapshot>(`${target}/load`)).json.running, { timeout: 5000, interval: 5 }).toBe(1);
    await h.close(5000);
    expect((await inFlight).status).toBe(200);
    await expect(http(`${target}/healthz`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
