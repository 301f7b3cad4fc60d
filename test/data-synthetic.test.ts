// Synthetic generators (Ali-CCP schema, MMoE paper) and the exact AUC they report.
import { describe, expect, it } from 'vitest';
import {
  aliCcpCsvText,
  aliCcpSchema,
  type Column,
  generateAliCcp,
  generateAliCcpSplits,
  generateMmoeSynthetic,
  parseCsv,
  Rng,
  rocAuc,
  SequenceColumn,
  scaledAliCcpVocab,
  validateSparseIds,
} from '../src/data/index.js';

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

function sameArrays(a: ArrayLike<number> | Column, b: ArrayLike<number> | Column): boolean {
  a = a instanceof SequenceColumn ? a.values : a;
  b = b instanceof SequenceColumn ? b.values : b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('rocAuc', () => {
  it('handles perfect, reversed and tied scores', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])).toBe(1);
    expect(rocAuc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])).toBe(0);
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    // positives 0.4, 0.6; negatives 0.4, 0.2 → pairs: (0.4 vs 0.4) ½, (0.4 vs 0.2) 1, (0.6 vs both) 2 → 3.5 / 4
    expect(rocAuc([1, 0, 1, 0], [0.4, 0.4, 0.6, 0.2])).toBe(0.875);
    expect(rocAuc([1, 1], [0.3, 0.4])).toBeNaN();
  });

  it('equals the pairwise definition on random scores with many ties', () => {
    const rng = new Rng(5);
    const n = 400;
    const labels = Float32Array.from({ length: n }, () => (rng.uniform() < 0.3 ? 1 : 0));
    const scores = Float32Array.from({ length: n }, (_, i) => Math.round((labels[i] + rng.normal()) * 4) / 4);
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      if (labels[i] !== 1) continue;
      for (let j = 0; j < n; j++) {
        if (labels[j] !== 0) continue;
        pairs++;
        wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
    expect(rocAuc(labels, scores)).toBeCloseTo(wins / pairs, 12);
    // restricted to a subset of rows
    const rows = Int32Array.from({ length: 100 }, (_, k) => k * 4);
    const sub = rocAuc(
      Array.from(rows, (r) => labels[r]),
      Array.from(rows, (r) => scores[r]),
    );
    expect(rocAuc(labels, scores, rows)).toBeCloseTo(sub, 12);
  });
});

describe('generateAliCcp', () => {
  const big = generateAliCcp({ rows: 100_000, seed: 1 });

  it('has the Ali-CCP columns and types', () => {
    const { dataset } = big;
    expect(dataset.length).toBe(100_000);
    expect(dataset.labelNames).toEqual(['click', 'purchase']);
    expect(dataset.featureNames.sort()).toEqual([...aliCcpSchema.sparseColumns, ...aliCcpSchema.denseColumns].sort());
    for (const name of aliCcpSchema.sparseColumns) expect(dataset.columns[name]).toBeInstanceOf(Int32Array);
    for (const name of aliCcpSchema.denseColumns) expect(dataset.columns[name]).toBeInstanceOf(Float32Array);
    expect(big.vocabSizes).toEqual({ ...aliCcpSchema.vocabSizes });
  });

  it('keeps every id inside the schema vocabulary and dense values in [0, 1]', () => {
    for (const name of aliCcpSchema.sparseColumns) {
      expect(() => validateSparseIds(name, big.dataset.columns[name] as Int32Array, big.vocabSizes[name])).not.toThrow();
    }
    for (const name of aliCcpSchema.denseColumns) {
      const col = big.dataset.columns[name] as Float32Array;
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of col) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
      expect(hi).toBeGreaterThan(lo);
    }
  });

  it('never has a purchase without a click, and hits the target rates', () => {
    const y = big.dataset.labels;
    let orphan = 0;
    for (let i = 0; i < big.dataset.length; i++) if (y[2 * i + 1] === 1 && y[2 * i] !== 1) orphan++;
    expect(orphan).toBe(0);
    expect(big.oracle.clickRate).toBeGreaterThan(0.27);
    expect(big.oracle.clickRate).toBeLessThan(0.33);
    expect(big.oracle.purchaseRate).toBeGreaterThan(0.03);
    expect(big.oracle.purchaseRate).toBeLessThan(0.05);
  });

  it('plants a learnable but imperfect signal (oracle AUCs in a sensible band)', () => {
    const { oracle, truth, dataset } = big;
    expect(oracle.clickAuc).toBeGreaterThan(0.76);
    expect(oracle.clickAuc).toBeLessThan(0.83);
    expect(oracle.purchaseAuc).toBeGreaterThan(0.8);
    expect(oracle.purchaseAuc).toBeLessThan(0.92);
    expect(oracle.cvrAucOnClicked).toBeGreaterThan(0.74);
    expect(oracle.cvrAucOnClicked).toBeLessThan(0.88);
    // CTR and CVR signals are related but different tasks.
    const corr = pearson(truth.pCtr, truth.pCvr);
    expect(corr).toBeGreaterThan(0.1);
    expect(corr).toBeLessThan(0.8);
    // The oracle really comes from the labels: shuffled scores give ~0.5.
    const shuffled = new Rng(3).permutation(dataset.length).map((i) => truth.pCtr[i]);
    expect(Math.abs(rocAuc(dataset.label(0), shuffled) - 0.5)).toBeLessThan(0.02);
  });

  it('draws ids with skewed popularity, so embeddings see repeats', () => {
    const items = big.dataset.columns['205'] as Int32Array;
    const counts = new Map<number, number>();
    for (const id of items) counts.set(id, (counts.get(id) ?? 0) + 1);
    const sorted = [...counts.values()].sort((a, b) => b - a);
    const top100 = sorted.slice(0, 100).reduce((a, b) => a + b, 0);
    expect(top100 / items.length).toBeGreaterThan(0.4); // 100 of 12,000 items take ~half the impressions
    expect(counts.size).toBeGreaterThan(2000); // …and the tail is long
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateAliCcp({ rows: 3000, seed: 42, vocabScale: 0.1 });
    const b = generateAliCcp({ rows: 3000, seed: 42, vocabScale: 0.1 });
    const c = generateAliCcp({ rows: 3000, seed: 43, vocabScale: 0.1 });
    for (const name of a.dataset.featureNames) expect(sameArrays(a.dataset.columns[name], b.dataset.columns[name])).toBe(true);
    expect(sameArrays(a.dataset.labels, b.dataset.labels)).toBe(true);
    expect(sameArrays(a.dataset.columns['205'], c.dataset.columns['205'])).toBe(false);
    expect(sameArrays(a.dataset.labels, c.dataset.labels)).toBe(false);
    // a different world changes the users' attributes too
    const w = generateAliCcp({ rows: 3000, seed: 42, vocabScale: 0.1, worldSeed: 7 });
    expect(sameArrays(a.dataset.columns['121'], w.dataset.columns['121'])).toBe(false);
  });

  it('scales vocabularies and keeps rates when vocabScale changes', () => {
    const small = generateAliCcp({ rows: 20_000, seed: 2, vocabScale: 0.05 });
    expect(small.vocabSizes).toEqual(scaledAliCcpVocab(0.05));
    expect(small.vocabSizes['205']).toBe(600);
    expect(small.vocabSizes['101']).toBe(10);
    for (const name of aliCcpSchema.sparseColumns) {
      expect(() => validateSparseIds(name, small.dataset.columns[name] as Int32Array, small.vocabSizes[name])).not.toThrow();
    }
    expect(small.oracle.clickRate).toBeGreaterThan(0.26);
    expect(small.oracle.clickRate).toBeLessThan(0.34);
  });

  it('makes train/val/test splits from one world', () => {
    const s = generateAliCcpSplits({ train: 2000, val: 500, test: 700, seed: 9, vocabScale: 0.1 });
    expect([s.train.length, s.val.length, s.test.length]).toEqual([2000, 500, 700]);
    expect(s.labelColumns).toEqual(['click', 'purchase']);
    expect(s.sparseColumns).toHaveLength(23);
    // same world: a user's profile field is the same in every split
    const profile = new Map<number, number>();
    for (const ds of [s.train, s.val, s.test]) {
      const users = ds.columns['101'] as Int32Array;
      const gender = ds.columns['121'] as Int32Array;
      for (let i = 0; i < ds.length; i++) {
        const seen = profile.get(users[i]);
        if (seen === undefined) profile.set(users[i], gender[i]);
        else expect(gender[i]).toBe(seen);
      }
    }
    expect(sameArrays((s.train.columns['205'] as Int32Array).subarray(0, 500), s.val.columns['205'])).toBe(false);
  });

  it('writes CSV text with the sample header', () => {
    const g = generateAliCcp({ rows: 50, seed: 4, vocabScale: 0.1 });
    const text = aliCcpCsvText(g.dataset);
    expect(text.split('\n')[0]).toBe(aliCcpSchema.header.join(','));
    const back = parseCsv(text);
    expect(back.numRows).toBe(50);
    expect(sameArrays(back.columns.D702, g.dataset.columns.D702)).toBe(true);
    expect(sameArrays(back.columns.click, g.dataset.label('click'))).toBe(true);
  });

  it('generates a 200k-row set with the schema and purchase ⇒ click', () => {
    const g = generateAliCcp({ rows: 200_000, seed: 77 });
    expect(g.dataset.length).toBe(200_000);
    const [click, purchase] = [g.dataset.label('click'), g.dataset.label('purchase')];
    for (let i = 0; i < click.length; i++) if (purchase[i] === 1) expect(click[i]).toBe(1);
  });
});

describe('generateMmoeSynthetic', () => {
  it('builds orthonormal directions and weight vectors with cosine ρ', () => {
    const g = generateMmoeSynthetic({ rows: 10, correlation: 0.7, seed: 1 });
    const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, k) => s + v * b[k], 0);
    expect(dot(g.w1, g.w1)).toBeCloseTo(1, 10);
    expect(dot(g.w2, g.w2)).toBeCloseTo(1, 10);
    expect(dot(g.w1, g.w2)).toBeCloseTo(0.7, 10);
    expect(g.alpha).toHaveLength(10);
    expect(g.dim).toBe(100);
  });

  it('gives w1ᵀx and w2ᵀx a Pearson correlation ≈ ρ', () => {
    for (const rho of [0.9, 0.5, 0, -0.5]) {
      const g = generateMmoeSynthetic({ rows: 8000, dim: 32, correlation: rho, seed: 3 });
      const z1 = new Float64Array(g.rows);
      const z2 = new Float64Array(g.rows);
      for (let r = 0; r < g.rows; r++) {
        for (let k = 0; k < g.dim; k++) {
          z1[r] += g.w1[k] * g.x[r * g.dim + k];
          z2[r] += g.w2[k] * g.x[r * g.dim + k];
        }
      }
      expect(Math.abs(pearson(z1, z2) - rho)).toBeLessThan(0.04);
    }
  });

  it('labels follow the formula and their correlation falls with ρ', () => {
    const corr = (rho: number) => {
      const g = generateMmoeSynthetic({ rows: 6000, dim: 16, correlation: rho, seed: 8, noise: 0 });
      // check row 0 against the formula
      let z = 0;
      for (let k = 0; k < g.dim; k++) z += g.w1[k] * g.x[k];
      let y = z;
      for (let i = 0; i < g.alpha.length; i++) y += Math.sin(g.alpha[i] * z + g.beta[i]);
      expect(g.y[0]).toBeCloseTo(y, 4);
      const y1 = Float32Array.from({ length: g.rows }, (_, r) => g.y[2 * r]);
      const y2 = Float32Array.from({ length: g.rows }, (_, r) => g.y[2 * r + 1]);
      return pearson(y1, y2);
    };
    const high = corr(0.9);
    const low = corr(0.1);
    expect(high).toBeGreaterThan(low + 0.2);
    expect(corr(1)).toBeCloseTo(1, 5);
  });

  it('is deterministic, and converts to a dataset of dense columns', () => {
    const a = generateMmoeSynthetic({ rows: 200, dim: 8, correlation: 0.5, seed: 5 });
    const b = generateMmoeSynthetic({ rows: 200, dim: 8, correlation: 0.5, seed: 5 });
    const c = generateMmoeSynthetic({ rows: 200, dim: 8, correlation: 0.5, seed: 6 });
    expect(sameArrays(a.x, b.x) && sameArrays(a.y, b.y)).toBe(true);
    expect(sameArrays(a.x, c.x)).toBe(false);
    const ds = a.toDataset();
    expect(ds.featureNames).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7']);
    expect((ds.columns.x3 as Float32Array)[10]).toBe(a.x[10 * 8 + 3]);
    expect(ds.labelNames).toEqual(['y1', 'y2']);
    expect(() => generateMmoeSynthetic({ rows: 1, correlation: 1.5, seed: 0 })).toThrow(/correlation/);
  });

  it('adds noise with variance `noise`', () => {
    const clean = generateMmoeSynthetic({ rows: 5000, dim: 8, correlation: 0.5, seed: 2, noise: 0 });
    const noisy = generateMmoeSynthetic({ rows: 5000, dim: 8, correlation: 0.5, seed: 2, noise: 0.04 });
    let sq = 0;
    for (let i = 0; i < clean.y.length; i++) sq += (noisy.y[i] - clean.y[i]) ** 2;
    expect(Math.sqrt(sq / clean.y.length)).toBeCloseTo(0.2, 1);
  });
});
