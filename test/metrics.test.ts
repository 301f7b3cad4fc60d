import { describe, expect, it } from 'vitest';
import { accuracy, auc, evaluateTask, gauc, logloss, mae, mse } from '../src/train/metrics.js';

/** AUC by definition: over all (positive, negative) pairs, 1 when the positive scores higher, 1/2 on a tie. */
function pairwiseAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i] > scores[j]) wins++;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('auc', () => {
  it('hand-computed values', () => {
    expect(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).value).toBe(0.75);
    expect(auc([0, 1], [0.2, 0.9]).value).toBe(1);
    expect(auc([1, 0], [0.2, 0.9]).value).toBe(0);
    // Ties: pairs (p=0.5 vs n=0.5) count half. Positives {0.5, 0.9}, negatives {0.5, 0.1}:
    // 0.5 vs 0.5 → ½, 0.5 vs 0.1 → 1, 0.9 vs both → 2; total 3.5 / 4.
    expect(auc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1]).value).toBe(0.875);
    // All scores equal → 0.5.
    expect(auc([1, 0, 0, 1, 0], [0.3, 0.3, 0.3, 0.3, 0.3]).value).toBe(0.5);
  });

  it('equals the pairwise count on random data with many ties', () => {
    const r = lcg(7);
    for (let trial = 0; trial < 20; trial++) {
      const n = 50 + trial * 17;
      const labels = Float32Array.from({ length: n }, () => (r() < 0.3 ? 1 : 0));
      // Scores on a coarse grid so ties are common, and occasionally ±Infinity.
      const scores = Float32Array.from({ length: n }, () => (r() < 0.02 ? (r() < 0.5 ? -Infinity : Infinity) : Math.round(r() * 20) / 20));
      const got = auc(labels, scores);
      expect(got.value).not.toBeNull();
      expect(got.value!).toBeCloseTo(pairwiseAuc(labels, scores), 12);
    }
  });

  it('one class or NaN scores: null with a reason, not NaN or a crash', () => {
    const neg = auc([0, 0, 0], [0.1, 0.2, 0.3]);
    expect(neg.value).toBeNull();
    expect(neg.reason).toMatch(/all 3 labels are negative/);
    expect(auc(new Float32Array([1, 1]), new Float32Array([0.1, 0.2])).reason).toMatch(/all 2 labels are positive/);
    const nan = auc([0, 1], [0.5, NaN]);
    expect(nan.value).toBeNull();
    expect(nan.reason).toMatch(/row 1 is NaN/);
  });

  it('rejects mismatched lengths and empty sets', () => {
    expect(() => auc([0, 1], [0.5])).toThrow(/2 labels but 1 predictions/);
    expect(() => auc([], [])).toThrow(/empty/);
  });

  it('100k rows in well under a second (O(n log n))', () => {
    const n = 100_000;
    const r = lcg(1);
    const labels = Float32Array.from({ length: n }, () => (r() < 0.1 ? 1 : 0));
    const scores = Float32Array.from({ length: n }, () => r());
    const groups = Int32Array.from({ length: n }, () => Math.floor(r() * 5000));
    // Speed belongs to benchmarks; here only that 100k rows of random scores give AUC ≈ 0.5.
    const a = auc(labels, scores).value!;
    const g = gauc(labels, scores, groups).value!;
    expect(Math.abs(a - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(g - 0.5)).toBeLessThan(0.05);
  });
});

describe('gauc', () => {
  it('impression-weighted mean over groups with both classes', () => {
    // group 7: labels 1,0,0 scores .9,.1,.5 → AUC 1, 3 rows
    // group 3: labels 0,1 scores .8,.2 → AUC 0, 2 rows
    // group 5: one class (skipped)
    // group 9: labels 1,0,1,0 scores .5,.5,.9,.1 → AUC 0.875, 4 rows
    const labels = [1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0];
    const scores = [0.9, 0.1, 0.5, 0.8, 0.2, 0.3, 0.7, 0.5, 0.5, 0.9, 0.1];
    const groups = Int32Array.from([7, 7, 7, 3, 3, 5, 5, 9, 9, 9, 9]);
    const g = gauc(labels, scores, groups);
    expect(g.value).toBeCloseTo((3 * 1 + 2 * 0 + 4 * 0.875) / 9, 12);
    expect(g.groupsUsed).toBe(3);
    expect(g.groupsSkipped).toBe(1);
  });

  it('equals a direct per-group computation on random data', () => {
    const r = lcg(3);
    const n = 2000;
    const labels = Float32Array.from({ length: n }, () => (r() < 0.4 ? 1 : 0));
    const scores = Float32Array.from({ length: n }, () => Math.round(r() * 10) / 10);
    const groups = Int32Array.from({ length: n }, () => Math.floor(r() * 60) - 30);
    let num = 0;
    let den = 0;
    for (const id of new Set(groups)) {
      const rows = [...groups.keys()].filter((i) => groups[i] === id);
      const l = rows.map((i) => labels[i]);
      if (l.every((x) => x === l[0])) continue;
      num +=
        rows.length *
        pairwiseAuc(
          l,
          rows.map((i) => scores[i]),
        );
      den += rows.length;
    }
    expect(gauc(labels, scores, groups).value).toBeCloseTo(num / den, 12);
  });

  it('null with a reason when no group has both classes', () => {
    const g = gauc([1, 0, 1], [0.2, 0.3, 0.4], Int32Array.from([1, 2, 3]));
    expect(g.value).toBeNull();
    expect(g.reason).toMatch(/none of the 3 groups/);
    expect(() => gauc([1, 0], [0.1, 0.2], Int32Array.from([1]))).toThrow(/group ids/);
  });
});

describe('pointwise metrics', () => {
  it('logloss', () => {
    const want = -(Math.log(0.9) + Math.log(1 - 0.2) + Math.log(0.6)) / 3;
    expect(logloss([1, 0, 1], [0.9, 0.2, 0.6])).toBeCloseTo(want, 12);
    // Probabilities 0 and 1 are clamped to [eps, 1 − eps]: finite loss.
    expect(logloss([1, 0], [0, 1])).toBeCloseTo(-Math.log(1e-7), 6);
    expect(logloss([1, 0], [0, 1], 1e-3)).toBeCloseTo(-Math.log(1e-3), 9);
    expect(logloss([1, 0], [1, 0])).toBeCloseTo(-Math.log(1 - 1e-7), 12);
  });

  it('mse, mae, accuracy', () => {
    expect(mse([1, 2, 3], [1.5, 2, 1])).toBeCloseTo((0.25 + 0 + 4) / 3, 12);
    expect(mae([1, 2, 3], [1.5, 2, 1])).toBeCloseTo((0.5 + 0 + 2) / 3, 12);
    // 0.5 itself is not above the threshold.
    expect(accuracy([1, 0, 1, 0], [0.7, 0.5, 0.5, 0.2])).toBe(0.75);
    expect(() => mse([1], [1, 2])).toThrow(/same length/);
  });
});

describe('evaluateTask', () => {
  it('classification', () => {
    const labels = new Float32Array([0, 0, 1, 1]);
    const preds = new Float32Array([0.1, 0.4, 0.35, 0.8]);
    const r = evaluateTask('classification', labels, preds);
    expect(r).toEqual({ type: 'classification', auc: 0.75, logloss: logloss(labels, preds), n: 4, positives: 2 });
  });

  it('classification with one class keeps going', () => {
    const r = evaluateTask('classification', [0, 0], [0.1, 0.2]);
    expect(r.auc).toBeNull();
    expect(r.aucReason).toMatch(/negative/);
    expect(r.positives).toBe(0);
    expect(Number.isFinite(r.logloss)).toBe(true);
  });

  it('regression', () => {
    expect(evaluateTask('regression', [1, 2], [2, 2])).toEqual({ type: 'regression', mse: 0.5, mae: 0.5, n: 2 });
    expect(() => evaluateTask('ranking' as 'regression', [1], [1])).toThrow(/unknown task type/);
  });
});
