// Scalar f64 helpers for the op expressions of src/backend/kernel-table.ts (the `as` column), which
// ops.generated.ts splices into its switch. They compute what the CPU reference computes.

const BCE_LOG_FLOOR: f64 = -100.0; // torch's BCELoss floors each log at -100

/** A log floored at BCE_LOG_FLOOR; NaN compares false and stays NaN. */
@inline export function floorLog(l: f64): f64 {
  return l < BCE_LOG_FLOOR ? BCE_LOG_FLOOR : l;
}

/** Math.pow with C's special cases, as torch.pow and the reference: 1^y = 1 and (-1)^±Inf = 1. */
export function pow64(x: f64, y: f64): f64 {
  if (x == 1.0 || (x == -1.0 && (y == Infinity || y == -Infinity))) return 1.0;
  return Math.pow(x, y);
}

export function sigmoid64(x: f64): f64 {
  if (x >= 0) return 1.0 / (1.0 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1.0 + e);
}
