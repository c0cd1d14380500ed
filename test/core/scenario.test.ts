import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { expandVms, loadScenario, parseScenario, parseScenarioText, policyLabel, policyName, ScenarioError } from '../../core/scenario.js';

function base(): Record<string, unknown> {
  return {
    name: 't',
    hosts: [{ name: 'host-a', cores: 4, memoryMb: 8192 }],
    vms: [{ name: 'web', count: 2, host: 'host-a', memoryMb: 1024 }],
    workload: { classes: [{ name: 'page', share: 1, cpuMs: 5 }] },
  };
}

function issues(data: unknown): string[] {
  try {
    parseScenario(data);
  } catch (err) {
    if (err instanceof ScenarioError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error('the scenario was accepted');
}

describe('scenario validation', () => {
  it('accepts a minimal scenario and fills in the defaults', () => {
    const s = parseScenario(base());
    expect(s.seed).toBe(1);
    expect(s.hosts[0].hypervisor).toBe('type1');
    expect(s.duration).toBe(30_000);
    expect(expandVms(s).map((vm) => vm.name)).toEqual(['web-1', 'web-2']);
  });

  it('binary translation defaults to, and only allows, shadow page tables; other techniques default to nested', () => {
    const data = base();
    (data.vms as unknown[]).push({ name: 'bt', host: 'host-a', virtualization: 'binary-translation' }, { name: 'pv', host: 'host-a', virtualization: 'paravirtual' });
    expect(expandVms(parseScenario(data)).map((vm) => [vm.name, vm.mmu])).toEqual([['web-1', 'nested'], ['web-2', 'nested'], ['bt', 'shadow'], ['pv', 'nested']]);
    (data.vms as Record<string, unknown>[])[1].mmu = 'nested';
    expect(issues(data)).toEqual(['vms[1].mmu: binary translation runs on shadow page tables; no BT hypervisor used hardware nested paging']);
  });

  it('a VM\'s resident memory defaults to its maximum and may not exceed it', () => {
    const data = base();
    expect(expandVms(parseScenario(data)).map((vm) => vm.residentMb)).toEqual([1024, 1024]);
    (data.vms as Record<string, unknown>[])[0].residentMb = 2048;
    expect(issues(data)).toEqual(['vms[0].residentMb: 2048 MB resident exceeds the VM\'s 1024 MB maximum']);
  });

  it('names an unknown host with the path and the defined hosts', () => {
    const data = base();
    (data.vms as unknown[]).push({ name: 'db', host: 'host-z' });
    expect(issues(data)).toContain('vms[1].host: "host-z" is not a defined host (hosts: host-a)');
  });

  it('refuses Type 1 overcommit unless allowed', () => {
    const data = base();
    (data.vms as Record<string, unknown>[])[0].memoryMb = 8192;
    expect(issues(data)).toEqual([
      'hosts[0].memoryMb: type1 host "host-a" has 8192 MB but its VMs total 16384 MB; a Type 1 hypervisor refuses overcommit unless allowOvercommit: true',
    ]);
    (data.hosts as Record<string, unknown>[])[0].allowOvercommit = true;
    expect(() => parseScenario(data)).not.toThrow();
    (data.hosts as Record<string, unknown>[])[0] = { name: 'host-a', cores: 4, memoryMb: 8192, hypervisor: 'type2' };
    expect(() => parseScenario(data)).not.toThrow();
  });

  it('refuses class shares that do not sum to 1', () => {
    const data = base();
    (data.workload as { classes: unknown[] }).classes.push({ name: 'report', share: 0.25, cpuMs: 20 });
    expect(issues(data)).toEqual(['workload.classes: shares sum to 1.25, expected 1']);
  });

  it('refuses duplicate names, including ones made by count expansion', () => {
    const data = base();
    (data.hosts as unknown[]).push({ name: 'host-a', cores: 2, memoryMb: 1024 });
    (data.vms as unknown[]).push({ name: 'web-2', host: 'host-a', memoryMb: 512 });
    const found = issues(data);
    expect(found).toContain('hosts[1].name: "host-a" is defined twice');
    expect(found).toContain('vms[1].name: VM "web-2" is defined twice (also by group "web")');
  });

  it('makes a host entry with count N into N hosts, each with the VM entries placed on it, named after their host', () => {
    const data = base();
    data.hosts = [
      { name: 'dc', count: 3, cores: 4, memoryMb: 8192 },
      { name: 'edge', cores: 2, memoryMb: 4096 },
    ];
    data.vms = [
      { name: 'web', count: 2, host: 'dc', memoryMb: 1024 },
      { name: 'cache', host: 'edge', memoryMb: 1024 },
      { name: 'api', host: 'dc', vcpus: 2, memoryMb: 1024 },
    ];
    const s = parseScenario(data);
    expect(s.hosts.map((h) => [h.name, h.count, h.cores])).toEqual([['dc-1', 1, 4], ['dc-2', 1, 4], ['dc-3', 1, 4], ['edge', 1, 2]]);
    // Entries in the order written, each entry's copies in the order of its hosts.
    expect(expandVms(s).map((vm) => `${vm.name}@${vm.host}`)).toEqual([
      'web-dc-1-1@dc-1', 'web-dc-1-2@dc-1', 'web-dc-2-1@dc-2', 'web-dc-2-2@dc-2', 'web-dc-3-1@dc-3', 'web-dc-3-2@dc-3',
      'cache@edge', 'api-dc-1@dc-1', 'api-dc-2@dc-2', 'api-dc-3@dc-3',
    ]);
    // A copy keeps its entry's name as its kind.
    expect([...new Set(expandVms(s).map((vm) => vm.kind))]).toEqual(['web', 'cache', 'api']);
    // Parsed once more (a worker thread, a compose container), the hosts stay as they are.
    expect(parseScenario(s)).toEqual(s);
  });

  it('refuses host names a count makes twice, one address for many hosts, a VM on one host of an entry, and counts past the VM limit', () => {
    const data = base();
    data.hosts = [
      { name: 'dc', count: 3, cores: 4, memoryMb: 2048, address: '10.0.0.1' },
      { name: 'dc-2', cores: 2, memoryMb: 4096 },
    ];
    data.vms = [
      { name: 'web', count: 3, host: 'dc', memoryMb: 1024 },
      { name: 'api', host: 'dc-3', memoryMb: 1024 },
    ];
    expect(issues(data)).toEqual([
      'hosts[0].address: the 3 hosts of this entry cannot all be at one address (give each host an entry of its own)',
      'hosts[1].name: "dc-2" is defined twice',
      'vms[1].host: "dc-3" is one of the 3 hosts of entry "dc": a VM entry names a host entry and is placed on each of its hosts (give this host an entry of its own)',
      'hosts[0].memoryMb: each of the 3 type1 hosts of "dc" has 2048 MB but its VMs total 3072 MB; a Type 1 hypervisor refuses overcommit unless allowOvercommit: true',
    ]);
    data.hosts = [{ name: 'dc', count: 2001, cores: 4, memoryMb: 8192 }];
    data.vms = [{ name: 'web', count: 5, host: 'dc', memoryMb: 1024 }];
    expect(issues(data)).toEqual(['vms: 10005 VMs in all; at most 10000']);
    data.hosts = [
      { name: 'a', count: 6000, cores: 4, memoryMb: 8192 },
      { name: 'b', count: 6000, cores: 4, memoryMb: 8192 },
    ];
    data.vms = [{ name: 'web', host: 'a', memoryMb: 1024 }];
    expect(issues(data)).toEqual(['hosts: 12000 hosts in all; at most 10000']);
  });

  it('reports a bad field with its path, the value and what was expected', () => {
    const data = base();
    (data.vms as Record<string, unknown>[])[0].virtualization = 'magic';
    const [issue] = issues(data);
    expect(issue).toMatch(/^vms\[0\]\.virtualization: "magic": /);
    const typo = base();
    (typo.hosts as Record<string, unknown>[])[0].corse = 4;
    expect(issues(typo).join('\n')).toMatch(/corse/);
  });

  it('names the bad field of an arrival, chosen by its key (rateRps or connections), not "Invalid input" at the arrival', () => {
    const arrival = (value: unknown) => issues({ ...base(), workload: { ...(base().workload as object), arrival: value } });
    expect(arrival({ rate: 5 })).toEqual(['workload.arrival.rate: unknown field (expected rateRps or connections)']);
    expect(arrival({ rateRps: 'abc' })).toEqual(['workload.arrival.rateRps: "abc": Invalid input: expected number, received string']);
    expect(arrival({ connections: 1.5 })).toEqual(['workload.arrival.connections: 1.5: Invalid input: expected int, received number']);
    expect(arrival({ rateRps: 5, typo: 1 })).toEqual(['workload.arrival.typo: unknown field']);
    expect(arrival({ rateRps: 5, connections: 3 })).toEqual(['workload.arrival: {"rateRps":5,"connections":3}: give rateRps or connections, not both']);
    expect(arrival({})).toEqual(['workload.arrival: {}: give rateRps (open loop) or connections (closed loop)']);
    expect(arrival(5)).toEqual(['workload.arrival: 5: expected { rateRps: N } (open loop) or { connections: N } (closed loop)']);
    // What is accepted is as before.
    const rate = { ...base(), workload: { ...(base().workload as object), arrival: { rateRps: 5 } } };
    expect(parseScenario(rate).workload.arrival).toEqual({ rateRps: 5 });
    const closed = { ...base(), workload: { ...(base().workload as object), arrival: { connections: 8 } } };
    expect(parseScenario(closed).workload.arrival).toEqual({ connections: 8 });
    expect(parseScenario(base()).workload.arrival).toEqual({ rateRps: 100 });
  });

  it('names the bad field of a policies entry, chosen by its key (name or file)', () => {
    const policies = (entry: unknown) => issues({ ...base(), policies: [entry] });
    expect(policies({ nam: 'random' })).toEqual(['policies[0].nam: unknown field (expected name or file)']);
    expect(policies({ name: 'random', options: 5 })).toEqual(['policies[0].options: 5: expected an object']);
    expect(policies({ name: 'random', options: null })).toEqual(['policies[0].options: null: expected an object']);
    expect(policies({ name: 'random', file: 'x.ts' })).toEqual(['policies[0]: {"name":"random","file":"x.ts"}: give name or file, not both']);
    expect(policies({ name: 5 })).toEqual(['policies[0].name: 5: Invalid input: expected string, received number']);
    expect(policies({ file: 'x.ts', label: 3 })).toEqual(['policies[0].label: 3: Invalid input: expected string, received number']);
    expect(policies({ name: 'random', lable: 'r' })).toEqual(['policies[0].lable: unknown field']);
    expect(policies({ label: 'r' })).toEqual(['policies[0]: {"label":"r"}: give name (a built-in policy) or file (a policy file)']);
    expect(policies(5)).toEqual(['policies[0]: 5: expected a policy name, or { name } or { file } with options and a label']);
    // What is accepted is as before.
    expect(parseScenario({ ...base(), policies: ['random', { name: 'random', label: 'r', options: { a: 1 } }, { file: 'p.mjs' }] }).policies).toEqual([
      'random',
      { name: 'random', label: 'r', options: { a: 1 } },
      { file: 'p.mjs', options: {} },
    ]);
  });

  it('shows NaN and Infinity as themselves in the value found, not as null', () => {
    const text = 'name: t\nseed: .nan\nhosts: [{ name: a, cores: 4, memoryMb: 4096 }]\nvms: [{ name: w, host: a }]\nworkload: { classes: [{ name: p, share: 1, cpuMs: 1 }], arrival: { rateRps: .nan } }\nfaults: [{ at: 0, for: -.inf, vm: w, kind: crash }]\n';
    expect(() => parseScenarioText(text, 'nan.yaml')).toThrow(
      [
        'nan.yaml: invalid scenario',
        '  seed: NaN: Invalid input: expected number, received NaN',
        '  workload.arrival.rateRps: NaN: Invalid input: expected number, received NaN',
        '  faults[0].for: -Infinity: a duration cannot be negative',
      ].join('\n'),
    );
    expect(issues({ ...base(), policies: [{ name: 'random', options: [Number.NaN, Number.POSITIVE_INFINITY] }] })).toEqual(['policies[0].options: [NaN,Infinity]: expected an object']);
  });

  it('says what is wrong with a duration: its format, its sign, or its length', () => {
    expect(issues({ ...base(), duration: '10x' })).toEqual(['duration: "10x": expected milliseconds or a number with a unit (ms, s, m, h), such as 500ms, 30s, 2m']);
    expect(issues({ ...base(), duration: true })).toEqual(['duration: true: expected milliseconds or a number with a unit (ms, s, m, h), such as 500ms, 30s, 2m']);
    expect(issues({ ...base(), warmup: '-1s' })).toEqual(['warmup: "-1s": a duration cannot be negative']);
    expect(issues({ ...base(), warmup: -1 })).toEqual(['warmup: -1: a duration cannot be negative']);
    expect(issues({ ...base(), duration: '200h' })).toEqual(['duration: "200h": expected a duration of at most 7 days']);
    expect(issues({ ...base(), duration: Number.POSITIVE_INFINITY })).toEqual(['duration: Infinity: expected a duration of at most 7 days']);
    expect(parseScenario({ ...base(), duration: '2m', warmup: 0 })).toMatchObject({ duration: 120_000, warmup: 0 });
  });

  it('refuses zero health-check intervals and timeouts, which the dispatcher cannot run with', () => {
    const data = { ...base(), dispatcher: { healthCheck: { intervalMs: 0, timeoutMs: '0s' }, timeouts: { upstreamMs: 0 } } };
    expect(issues(data)).toEqual([
      'dispatcher.healthCheck.intervalMs: 0: expected a duration longer than 0',
      'dispatcher.healthCheck.timeoutMs: 0: expected a duration longer than 0',
      'dispatcher.timeouts.upstreamMs: 0: expected a duration longer than 0',
    ]);
  });

  it("retries Envoy's connect-failure, reset and per-try-timeout by default; gateway-error only when asked; no unknown or repeated condition", () => {
    expect(parseScenario(base()).dispatcher.retryOn).toEqual(['connect-failure', 'reset', 'per-try-timeout']);
    expect(parseScenario({ ...base(), dispatcher: { retryOn: ['gateway-error'] } }).dispatcher.retryOn).toEqual(['gateway-error']);
    expect(issues({ ...base(), dispatcher: { retryOn: ['5xx'] } }).join('\n')).toMatch(/^dispatcher\.retryOn\[0\]: "5xx"/);
    expect(issues({ ...base(), dispatcher: { retryOn: ['reset', 'reset'] } }).join('\n')).toMatch(/dispatcher\.retryOn.*each condition at most once/);
  });

  it('reports a YAML syntax error with its line', () => {
    const text = 'name: t\nhosts:\n  - name: host-a\n    cores: [4\n';
    try {
      parseScenarioText(text, 'bad.yaml');
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ScenarioError);
      const issue = (err as ScenarioError).issues[0];
      expect(issue.path).toMatch(/^line \d+, column \d+$/);
      // The position is given once, as the issue's path, not again at the end of the message.
      expect(issue.message).not.toMatch(/line \d+, column \d+/);
      expect((err as ScenarioError).message).toMatch(/^bad\.yaml: invalid scenario/);
    }
  });

  it('loads the shipped default scenario', () => {
    const s = loadScenario(fileURLToPath(new URL('../../scenarios/default.yaml', import.meta.url)));
    expect(s.name).toBe('default');
    expect(() => loadScenario('/nonexistent/x.yaml')).toThrow(/^cannot read \/nonexistent\/x\.yaml: no such file$/);
  });
});

describe('policy file entries', () => {
  it('take a file with options and a label; the label defaults to the file name', () => {
    const s = parseScenario({ ...base(), policies: ['round-robin', { file: 'mine/slow-aware.ts', options: { slowMs: 5 } }, { file: 'x.mjs', label: 'x2' }] });
    expect(s.policies.slice(1)).toEqual([{ file: 'mine/slow-aware.ts', options: { slowMs: 5 } }, { file: 'x.mjs', label: 'x2', options: {} }]);
    expect(s.policies.map(policyLabel)).toEqual(['round-robin', 'slow-aware', 'x2']);
    expect(policyName(s.policies[1])).toBe('mine/slow-aware.ts');
  });

  it('refuses a file that is not TypeScript or JavaScript, and two entries with one label', () => {
    expect(issues({ ...base(), policies: [{ file: 'policy.py' }] }).join('\n')).toMatch(/expected a \.ts, \.mts, \.js or \.mjs file/);
    expect(issues({ ...base(), policies: [{ file: 'a/mine.ts' }, { file: 'b/mine.js' }] })).toEqual(['policies[1]: "mine" is listed twice; give one a label']);
  });

  it('name files relative to the scenario file when loaded from one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-scenario-'));
    try {
      mkdirSync(join(dir, 'scenarios'));
      const file = join(dir, 'scenarios', 's.yaml');
      writeFileSync(file, stringify({ ...base(), policies: [{ file: '../policies/mine.ts' }, { file: '/abs/other.js' }, 'random'] }));
      expect(loadScenario(file).policies).toEqual([{ file: join(dir, 'policies', 'mine.ts'), options: {} }, { file: '/abs/other.js', options: {} }, 'random']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
