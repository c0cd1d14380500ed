import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

/**
 * The seeded source of every random draw (no Math.random in model code: `npm run lint`). One
 * scenario seed gives a root Rng; each consumer takes its own named stream, so adding a consumer
 * never shifts the draws of the others and the same seed always replays the same run.
 */
export interface Rng extends Draws {
  /** An independent stream derived from this one's seed and a name. */
  stream(name: string): Rng;
}

/** The draws themselves, what a distribution needs of a generator. */
export interface Draws {
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

/** MurmurHash3's 32-bit finalizer (Appleby, public domain): full avalanche of a 32-bit value. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Service-time distributions a request class may name (scenario `service:`, validated from this list). */
export const SERVICE_DISTRIBUTIONS = ['deterministic', 'exponential', 'lognormal'] as const;
export type ServiceDistribution = (typeof SERVICE_DISTRIBUTIONS)[number];

/** Draw a duration with the given mean from a named distribution (lognormal shape 1 unless given). */
export function drawDuration(rng: Draws, dist: ServiceDistribution, mean: number, lognormalSigma = 1): number {
  switch (dist) {
    case 'deterministic':
      return mean;
    case 'exponential':
      return rng.exponential(mean);
    case 'lognormal':
      return rng.lognormal(mean, lognormalSigma);
  }
}

/** The distributions, on any source of uniform draws. */
abstract class DrawsFromUniform implements Draws {
  /**
   * The second normal of the last Box-Muller pair, kept as its radius and angle draw and worked out
   * only if asked for (NaN: none): a request's cost takes one normal, and the sine of the other
   * was a wasted call per heavy-tailed draw.
   */
  protected spareRadius = Number.NaN;
  private spareAngle = 0;
  /** The lognormal's mu for the last (mean, sigma): one class's draws reuse it instead of a log each. */
  private lognormalMean = Number.NaN;
  private lognormalSigma = Number.NaN;
  private lognormalMu = 0;

  abstract next(): number;

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  normal(): number {
    if (!Number.isNaN(this.spareRadius)) {
      const z = this.spareRadius * Math.sin(2 * Math.PI * this.spareAngle);
      this.spareRadius = Number.NaN;
      return z;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareRadius = r;
    this.spareAngle = v;
    return r * Math.cos(2 * Math.PI * v);
  }

  lognormal(mean: number, sigma: number): number {
    if (mean !== this.lognormalMean || sigma !== this.lognormalSigma) {
      this.lognormalMean = mean;
      this.lognormalSigma = sigma;
      this.lognormalMu = Math.log(mean) - (sigma * sigma) / 2;
    }
    return Math.exp(this.lognormalMu + sigma * this.normal());
  }
}

class XoroshiroRng extends DrawsFromUniform implements Rng {
  private readonly gen: JumpableRandomGenerator;

  constructor(private readonly seed: number) {
    super();
    this.gen = xoroshiro128plus(seed);
    // The first outputs of xoroshiro from a sparse seed are correlated with it: discard a few.
    for (let i = 0; i < 16; i++) this.gen.next();
  }

  next(): number {
    return uniformFloat64(this.gen);
  }

  stream(name: string): Rng {
    return new XoroshiroRng(hash32(name, hash32(String(this.seed))) | 0);
  }
}

/** The root Rng of a run. */
export function createRng(seed: number): Rng {
  return new XoroshiroRng(seed | 0);
}

const GOLDEN_GAMMA = 0x9e3779b9;

/**
 * Draws that depend on (seed, name, index) alone, in any order and on any machine: `at(i)` gives
 * request i's own draws, so its cost is the same whichever replica serves it, live or simulated,
 * and whenever it runs. A sequential stream cannot do that live, where requests reach replicas in
 * an order the policy decides. Counter-based, as in Salmon et al., "Parallel random numbers: as
 * easy as 1, 2, 3" (SC 2011): the k-th draw of index i hashes (key(seed, name, i), k) with
 * MurmurHash3's finalizer, twice for a 53-bit uniform. Hand-written: pure-rand's generators are
 * sequential, and no maintained npm package offers a counter-based one. One object is reused for
 * every index (no allocation per request).
 */
export class IndexedDraws extends DrawsFromUniform {
  private readonly base: number;
  private key = 0;
  private counter = 0;

  constructor(seed: number, name: string) {
    super();
    this.base = hash32(name, hash32(String(seed | 0)));
  }

  /** Position the draws at index `index` (an integer >= 0), from its first draw. */
  at(index: number): this {
    const high = Math.floor(index / 0x1_0000_0000);
    this.key = fmix32(this.base ^ fmix32((index >>> 0) ^ fmix32(high + GOLDEN_GAMMA)));
    this.counter = 0;
    this.spareRadius = Number.NaN;
    return this;
  }

  next(): number {
    const k = ++this.counter;
    const hi = fmix32(this.key ^ Math.imul(k, GOLDEN_GAMMA)) >>> 5; // 27 bits
    const lo = fmix32(hi ^ Math.imul(this.key + k, 0x85ebca6b)) >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}
