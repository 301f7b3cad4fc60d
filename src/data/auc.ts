// Exact ROC AUC with ties counted as half: the probability that a random positive scores above a
// random negative. Sorting positives and negatives separately keeps it O(n log n) on native sorts.

/**
 * AUC of `scores` against binary `labels` (label > 0.5 is positive).
 * Returns NaN when there are no positives or no negatives. Throws on NaN scores.
 * `rows` restricts the computation to those row indices (e.g. the clicked rows for a CVR AUC).
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>, rows?: ArrayLike<number>): number {
  if (labels.length !== scores.length) {
    throw new Error(`rocAuc: ${labels.length} labels but ${scores.length} scores; they must have the same length.`);
  }
  const n = rows ? rows.length : labels.length;
  let nPos = 0;
  for (let k = 0; k < n; k++) if (labels[rows ? rows[k] : k] > 0.5) nPos++;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;

  const pos = new Float64Array(nPos);
  const neg = new Float64Array(nNeg);
  let p = 0;
  let q = 0;
  for (let k = 0; k < n; k++) {
    const i = rows ? rows[k] : k;
    const s = scores[i];
    if (Number.isNaN(s)) throw new Error(`rocAuc: score at row ${i} is NaN; AUC needs finite scores.`);
    if (labels[i] > 0.5) pos[p++] = s;
    else neg[q++] = s;
  }
  pos.sort();
  neg.sort();

  // For each positive: negatives strictly below count 1, equal ones count 1/2.
  let below = 0;
  let belowOrEqual = 0;
  let wins = 0;
  for (let k = 0; k < nPos; k++) {
    const s = pos[k];
    while (below < nNeg && neg[below] < s) below++;
    if (belowOrEqual < below) belowOrEqual = below;
    while (belowOrEqual < nNeg && neg[belowOrEqual] <= s) belowOrEqual++;
    wins += below + 0.5 * (belowOrEqual - below);
  }
  return wins / (nPos * nNeg);
}
