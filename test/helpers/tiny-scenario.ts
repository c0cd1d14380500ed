import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A scenario small enough for a live `compare` in a test: two 1-vCPU containers, 80 requests/s, 1.5 s a policy. */
export function writeTinyScenario(dir: string): string {
  const file = join(dir, 'tiny.yaml');
  writeFileSync(
    file,
    `name: tiny
hosts: [{ name: h, cores: 2, memoryMb: 4096 }]
vms: [{ name: web, count: 2, host: h, vcpus: 1, memoryMb: 512, virtualization: container }]
workload:
  classes: [{ name: page, share: 1, route: /, cpuMs: 1 }]
  arrival: { rateRps: 80 }
policies: [round-robin, least-loaded]
duration: 1500ms
warmup: 300ms
`,
  );
  return file;
}
