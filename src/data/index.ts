// Public API of the data layer: typed-array tables, CSV in/out, preprocessing, datasets, synthetic
// generators, batching and validation. Nothing here depends on the tensor engine.

export { rocAuc } from './auc.js';
// Your own table (CSV / Parquet files and a schema): readers, preprocessing, the on-disk cache.
export { BlockShuffleLoader, type BlockShuffleLoaderOptions } from './block-loader.js';
export { type CachedTable, openCache } from './cache.js';
export {
  type Column,
  ColumnarDataset,
  type ColumnLike,
  type Columns,
  columnsLength,
  columnValues,
  gatherColumn,
  gatherMatrixRows,
  maxId,
  type PadSequencesOptions,
  padSequences,
  SequenceColumn,
  toColumn,
  toColumns,
  vocabSizesFromMax,
} from './columns.js';
export {
  type ColumnKind,
  type ColumnSpec,
  type CsvFeature,
  type CsvSource,
  type CsvTable,
  csvBlocks,
  csvHeaderOfFile,
  csvHeaderOfText,
  encodeCategoricalColumns,
  formatFloat32,
  parseCsv,
  type ReadCsvOptions,
  readCsv,
  readCsvFile,
  toCsvText,
  writeCsv,
} from './csv.js';
export {
  aliCcpFromCsvText,
  aliCcpSchema,
  loadAliCcp,
  loadAliExpress,
  loadCensusIncome,
  type SplitDatasets,
  type SplitFiles,
} from './datasets.js';
export { DataError, type DataErrorDetails } from './errors.js';
export {
  describeTable,
  holdoutSplit,
  type IngestProgress,
  type LoaderOptions,
  type ModelSchema,
  PreparedTable,
  type PrepareTableOptions,
  prepareTable,
  proposeTableSchema,
  type SplitName,
} from './ingest.js';
export {
  type BatchSource,
  DataGenerator,
  DataLoader,
  type DataLoaderOptions,
  type GenerateDataloaderOptions,
  type HostBatch,
  type LabelsLike,
  toLabelMatrix,
} from './loader.js';
export { packageDataDir } from './package-data.js';
export { LabelEncoder, MinMaxScaler, type Scaler, StandardScaler, scaleColumns, UNKNOWN_ID } from './preprocess.js';
export { type ColumnState, Preprocessor, PreprocessorFitter, type PreprocessorState } from './preprocessor.js';
export { deriveSeed, Rng, ZipfSampler } from './random.js';
export { type RawBlock, type RawColumn, rowPlace, type SourceType } from './raw.js';
export { type ColumnInfo, EngineMissingError, openReader, type ReaderEngine, type TableReader } from './readers/index.js';
export {
  type ColumnRole,
  type DenseScale,
  parseSchema,
  proposeSchema,
  type SchemaColumn,
  schemaColumns,
  schemaFromLists,
  schemaToJSON,
  type TableSchema,
} from './schema.js';
export { type InMemorySource, resolveSources, type SourceFile, type TableSources } from './sources.js';
export {
  type AliCcpGeneratorOptions,
  type AliCcpOracle,
  type AliCcpSplitOptions,
  aliCcpCsvText,
  generateAliCcp,
  generateAliCcpSplits,
  type SyntheticAliCcp,
  scaledAliCcpVocab,
  writeAliCcpCsv,
} from './synthetic-ali-ccp.js';
export { generateMmoeSynthetic, type MmoeSynthetic, type MmoeSyntheticOptions, orthonormalPair } from './synthetic-mmoe.js';
export {
  generateRawTable,
  RAW_MISSING,
  type RawTable,
  type RawTableOptions,
  rawTableCsvText,
  writeRawTableCsv,
} from './synthetic-raw.js';
export {
  type FeatureSchema,
  type TaskTypeName,
  validateColumnsPresent,
  validateDataset,
  validateDense,
  validateFeatures,
  validateLabels,
  validateRowCounts,
  validateSparseIds,
} from './validate.js';
