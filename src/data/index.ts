// Public API of the data layer: typed-array tables, CSV in/out, preprocessing, datasets, synthetic
// generators, batching and validation. Nothing here depends on the tensor engine.

export { rocAuc } from './auc.js';
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
export { deriveSeed, Rng, ZipfSampler } from './random.js';
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
