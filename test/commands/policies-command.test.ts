import { describe, expect, it } from 'vitest';
import { describeType, listPolicies, type PolicyListing } from '../../cli/policies.js';
import { policyNames } from '../../policies/index.js';
import { dispatchlab } from '../helpers/cli.js';

async function run(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await dispatchlab('policies', ...args);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  return stdout;
}

describe('dispatchlab policies', () => {
  it('lists every registered policy with its options, types and defaults', async () => {
    const text = await run();
    for (const name of policyNames()) expect(text).toMatch(new RegExp(`^${name}: `, 'm'));
    expect(text).toMatch(/^ {4}metric +in-flight \| reported \| peak-ewma \(default "in-flight"\): /m);
    expect(text).toMatch(/^ {4}boundedLoad +0 \| number >= 1 <= 100 \(default 1\.25\)/m);
    expect(text).toMatch(/^ {4}choices +integer >= 2 <= 32 \(default 2\)/m);
  });

  it('--json gives the options as JSON Schema, defaults included', async () => {
    const listing = JSON.parse(await run('--json')) as PolicyListing[];
    expect(listing.map((p) => p.name)).toEqual(policyNames());
    const sticky = listing.find((p) => p.name === 'session-sticky')!;
    expect(sticky.options.properties?.cookie.default).toBe('dl_session');
  });

  it('derives types from the schemas', () => {
    const decay = listPolicies().find((p) => p.name === 'peak-ewma')!.options.properties!.decayMs;
    expect(describeType(decay)).toBe('number > 0');
    expect(describeType({ anyOf: [{ const: 0 }, { type: 'number', minimum: 1 }] })).toBe('0 | number >= 1');
  });
});
