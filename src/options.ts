// Option objects: a key nobody reads is an error, never ignored. One check for every public entry
// point (models, MTLTrainer, createStrategy, readCsv, torchRechubModel); each words its own error.

/** The own keys of `given` that are not in `known`. */
export function unknownKeys(given: object, known: readonly string[]): string[] {
  return Object.keys(given).filter((k) => !known.includes(k));
}

/** A known name that differs from `key` only in case or in a letter or two, if any. */
function nearMiss(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  return known.find((o) => {
    const n = o.toLowerCase();
    return n === k || (Math.abs(n.length - k.length) <= 2 && [...n].filter((c, i) => c !== k[i]).length <= 2);
  });
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
