// Ingestion: a table's files read into training-ready columns (ids for the sparse columns, float32
// for dense ones and labels), by webmtl's prepareTable and by pandas, side by side in one run.
//
// Tables: the synthetic Ali-CCP CSV (200k rows, 23 integer id columns, 8 floats, 2 labels) and its
// Parquet twin, and a census-shaped table with raw strings (32 string columns, 7 numbers, 2 labels).
// Each round times every webmtl variant once (DuckDB engine; the light engine: papaparse / hyparquet),
// then pandas once (bench/pandas_ingest.py: read_csv alone, and read_csv + category codes + float32,
// with Debian's /usr/bin/python3); each side times a run right after an untimed one of its own;
// figures are medians over the rounds, after one warm-up round, so all sides see the files in the
// page cache and the same machine noise.
//
//   node bench/run.mjs ingest [--rows 200000] [--rounds 5] [--dir /tmp/webmtl-bench-data] [--engines duckdb,light]

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describeTable, prepareTable } from '../src/data/ingest.js';
import { schemaFromLists, type TableSchema } from '../src/data/schema.js';
import { rawTableLayout } from '../src/data/synthetic-raw.js';
import { machineInfo, median, numberFlag, parseFlags, printTable, repoRoot, writeReport } from './common.js';
import { ensureAliCcpCsv, ensureCensusRawCsv, ensureParquetTwin } from './data.js';

interface Table {
  name: string;
  csv: string;
  parquet: string;
  rows: number;
  labels: string[];
  dense: string[];
  schema: TableSchema;
}

type Engine = 'duckdb' | 'light';

/**
 * One timed prepareTable right after an untimed one, as pandas_ingest.py times read_csv right after
 * its warm-up: on this machine a read after a second of idleness runs up to twice as slow (threads
 * and caches go cold), which would otherwise penalise whichever side ran after the other's process.
 */
async function webmtlSeconds(path: string, schema: TableSchema, engine: Engine): Promise<number> {
  await prepareTable(path, { schema, engine, storage: 'memory', holdout: [0, 0] });
  const start = performance.now();
  const table = await prepareTable(path, { schema, engine, storage: 'memory', holdout: [0, 0] });
  const seconds = (performance.now() - start) / 1000;
  if (table.rows('train') === 0) throw new Error(`ingest bench: no rows read from ${path}`);
  return seconds;
}

function pandasSeconds(t: Table): { readCsv: number; trainingReady: number; readParquet: number | string } {
  const out = execFileSync(
    '/usr/bin/python3',
    [
      join(repoRoot(), 'bench', 'pandas_ingest.py'),
      '--csv',
      t.csv,
      '--parquet',
      t.parquet,
      '--repeats',
      '1',
      '--labels',
      t.labels.join(','),
      '--dense',
      t.dense.join(','),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  const r = JSON.parse(out) as Record<string, unknown>;
  const seconds = (key: string): number | string => {
    const v = r[key] as { seconds?: number; result?: string } | undefined;
    return typeof v?.seconds === 'number' ? v.seconds : (v?.result ?? 'not measured');
  };
  return {
    readCsv: seconds('read_csv') as number,
    trainingReady: seconds('training_ready') as number,
    readParquet: seconds('read_parquet'),
  };
}

async function tables(rows: number, dir: string): Promise<Table[]> {
  const ali = await ensureAliCcpCsv(rows, dir);
  const aliParquet = await ensureParquetTwin(ali.path);
  const aliColumns = (await describeTable(ali.path)).columns;
  const aliLabels = ['click', 'purchase'];
  const aliDense = aliColumns.filter((c) => c.name.startsWith('D')).map((c) => c.name);
  const aliSparse = aliColumns.filter((c) => !aliLabels.includes(c.name) && !aliDense.includes(c.name)).map((c) => c.name);
  const census = await ensureCensusRawCsv(rows, dir);
  const censusParquet = await ensureParquetTwin(census.path);
  const layout = rawTableLayout();
  const censusColumns = (await describeTable(census.path)).columns;
  return [
    {
      name: `Ali-CCP synthetic, ${rows.toLocaleString('en-US')} rows`,
      csv: ali.path,
      parquet: aliParquet.path,
      rows,
      labels: aliLabels,
      dense: aliDense,
      schema: schemaFromLists(aliColumns, { label: aliLabels, sparse: aliSparse, dense: aliDense }),
    },
    {
      name: `census-shaped raw strings, ${rows.toLocaleString('en-US')} rows`,
      csv: census.path,
      parquet: censusParquet.path,
      rows,
      labels: layout.labelColumns,
      dense: layout.numericColumns,
      schema: schemaFromLists(censusColumns, { label: layout.labelColumns, sparse: layout.stringColumns, dense: layout.numericColumns }),
    },
  ];
}

export async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv);
  if (flags.has('help')) {
    console.log('node bench/run.mjs ingest [--rows 200000] [--rounds 5] [--dir /tmp/webmtl-bench-data] [--engines duckdb,light]');
    return;
  }
  const rows = numberFlag(flags, 'rows', 200_000);
  const rounds = Math.max(1, numberFlag(flags, 'rounds', 5));
  const dir = flags.get('dir') ?? '/tmp/webmtl-bench-data';
  const engines = (flags.get('engines') ?? 'duckdb,light').split(',') as Engine[];
  const results: Record<string, unknown>[] = [];
  for (const t of await tables(rows, dir)) {
    const times: Record<string, number[]> = {};
    const add = (k: string, v: number) => {
      times[k] ??= [];
      times[k].push(v);
    };
    for (let round = 0; round <= rounds; round++) {
      const warm = round === 0; // the first round fills the page cache and loads the engines
      for (const engine of engines) {
        const csv = await webmtlSeconds(t.csv, t.schema, engine);
        const parquet = await webmtlSeconds(t.parquet, t.schema, engine);
        if (!warm) {
          add(`webmtl ${engine} csv`, csv);
          add(`webmtl ${engine} parquet`, parquet);
        }
      }
      const p = pandasSeconds(t);
      if (!warm) {
        add('pandas read_csv', p.readCsv);
        add('pandas read_csv + codes', p.trainingReady);
        if (typeof p.readParquet === 'number') add('pandas read_parquet', p.readParquet);
      }
      if (typeof p.readParquet !== 'number') times['pandas read_parquet (n/a)'] = [];
    }
    const pandasReady = median(times['pandas read_csv + codes']);
    const rowsOut = Object.entries(times).map(([k, v]) => {
      const s = v.length ? median(v) : NaN;
      return [
        k,
        v.length ? s.toFixed(3) : 'n/a',
        v.length ? Math.round(t.rows / s).toLocaleString('en-US') : '',
        v.length ? (pandasReady / s).toFixed(2) : '',
      ];
    });
    console.log(`\n${t.name} (${t.csv})`);
    printTable(
      [
        { title: 'reader', align: 'left' },
        { title: 'seconds', align: 'right' },
        { title: 'rows/s', align: 'right' },
        { title: '× pandas read_csv + codes', align: 'right' },
      ],
      rowsOut,
    );
    results.push({
      table: t.name,
      csv: t.csv,
      parquet: t.parquet,
      rows: t.rows,
      seconds: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.length ? median(v) : null])),
      samples: times,
    });
  }
  const path = writeReport('ingest', 'cpu', {
    machine: machineInfo(),
    method: `median of ${rounds} interleaved rounds after one warm-up round; webmtl: prepareTable(…, { storage: 'memory', holdout: [0, 0] }) in this process, each timed run right after an untimed one; pandas: bench/pandas_ingest.py --repeats 1 per round (its warm-up run, then the timed one)`,
    results,
  });
  console.log(`\nresults: ${path}`);
}
