import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

/**
 * The seeded source of every random draw (no Math.random in model code: `npm run lint`). One
 * scenario seed gives a root Rng; each consumer takes its own named stream, so adding a consumer
 * never shifts the draws of the others and the same seed always replays the same run.
 */
export interface Rng {
  /** Uniform on [0, 1). */
  next(): number;
  /** Uniform integer on [0, n). */
  int(n: number): number;
  /** Exponential with the given mean (inverse transform). */
  exponential(mean: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** Lognormal with the given mean and shape sigma (the sd of the underlying normal). */
  lognormal(mean: number, sigma: number): number;
  /** An independent stream derived from this one's seed and a name. */
  stream(name: string): Rng;
}

/** FNV-1a over the UTF-16 code units: a stable 32-bit hash of a stream name. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Service-time distributions a request class may name (scenario `service:`, validated from this list). */
export const SERVICE_DISTRIBUTIONS = ['deterministic', 'exponential', 'lognormal'] as const;
export type ServiceDistribution = (typeof SERVICE_DISTRIBUTIONS)[number];

/** Draw a duration with the given mean from a named distribution (lognormal shape 1 unless given). */
export function drawDuration(rng: Rng, dist: ServiceDistribution, mean: number, lognormalSigma = 1): number {
  switch (dist) {
    case 'deterministic':
      return mean;
    case 'exponential':
      return rng.exponential(mean);
    case 'lognormal':
      return rng.lognormal(mean, lognormalSigma);
  }
}

class XoroshiroRng implements Rng {
  private readonly gen: JumpableRandomGenerator;
  private spareNormal: number | undefined;

  constructor(private readonly seed: number) {
    this.gen = xoroshiro128plus(seed);
    // The first outputs of xoroshiro from a sparse seed are correlated with it: discard a few.
    for (let i = 0; i < 16; i++) this.gen.next();
  }

  next(): number {
    return uniformFloat64(this.gen);
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  normal(): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return z;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  lognormal(mean: number, sigma: number): number {
    const mu = Math.log(mean) - (sigma * sigma) / 2;
    return Math.exp(mu + sigma * this.normal());
  }

  stream(name: string): Rng {
    return new XoroshiroRng(hash32(name, hash32(String(this.seed))) | 0);
  }
}

/** The root Rng of a run. */
export function createRng(seed: number): Rng {
  return new XoroshiroRng(seed | 0);
}
