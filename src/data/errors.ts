// One error type for every data problem, carrying the place and the value as fields so that
// tools can react to them; the message always says what is wrong, where, and how to fix it.

export interface DataErrorDetails {
  /** Column or feature name. */
  column?: string;
  /** 0-based row index in the table or array (CSV errors also give the file line in the message). */
  row?: number;
  /** The offending value, as read. */
  value?: unknown;
}

export class DataError extends Error {
  readonly column?: string;
  readonly row?: number;
  readonly value?: unknown;

  constructor(message: string, details: DataErrorDetails = {}) {
    super(message);
    this.name = 'DataError';
    this.column = details.column;
    this.row = details.row;
    this.value = details.value;
  }
}

/** Lists names for an error message, shortening very long lists. */
export function listNames(names: readonly string[], max = 40): string {
  const shown = names.slice(0, max).map((n) => JSON.stringify(n));
  const rest = names.length > max ? `, … (${names.length - max} more)` : '';
  return shown.join(', ') + rest;
}

export function missingColumnError(name: string, available: readonly string[], where = 'the data'): DataError {
  return new DataError(
    `Column "${name}" is missing from ${where}. Available columns: ${listNames(available)}. ` +
      `Fix: check the spelling and the file's header, or remove "${name}" from the feature/label list.`,
    { column: name },
  );
}
