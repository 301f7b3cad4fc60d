// `webmtl predict`: a model bundle scores a table of any size (CSV or Parquet; a file, a folder of
// shards or a glob), block by block, into a CSV or Parquet file of one score column per task (plus
// any columns the user keeps, such as row ids). Memory is one block whatever the table's size. The
// output appears only when complete: it is written to a temporary file and renamed. Node only.
import { ColumnarDataset, type Columns } from '../data/columns.js';
import { DataError, listNames } from '../data/errors.js';
import { type RawBlock, type RawColumn, rowPlace } from '../data/raw.js';
import type { DuckDbReader } from '../data/readers/duckdb.js';
import { type ColumnInfo, openReader, type ReaderEngine } from '../data/readers/index.js';
import { resolveSources, type TableSources } from '../data/sources.js';
import { validateFeatures, validateSparseIds } from '../data/validate.js';
import type { ModelBundle } from './bundle.js';
import { inputSchema, PREDICT_BATCH_SIZE, predictColumns } from './predict.js';

export interface PredictTableOptions {
  /** The output file: .csv, or .parquet (written through DuckDB). */
  out: string;
  /** Columns of the input copied to the output before the scores (e.g. a row id), in this order. */
  keep?: readonly string[];
  engine?: ReaderEngine;
  /** Rows read per block (default 65536). */
  blockRows?: number;
  /** Rows per forward pass (default 4096). */
  batchSize?: number;
  onProgress?: (p: { rows: number; bytesDone: number; bytesTotal: number }) => void;
}

const OPTION_KEYS = ['out', 'keep', 'engine', 'blockRows', 'batchSize', 'onProgress'];

/** The columns the bundle reads from a table, with the types it reads them as. */
function inputColumns(bundle: ModelBundle): ColumnInfo[] {
  if (bundle.preprocessor)
    return bundle.preprocessor.schema.columns
      .filter((c) => c.role !== 'label' && c.role !== 'ignore')
      .map((c) => ({ name: c.name, type: c.type }));
  return bundle.model.features.map((f) => {
    if (f.kind === 'sequence')
      throw new DataError(
        `The model bundle has no preprocessing, so its sequence feature "${f.name}" cannot be read from a file. ` +
          'Fix: save the bundle with the preprocessing fitted on the training table (webmtl train --save-model does), or predict from code with lists of ids.',
      );
    return { name: f.name, type: f.kind === 'sparse' ? 'int' : 'float' };
  });
}

/** A block of model inputs (a bundle without preprocessing): ids and numbers as they are, checked. */
function blockInputs(bundle: ModelBundle, block: RawBlock): ColumnarDataset {
  const columns: Columns = {};
  for (const f of bundle.model.features) {
    const col = block.columns[f.name];
    if (col.type === 'int' && col.missing) {
      const i = col.missing.indexOf(1);
      if (i >= 0)
        throw new DataError(`${rowPlace(block.source, i)}: feature "${f.name}" is empty. Fix: give every row an id (0 for unknown).`, {
          column: f.name,
        });
    }
    // Ids are checked as read (64-bit), before they become int32: 2^32 + 1 must not pass as 1.
    if (f.kind === 'sparse') validateSparseIds(f.name, col.values as ArrayLike<number>, f.vocabSize);
    columns[f.name] =
      f.kind === 'sparse' ? Int32Array.from(col.values as ArrayLike<number>) : Float32Array.from(col.values as ArrayLike<number>);
  }
  validateFeatures(columns, inputSchema(bundle.model), block.source.file);
  return new ColumnarDataset(columns, new Float32Array(0), [], block.rows);
}

/** A CSV cell: quoted when it holds a comma, quote or line break. */
function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function rawCell(col: RawColumn, i: number): string {
  if (col.type === 'string') return col.values[i] === null ? '' : csvCell(col.values[i]!);
  if (col.type === 'int') return col.missing?.[i] ? '' : String(col.values[i]);
  const v = col.values[i];
  return Number.isNaN(v) ? '' : String(v);
}

/**
 * Scores every row of `data` with `bundle` and writes `out`; resolves to the rows written. The output
 * has the `keep` columns, then one column per task (named as the task), one line per input row in order.
 */
export async function predictTable(bundle: ModelBundle, data: TableSources, options: PredictTableOptions): Promise<{ rows: number }> {
  const unknown = Object.keys(options).filter((k) => !OPTION_KEYS.includes(k));
  if (unknown.length) throw new DataError(`predictTable: unknown option ${unknown.join(', ')}; the options are ${OPTION_KEYS.join(', ')}.`);
  const format = /\.parquet$/i.test(options.out) ? 'parquet' : /\.csv$/i.test(options.out) ? 'csv' : null;
  if (!format) throw new DataError(`predictTable: the output ${JSON.stringify(options.out)} must end in .csv or .parquet.`);
  if (options.keep !== undefined && !(Array.isArray(options.keep) && options.keep.every((k) => typeof k === 'string')))
    throw new DataError(`predictTable: keep must be a list of column names, got ${JSON.stringify(options.keep)}.`);
  const keep = [...(options.keep ?? [])];
  const tasks = bundle.tasks.map((t) => t.name);
  const clash = keep.find((k) => tasks.includes(k));
  if (clash !== undefined)
    throw new DataError(`Kept column "${clash}" has the name of a task score. Fix: keep other columns, or rename it in the data.`);

  const files = await resolveSources(data, 'data');
  const { rename, rm, open } = await import('node:fs/promises');
  const path = await import('node:path');
  // DuckDB writes Parquet: checked before any row is read, so a missing engine fails at once.
  const parquetWriter = format === 'parquet' ? ((await openReader('duckdb')) as DuckDbReader) : null;
  const reader = await openReader(options.engine ?? 'auto', files);
  const target = path.resolve(options.out);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const tmpCsv = format === 'csv' ? tmp : `${tmp}.csv`;
  let rows = 0;
  try {
    const header = await reader.describe(files);
    const wanted = inputColumns(bundle);
    const kept = keep.map((name) => {
      const c = header.find((h) => h.name === name);
      if (!c)
        throw new DataError(`--keep "${name}" is not a column of ${files[0].path}. Its columns: ${listNames(header.map((h) => h.name))}.`);
      return c;
    });
    for (const c of wanted)
      if (!header.some((h) => h.name === c.name))
        throw new DataError(
          `Column "${c.name}", which the model reads, is missing from ${files[0].path}. Its columns: ${listNames(header.map((h) => h.name))}. ` +
            'Fix: give the table the training columns (labels are not needed).',
          { column: c.name },
        );
    const columns = [...wanted, ...kept.filter((k) => !wanted.some((w) => w.name === k.name))];
    const bytesTotal = files.reduce((s, f) => s + f.bytes, 0);
    const out = await open(tmpCsv, 'w');
    try {
      await out.write(`${[...keep, ...tasks].map(csvCell).join(',')}\n`);
      for await (const block of reader.scan(files, columns, {
        blockRows: options.blockRows ?? 65536,
        onProgress: (p) => options.onProgress?.({ rows: rows + p.rows, bytesDone: p.bytesDone, bytesTotal }),
      })) {
        const inputs = bundle.preprocessor ? bundle.preprocessor.transformFeatures(block) : blockInputs(bundle, block);
        const scores = await predictColumns(bundle, inputs, options.batchSize ?? PREDICT_BATCH_SIZE);
        const lines: string[] = new Array(block.rows);
        const keptColumns = keep.map((k) => block.columns[k]);
        const scoreColumns = tasks.map((t) => scores[t]);
        for (let i = 0; i < block.rows; i++) {
          const cells = keptColumns.map((c) => rawCell(c, i));
          for (const s of scoreColumns) cells.push(s[i].toPrecision(9));
          lines[i] = cells.join(',');
        }
        await out.write(`${lines.join('\n')}\n`);
        rows += block.rows;
      }
      await out.sync();
    } finally {
      await out.close();
    }
    if (parquetWriter) {
      await parquetWriter.copyCsvToParquet(tmpCsv, tmp);
      await rm(tmpCsv, { force: true });
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmpCsv, { force: true }).catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw e;
  } finally {
    await reader.close();
  }
  return { rows };
}
