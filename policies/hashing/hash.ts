import { fmix32, hash32 } from '../../core/rng.js';

/**
 * The 32-bit key hash of the hashing policies: FNV-1a (core/rng.ts `hash32`) followed by
 * MurmurHash3's fmix32 finalizer. FNV-1a alone mixes its last characters poorly into the high bits,
 * so keys such as `web-1#17` and `web-1#18` land next to each other on a ring; fmix32 gives full
 * avalanche (every input bit flips each output bit with probability ~1/2). Not cryptographic: hash
 * flooding is not a threat model here, backends come from the operator's scenario.
 */
export function keyHash(text: string, seed = 0): number {
  return fmix32(hash32(text, (0x811c9dc5 ^ seed) >>> 0));
}

