// Fit-on-train, apply-everywhere preprocessing: label encoding for raw categorical values and
// min-max / standard scaling for dense values.

import { SequenceColumn } from './columns.js';
import { DataError } from './errors.js';

/** The id every unknown (or padding) value maps to. Known values get 1..n. */
export const UNKNOWN_ID = 0;

type Category = string | number;

function compareCategories(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  const bothNumeric = a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && Number.isFinite(y);
  if (bothNumeric && x !== y) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Maps raw categorical values (strings or arbitrary numbers) to dense ids.
 * Id 0 is reserved for unseen values and padding; the n distinct training values get 1..n in sorted
 * order (numbers numerically), so `vocabSize` = n + 1 is what an embedding table needs.
 * Values are compared by their text: 7 and "7" are the same category.
 */
export class LabelEncoder {
  private index = new Map<string, number>();
  private classList: string[] = [];

  get fitted(): boolean {
    return this.classList.length > 0;
  }

  /** The known values, in id order (classes[0] has id 1). */
  get classes(): readonly string[] {
    return this.classList;
  }

  /** Embedding rows needed: known values + the unknown id. */
  get vocabSize(): number {
    return this.classList.length + 1;
  }

  fit(values: ArrayLike<Category>): this {
    const seen = new Set<string>();
    for (let i = 0; i < values.length; i++) seen.add(String(values[i]));
    this.classList = [...seen].sort(compareCategories);
    this.index = new Map(this.classList.map((value, k) => [value, k + 1]));
    return this;
  }

  /** The id of one value (0 when unseen at fit time). */
  encode(value: Category): number {
    return this.index.get(String(value)) ?? UNKNOWN_ID;
  }

  transform(values: ArrayLike<Category>): Int32Array {
    if (!this.fitted) throw new DataError('LabelEncoder.transform was called before fit. Fix: fit it on the training values first.');
    const out = new Int32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = this.index.get(String(values[i])) ?? UNKNOWN_ID;
    return out;
  }

  fitTransform(values: ArrayLike<Category>): Int32Array {
    return this.fit(values).transform(values);
  }

  /** Ids back to values; the unknown id becomes `unknown`. */
  inverseTransform(ids: ArrayLike<number>, unknown = ''): string[] {
    const out: string[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = ids[i] >= 1 ? (this.classList[ids[i] - 1] ?? unknown) : unknown;
    return out;
  }

  toJSON(): { classes: string[] } {
    return { classes: [...this.classList] };
  }

  static fromJSON(state: { classes: readonly string[] }): LabelEncoder {
    const enc = new LabelEncoder();
    enc.classList = [...state.classes];
    enc.index = new Map(enc.classList.map((value, k) => [value, k + 1]));
    return enc;
  }
}

function checkFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new DataError(
        `${what}: value ${values[i]} at row ${i} is not a finite number. Fix: fill missing values (e.g. with 0 or the ` +
          `column mean) or drop those rows before fitting.`,
        { row: i, value: values[i] },
      );
    }
  }
}

/** Scales to [0, 1] using the training minimum and maximum (a constant column maps to 0). */
export class MinMaxScaler {
  min = 0;
  max = 1;
  private fittedFlag = false;

  /** `clip`: clamp transformed values to [0, 1] (values outside the training range otherwise pass through). */
  constructor(readonly options: { clip?: boolean } = {}) {}

  fit(values: ArrayLike<number>): this {
    checkFinite(values, 'MinMaxScaler.fit');
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      if (values[i] < lo) lo = values[i];
      if (values[i] > hi) hi = values[i];
    }
    if (values.length === 0) throw new DataError('MinMaxScaler.fit got no values.');
    this.min = lo;
    this.max = hi;
    this.fittedFlag = true;
    return this;
  }

  transform(values: ArrayLike<number>): Float32Array {
    if (!this.fittedFlag) throw new DataError('MinMaxScaler.transform was called before fit. Fix: fit it on the training column first.');
    const range = this.max - this.min;
    const scale = range > 0 ? 1 / range : 1;
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      let v = (values[i] - this.min) * scale;
      if (this.options.clip) v = v < 0 ? 0 : v > 1 ? 1 : v;
      out[i] = v;
    }
    return out;
  }

  fitTransform(values: ArrayLike<number>): Float32Array {
    return this.fit(values).transform(values);
  }

  inverseTransform(values: ArrayLike<number>): Float32Array {
    const range = this.max - this.min;
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = values[i] * (range > 0 ? range : 1) + this.min;
    return out;
  }
}

/** Scales to zero mean and unit variance using training statistics (population std; constant → std 1). */
export class StandardScaler {
  mean = 0;
  std = 1;
  private fittedFlag = false;

  fit(values: ArrayLike<number>): this {
    checkFinite(values, 'StandardScaler.fit');
    if (values.length === 0) throw new DataError('StandardScaler.fit got no values.');
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i];
    const mean = sum / values.length;
    let sq = 0;
    for (let i = 0; i < values.length; i++) sq += (values[i] - mean) ** 2;
    const std = Math.sqrt(sq / values.length);
    this.mean = mean;
    this.std = std > 0 ? std : 1;
    this.fittedFlag = true;
    return this;
  }

  transform(values: ArrayLike<number>): Float32Array {
    if (!this.fittedFlag) throw new DataError('StandardScaler.transform was called before fit. Fix: fit it on the training column first.');
    const out = new Float32Array(values.length);
    const inv = 1 / this.std;
    for (let i = 0; i < values.length; i++) out[i] = (values[i] - this.mean) * inv;
    return out;
  }

  fitTransform(values: ArrayLike<number>): Float32Array {
    return this.fit(values).transform(values);
  }

  inverseTransform(values: ArrayLike<number>): Float32Array {
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = values[i] * this.std + this.mean;
    return out;
  }
}

export interface Scaler {
  fit(values: ArrayLike<number>): this;
  transform(values: ArrayLike<number>): Float32Array;
}

/**
 * Fits one scaler per column on `train` and transforms the same columns of `train` and every other
 * table (fit on train, apply to val/test). Returns new column maps; the inputs are not modified.
 */
export function scaleColumns<T extends Record<string, ArrayLike<number> | SequenceColumn>>(
  train: T,
  others: readonly T[],
  columns: readonly string[],
  makeScaler: () => Scaler = () => new MinMaxScaler(),
): { train: T; others: T[]; scalers: Record<string, Scaler> } {
  const scalers: Record<string, Scaler> = {};
  const scaled = [train, ...others].map((table) => ({ ...table }) as Record<string, ArrayLike<number> | SequenceColumn>);
  const values = (table: Record<string, ArrayLike<number> | SequenceColumn>, name: string): ArrayLike<number> => {
    const col = table[name];
    if (col instanceof SequenceColumn)
      throw new DataError(`Cannot scale column "${name}": it holds id sequences, not numbers.`, { column: name });
    return col;
  };
  for (const name of columns) {
    if (!(name in train)) {
      throw new DataError(`Cannot scale column "${name}": it is not in the training table (columns: ${Object.keys(train).join(', ')}).`, {
        column: name,
      });
    }
    const scaler = makeScaler().fit(values(train, name));
    scalers[name] = scaler;
    scaled.forEach((table, k) => {
      if (!(name in table)) throw new DataError(`Cannot scale column "${name}": table ${k} lacks it.`, { column: name });
      table[name] = scaler.transform(values(table, name));
    });
  }
  return { train: scaled[0] as T, others: scaled.slice(1) as T[], scalers };
}
