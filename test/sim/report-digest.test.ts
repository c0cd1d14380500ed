import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { datacentreScenario } from '../../bench/datacentre-fleet.js';
import { loadScenario, type Scenario } from '../../core/scenario.js';
import { checkPolicySpecs } from '../../policies/index.js';
import { simulate } from '../../sim/simulation.js';

/**
 * Speed work on the simulator must not change what it computes (issue 19): these digests pin every
 * numeric field of seeded `simulate` reports, to the last bit. A change of the model's semantics
 * (another issue) updates a digest in a commit of its own that says why; a speed change never does.
 *
 * Canonical form: one `path=value` line per number, keys sorted, values as String writes them (the
 * shortest text that reads back as the same double, so two reports give the same text exactly when
 * their numbers are bit-identical). The line count is pinned too, so a field that disappears or
 * appears is noticed beside the digest.
 */
function numericLines(value: unknown, path: string, out: string[]): string[] {
  if (typeof value === 'number') out.push(`${path}=${String(value)}`);
  else if (Array.isArray(value)) value.forEach((v, i) => numericLines(v, `${path}[${i}]`, out));
  else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value).sort()) numericLines((value as Record<string, unknown>)[key], `${path}.${key}`, out);
  }
  return out;
}

function digest(scenario: Scenario, requests: number): { lines: number; sha256: string } {
  const lines = numericLines(simulate(scenario, { requests }), '', []);
  return { lines: lines.length, sha256: createHash('sha256').update(lines.join('\n')).digest('hex') };
}

describe('simulate report digests (issue 19: speed changes leave results bit-identical)', () => {
  it('the canonical form sees every number, including non-finite ones', () => {
    expect(numericLines({ b: [1, Infinity], a: { c: -0, d: 'x', e: Number.NaN } }, '', [])).toEqual(['.a.c=0', '.a.e=NaN', '.b[0]=1', '.b[1]=Infinity']);
  });

  it('a small data-centre fleet: 16-core hosts of 20 VMs of four techniques, Type 2 hosts with host load, two classes, sessions, contended', () => {
    const scenario = datacentreScenario({ vms: 60, sessions: 500, utilisation: 0.85 });
    const policies = ['power-of-two', 'round-robin', 'least-loaded', 'session-sticky'];
    expect(digest({ ...scenario, policies }, 8000)).toEqual({ lines: 3559, sha256: 'cd7db94ee1dff47c79fa3c034f70815606fa10493a7547ec20e5185efaf642b5' });
  });

  it('the shipped condor scenario: owners return, harvested VMs suspend and migrate', () => {
    expect(digest(loadScenario('scenarios/condor-harvest.yaml', checkPolicySpecs), 4000)).toEqual({ lines: 1026, sha256: '4a644296d3a814f7b56bc20458d3042205ddcc447be861ee302b631c92ac3a9c' });
  });

  it('the shipped chaos scenario: faults, retries and timeouts', () => {
    expect(digest(loadScenario('scenarios/chaos.yaml', checkPolicySpecs), 4000)).toEqual({ lines: 513, sha256: 'e4986b3e81dd2d0360eeb92bf355635936cdef04e6575fea1cd04222c7e7474b' });
  });
});
