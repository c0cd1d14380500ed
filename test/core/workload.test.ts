import { isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientAddress, GENERATOR_ADDRESS } from '../../core/workload.js';

describe('clientAddress', () => {
  it("names every session's client by a distinct, valid address of 2001:db8::/32, and requests of no session by the generator's", () => {
    const sessions = [0, 1, 65_533, 65_534, 65_535, 65_536, 999_999, 2 ** 31];
    const addresses = sessions.map(clientAddress);
    for (const address of addresses) {
      expect(isIPv6(address)).toBe(true);
      expect(address.startsWith('2001:db8::')).toBe(true);
    }
    expect(new Set(addresses).size).toBe(sessions.length);
    // The first 65,534 sessions keep the one-group form.
    expect(addresses.slice(0, 4)).toEqual(['2001:db8::1', '2001:db8::2', '2001:db8::fffe', '2001:db8::ffff']);
    expect(addresses[4]).toBe('2001:db8::1:0');
    expect(clientAddress(undefined)).toBe(GENERATOR_ADDRESS);
    expect(clientAddress(-1)).toBe(GENERATOR_ADDRESS);
  });
});
