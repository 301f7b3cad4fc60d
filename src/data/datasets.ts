// The public datasets torch-rechub's tutorials use, loaded the way those tutorials prepare them:
// Ali-CCP (click, purchase), Census-Income (income, marital status) and AliExpress (conversion, click).
// Vocabulary sizes follow the tutorials: max id over train + val + test, plus one.

import { ColumnarDataset, vocabSizesFromMax } from './columns.js';
import { type ColumnSpec, type CsvTable, csvHeaderOfFile, csvHeaderOfText, parseCsv, readCsvFile } from './csv.js';
import { DataError } from './errors.js';
import { packageDataDir } from './package-data.js';

export interface SplitDatasets {
  train: ColumnarDataset;
  val: ColumnarDataset;
  test: ColumnarDataset;
  sparseColumns: string[];
  denseColumns: string[];
  labelColumns: string[];
  /** Embedding rows per sparse column: max id over all splits + 1. */
  vocabSizes: Record<string, number>;
  /** Item-side sparse columns where the dataset defines them (Ali-CCP: ESMM's item features). */
  itemColumns?: string[];
}

interface SplitLayout {
  labels: readonly string[];
  dense: readonly string[];
  itemColumns?: readonly string[];
  /** Columns that are neither features nor labels. */
  ignored?: readonly string[];
}

// ---------------------------------------------------------------------------------------------------
// Ali-CCP

const ALI_CCP_SPARSE = [
  '101',
  '121',
  '122',
  '124',
  '125',
  '126',
  '127',
  '128',
  '129',
  '205',
  '206',
  '207',
  '210',
  '216',
  '508',
  '509',
  '702',
  '853',
  '301',
  '109_14',
  '110_14',
  '127_14',
  '150_14',
] as const;
const ALI_CCP_DENSE = ['D109_14', 'D110_14', 'D127_14', 'D150_14', 'D508', 'D509', 'D702', 'D853'] as const;

/** Vocabulary sizes of the Ali-CCP-schema benchmark set (69,100 ids in all). */
const ALI_CCP_VOCAB: Readonly<Record<string, number>> = {
  '101': 200,
  '121': 200,
  '122': 200,
  '124': 200,
  '125': 200,
  '126': 200,
  '127': 200,
  '128': 200,
  '129': 200,
  '205': 12000,
  '206': 5500,
  '207': 14000,
  '210': 15800,
  '216': 8200,
  '508': 3400,
  '509': 2300,
  '702': 2400,
  '853': 2700,
  '301': 200,
  '109_14': 200,
  '110_14': 200,
  '127_14': 200,
  '150_14': 200,
};

export const aliCcpSchema = {
  labelColumns: ['click', 'purchase'] as readonly string[],
  /** The 23 sparse fields, in file order (which is the embedding concatenation order). */
  sparseColumns: ALI_CCP_SPARSE as readonly string[],
  denseColumns: ALI_CCP_DENSE as readonly string[],
  /** The file header: labels, sparse fields, dense fields. */
  header: ['click', 'purchase', ...ALI_CCP_SPARSE, ...ALI_CCP_DENSE] as readonly string[],
  vocabSizes: ALI_CCP_VOCAB,
  /** Σ vocabSizes = 69,100. */
  totalIds: Object.values(ALI_CCP_VOCAB).reduce((a, b) => a + b, 0),
  /** Item-side fields (ESMM's item tower in the tutorial); the rest are user-side. */
  itemColumns: ['129', '205', '206', '207', '210', '216'] as readonly string[],
} as const;

const ALI_CCP_LAYOUT: SplitLayout = {
  labels: aliCcpSchema.labelColumns,
  dense: aliCcpSchema.denseColumns,
  itemColumns: aliCcpSchema.itemColumns,
};

export interface SplitFiles {
  train: string;
  val?: string;
  test: string;
}

/**
 * Loads Ali-CCP (Node): `dir` defaults to the package's data/ali-ccp sample. In a folder holding the full
 * set from torch-rechub (ali_ccp_train.csv, ali_ccp_val.csv, ali_ccp_test.csv) those are read instead of
 * the *_sample.csv files. Labels click/purchase, the 8 D* columns dense, every other column sparse.
 */
export async function loadAliCcp(dir?: string, options: { files?: SplitFiles } = {}): Promise<SplitDatasets> {
  const folder = dir ?? (await packageDataDir('ali-ccp'));
  const files = options.files ?? (await pickFiles(folder, 'ali_ccp', true));
  return loadSplitFiles(folder, files, ALI_CCP_LAYOUT);
}

/** Ali-CCP from CSV text (browsers: fetch the files, pass their text). */
export function aliCcpFromCsvText(text: { train: string; val: string; test: string }): SplitDatasets {
  const spec = columnSpec(csvHeaderOfText(text.train), ALI_CCP_LAYOUT, ALI_CCP_LAYOUT.dense);
  const tables = {
    train: parseCsv(text.train, { columns: spec }),
    val: parseCsv(text.val, { columns: spec }),
    test: parseCsv(text.test, { columns: spec }),
  };
  return splitsFromTables(tables, ALI_CCP_LAYOUT);
}

// ---------------------------------------------------------------------------------------------------
// Census-Income (MMoE paper's benchmark) and AliExpress

const CENSUS_LAYOUT: SplitLayout = {
  labels: ['income', 'marital status'],
  dense: [
    'age',
    'wage per hour',
    'capital gains',
    'capital losses',
    'divdends from stocks',
    'num persons worked for employer',
    'weeks worked in year',
  ],
};

/** Census-Income sample (Node): labels income / marital status, 7 dense columns, 32 encoded sparse ones. */
export async function loadCensusIncome(dir?: string, options: { files?: SplitFiles } = {}): Promise<SplitDatasets> {
  const folder = dir ?? (await packageDataDir('census-income'));
  const files = options.files ?? (await pickFiles(folder, 'census_income', true));
  return loadSplitFiles(folder, files, CENSUS_LAYOUT);
}

const ALIEXPRESS_LAYOUT: SplitLayout = { labels: ['conversion', 'click'], dense: [], ignored: ['search_id'] };

/**
 * AliExpress sample (Node): `categorical_*` sparse, `numerical_*` dense, labels conversion / click.
 * It has no validation file; like the tutorial, the test split doubles as validation.
 */
export async function loadAliExpress(dir?: string, options: { files?: SplitFiles } = {}): Promise<SplitDatasets> {
  const folder = dir ?? (await packageDataDir('aliexpress'));
  const files = options.files ?? (await pickFiles(folder, 'aliexpress', false));
  return loadSplitFiles(folder, files, ALIEXPRESS_LAYOUT, (header) => header.filter((c) => c.startsWith('numerical_')));
}

// ---------------------------------------------------------------------------------------------------
// Shared machinery

async function pickFiles(folder: string, stem: string, hasVal: boolean): Promise<SplitFiles> {
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  for (const suffix of ['', '_sample']) {
    const files: SplitFiles = { train: `${stem}_train${suffix}.csv`, test: `${stem}_test${suffix}.csv` };
    if (hasVal) files.val = `${stem}_val${suffix}.csv`;
    if (Object.values(files).every((f) => existsSync(join(folder, f)))) return files;
  }
  throw new DataError(
    `No ${stem} CSV files in ${folder}: expected ${stem}_train.csv, ${hasVal ? `${stem}_val.csv, ` : ''}${stem}_test.csv ` +
      `(or the *_sample.csv versions). Fix: pass the folder that holds them, or options.files with their names.`,
  );
}

async function loadSplitFiles(
  folder: string,
  files: SplitFiles,
  layout: SplitLayout,
  denseFromHeader?: (header: string[]) => string[],
): Promise<SplitDatasets> {
  const { join } = await import('node:path');
  const read = (file: string, spec: ColumnSpec) => readCsvFile(join(folder, file), { columns: spec });
  const header = await csvHeaderOfFile(join(folder, files.train));
  const dense = denseFromHeader ? denseFromHeader(header) : [...layout.dense];
  const spec = columnSpec(header, layout, dense);
  const train = await read(files.train, spec);
  const test = await read(files.test, spec);
  const val = files.val ? await read(files.val, spec) : test;
  return splitsFromTables({ train, val, test }, { ...layout, dense });
}

function columnSpec(header: readonly string[], layout: SplitLayout, dense: readonly string[]): ColumnSpec {
  const spec: ColumnSpec = {};
  const isDense = new Set(dense);
  const isLabel = new Set(layout.labels);
  const ignored = new Set(layout.ignored ?? []);
  for (const name of header) {
    if (ignored.has(name)) continue;
    spec[name] = isDense.has(name) || isLabel.has(name) ? 'dense' : 'sparse';
  }
  return spec;
}

function splitsFromTables(tables: { train: CsvTable; val: CsvTable; test: CsvTable }, layout: SplitLayout): SplitDatasets {
  const header = tables.train.header;
  const ignored = new Set(layout.ignored ?? []);
  const isLabel = new Set(layout.labels);
  const isDense = new Set(layout.dense);
  const sparseColumns = header.filter((c) => !ignored.has(c) && !isLabel.has(c) && !isDense.has(c));
  const denseColumns = header.filter((c) => isDense.has(c));
  const features = [...sparseColumns, ...denseColumns];
  const toDataset = (t: CsvTable) => {
    const raw = Object.keys(t.categorical);
    if (raw.length > 0) {
      throw new DataError(
        `Column "${raw[0]}" holds non-numeric values, but this dataset's sparse columns must be pre-encoded integer ids. ` +
          `Fix: label-encode it first.`,
        { column: raw[0] },
      );
    }
    return ColumnarDataset.fromColumns(t.columns, layout.labels, features);
  };
  const train = toDataset(tables.train);
  const val = tables.val === tables.test ? toDataset(tables.test) : toDataset(tables.val);
  const test = tables.val === tables.test ? val : toDataset(tables.test);
  const splits = tables.val === tables.test ? [train, test] : [train, val, test];
  return {
    train,
    val,
    test,
    sparseColumns,
    denseColumns,
    labelColumns: [...layout.labels],
    ...(layout.itemColumns ? { itemColumns: [...layout.itemColumns] } : {}),
    vocabSizes: vocabSizesFromMax(
      splits.map((d) => d.columns),
      sparseColumns,
    ),
  };
}
