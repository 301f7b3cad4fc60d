// Option objects: a key nobody reads is an error, never ignored. One check for every public entry
// point (models, MTLTrainer, createStrategy, readCsv, torchRechubModel); each words its own error.

/** The own keys of `given` that are not in `known`. */
export function unknownKeys(given: object, known: readonly string[]): string[] {
  return Object.keys(given).filter((k) => !known.includes(k));
}

/** A known name that differs from `key` only in case or in a letter or two, if any. */
/** Edit distance (insertions, deletions, substitutions) between a and b. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length];
}

/**
 * The known name closest to `key` within two edits, case, '-' and '_' set aside (so 'bach-size',
 * 'batchsize' and 'Batch_Size' all find 'batch-size'); undefined when none is that close.
 */
function nearMiss(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const k = norm(key);
  let best: string | undefined;
  let bestDistance = 3;
  for (const o of known) {
    const d = editDistance(norm(o), k);
    if (d < bestDistance) [best, bestDistance] = [o, d];
  }
  return best;
}

/** `'a' (did you mean 'b'?), 'c'`: the unknown names, each with a near miss when there is one. */
export function describeUnknown(unknown: readonly string[], known: readonly string[]): string {
  return unknown
    .map((k) => {
      const near = nearMiss(k, known);
      return `'${k}'${near ? ` (did you mean '${near}'?)` : ''}`;
    })
    .join(', ');
}

/** Throws `make(message)` when `given` has keys outside `known`: "<where>: unknown option 'x'; the options are …". */
export function checkOptionNames(
  where: string,
  given: object,
  known: readonly string[],
  make: (message: string) => Error = (m) => new Error(m),
): void {
  const unknown = unknownKeys(given, known);
  if (unknown.length)
    throw make(
      `${where}: unknown option${unknown.length > 1 ? 's' : ''} ${describeUnknown(unknown, known)}; the options are ${known.join(', ')}`,
    );
}
