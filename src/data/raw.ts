// Raw rows as a file engine hands them over, before any preprocessing: one typed array (or string
// list) per column for a block of consecutive rows of one file. The schema says how each column is
// stored (its SourceType); the preprocessor turns raw blocks into training-ready columns.

/** How a file stores a column: whole numbers, real numbers, or text. */
export type SourceType = 'int' | 'float' | 'string';

export const SOURCE_TYPES: readonly SourceType[] = ['int', 'float', 'string'];

/**
 * One column of a raw block.
 * - `int`: whole numbers (Float64Array keeps 64-bit ids exact up to 2^53); `missing[i] === 1` marks an
 *   empty cell (its value is then 0).
 * - `float`: real numbers; an empty cell is NaN.
 * - `string`: text; an empty cell is null.
 */
export type RawColumn =
  | { type: 'int'; values: Int32Array | Float64Array; missing?: Uint8Array }
  | { type: 'float'; values: Float32Array | Float64Array }
  | { type: 'string'; values: (string | null)[] };

/** Consecutive rows of one file. */
export interface RawBlock {
  rows: number;
  columns: Record<string, RawColumn>;
  /**
   * Where the rows come from, for error messages: the file and the 0-based data row of the block's
   * first row; `rows` gives each row's data row when they are not consecutive (a selection).
   */
  source: { file: string; firstRow: number; rows?: Int32Array };
}

/**
 * "data.csv line 19 (data row 18)" (the header is line 1; exact unless quoted cells span lines), or
 * "part-0.parquet row 18" for files without lines.
 */
export function rowPlace(source: RawBlock['source'], rowInBlock: number): string {
  const row = source.rows ? source.rows[rowInBlock] : source.firstRow + rowInBlock;
  if (/\.parquet$/i.test(source.file)) return `${source.file} row ${row + 1}`;
  return `${source.file} line ${row + 2} (data row ${row + 1})`;
}

/** The rows `rows` (ascending positions) of a block, as a new block; its source keeps the first row's place. */
export function selectRawRows(block: RawBlock, rows: Int32Array): RawBlock {
  const columns: Record<string, RawColumn> = {};
  for (const [name, col] of Object.entries(block.columns)) {
    if (col.type === 'string') {
      const values = new Array<string | null>(rows.length);
      for (let i = 0; i < rows.length; i++) values[i] = col.values[rows[i]];
      columns[name] = { type: 'string', values };
    } else if (col.type === 'int') {
      const values = new (col.values.constructor as Int32ArrayConstructor | Float64ArrayConstructor)(rows.length);
      for (let i = 0; i < rows.length; i++) values[i] = col.values[rows[i]];
      let missing: Uint8Array | undefined;
      if (col.missing) {
        missing = new Uint8Array(rows.length);
        for (let i = 0; i < rows.length; i++) missing[i] = col.missing[rows[i]];
      }
      columns[name] = { type: 'int', values, missing };
    } else {
      const values = new (col.values.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(rows.length);
      for (let i = 0; i < rows.length; i++) values[i] = col.values[rows[i]];
      columns[name] = { type: 'float', values };
    }
  }
  const dataRows = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) dataRows[i] = block.source.rows ? block.source.rows[rows[i]] : block.source.firstRow + rows[i];
  return {
    rows: rows.length,
    columns,
    source: { file: block.source.file, firstRow: dataRows[0] ?? block.source.firstRow, rows: dataRows },
  };
}
