// The data layer's randomness: the seeded generator of src/rng.ts under the name the data code uses,
// and a Zipf-like id sampler for skewed popularity.
import { deriveSeed, mix32, Random } from '../rng.js';

export { deriveSeed, mix32, Random as Rng };

type Rng = Random;

/**
 * Draws ids 0..n-1 with Zipf-like popularity: the k-th most popular id has weight 1/(k + 1 + offset)^exponent.
 * Which id gets which popularity rank is a seeded shuffle, so popular ids are spread over the range.
 */
export class ZipfSampler {
  private readonly cdf: Float64Array;
  private readonly idOfRank: Int32Array;

  constructor(
    readonly n: number,
    rng: Rng,
    readonly exponent = 1.1,
    offset = 2,
  ) {
    if (!(n >= 1)) throw new Error(`ZipfSampler needs at least one id, got n = ${n}`);
    const cdf = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) {
      total += 1 / (k + 1 + offset) ** exponent;
      cdf[k] = total;
    }
    for (let k = 0; k < n; k++) cdf[k] /= total;
    this.cdf = cdf;
    this.idOfRank = rng.permutation(n);
  }

  /** Probability of the id at popularity rank k (0 = most popular). */
  rankProbability(k: number): number {
    return k === 0 ? this.cdf[0] : this.cdf[k] - this.cdf[k - 1];
  }

  sample(rng: Rng): number {
    const u = rng.uniform();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return this.idOfRank[lo];
  }
}
