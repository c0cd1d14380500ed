import { parseScenario, type Scenario } from '../../core/scenario.js';

/**
 * Scenarios where queueing theory applies exactly: `replicas` identical container VMs (1 vCPU
 * unless `vcpus`) whose VM time equals the native cpuMs (cpuFactor 1, no I/O cost), a core per vCPU
 * so nothing steals, Poisson arrivals at the rate that gives `utilisation` of every vCPU,
 * exponential service unless `service`.
 */
export function homogeneous(opts: {
  replicas: number;
  utilisation: number;
  serviceMs?: number;
  maxConnPerBackend?: number;
  policies?: unknown[];
  seed?: number;
  vmsPerHost?: number;
  vcpus?: number;
  service?: 'exponential' | 'deterministic' | 'lognormal';
}): Scenario {
  const serviceMs = opts.serviceMs ?? 10;
  const vcpus = opts.vcpus ?? 1;
  const perHost = opts.vmsPerHost ?? 4;
  const hosts = Math.ceil(opts.replicas / perHost);
  return parseScenario({
    name: `homogeneous-${opts.replicas}`,
    seed: opts.seed ?? 1,
    hosts: Array.from({ length: hosts }, (_, i) => ({ name: `h${i}`, cores: perHost * vcpus, memoryMb: 65536 })),
    vms: Array.from({ length: hosts }, (_, i) => ({
      name: `web-h${i}`,
      count: Math.min(perHost, opts.replicas - i * perHost),
      host: `h${i}`,
      vcpus,
      memoryMb: 1024,
      virtualization: 'container',
    })),
    costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
    workload: {
      classes: [{ name: 'page', share: 1, cpuMs: serviceMs, service: opts.service ?? 'exponential' }],
      sessions: 0,
      arrival: { rateRps: (opts.utilisation * opts.replicas * vcpus * 1000) / serviceMs },
    },
    dispatcher: {
      maxConnPerBackend: opts.maxConnPerBackend ?? 0,
      queue: { maxLength: 1_000_000, timeoutMs: '1h' },
    },
    policies: opts.policies ?? ['random'],
    duration: '1h',
    warmup: '2s',
  });
}

export function relativeError(measured: number, expected: number): number {
  return Math.abs(measured - expected) / expected;
}
