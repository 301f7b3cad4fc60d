// Seeded randomness with no engine behind it: sfc32 seeded through splitmix32, so the same seed gives
// the same stream on every platform. The tensor layer (initialisers, dropout seeds) and the data layer
// (shuffling, synthetic data) both draw from it.

/** One step of splitmix32: a good 32-bit mixer, used to turn a seed into generator state. */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Combines a seed with a stream label (a number or a string) into a new 32-bit seed. */
export function deriveSeed(seed: number, label: number | string): number {
  let h = mix32(seed >>> 0);
  if (typeof label === 'number') return mix32(h ^ mix32(label >>> 0));
  for (let i = 0; i < label.length; i++) h = mix32(h ^ label.charCodeAt(i));
  return mix32(h ^ label.length);
}

/** Seeded generator (sfc32). Same seed, same sequence, on every platform. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  constructor(readonly seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Random: seed must be a finite number, got ${seed}`);
    const s = Math.trunc(seed) >>> 0;
    this.a = mix32(s);
    this.b = mix32(this.a ^ 0x1b873593);
    this.c = mix32(this.b ^ 0xcc9e2d51);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A new, independent generator for a named sub-stream (keeps streams stable when code changes). */
  fork(label: number | string): Random {
    return new Random(deriveSeed(this.seed, label));
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.uniform();
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** The generator's position in its stream (four words and the kept normal), for checkpoints. */
  getState(): RandomState {
    return { words: [this.a, this.b, this.c, this.d], spareNormal: this.spareNormal };
  }

  /** Continues from a getState() snapshot (of a generator with any seed). */
  setState(state: RandomState): void {
    if (!isRandomState(state))
      throw new Error(`Random: not a generator state (four 32-bit integers and spareNormal): ${JSON.stringify(state)}`);
    [this.a, this.b, this.c, this.d] = state.words;
    this.spareNormal = state.spareNormal;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

export interface RandomState {
  words: [number, number, number, number];
  spareNormal: number | null;
}

export function isRandomState(x: unknown): x is RandomState {
  const s = x as RandomState;
  return (
    !!s &&
    Array.isArray(s.words) &&
    s.words.length === 4 &&
    s.words.every((w) => Number.isInteger(w) && w >= -2147483648 && w <= 2147483647) &&
    (s.spareNormal === null || Number.isFinite(s.spareNormal))
  );
}
