// Public API of the data layer: typed-array tables, CSV in/out, preprocessing, datasets, synthetic
// generators, batching and validation. Nothing here depends on the tensor engine.

export { type Column, type ColumnLike, type Columns, ColumnarDataset, SequenceColumn, columnValues, columnsLength, gatherColumn, gatherMatrixRows, maxId, padSequences, toColumn, toColumns, vocabSizesFromMax, type PadSequencesOptions } from './columns.js';
export { DataError, type DataErrorDetails } from './errors.js';
export {
  type ColumnKind,
  type ColumnSpec,
  type CsvSource,
  type CsvTable,
  type ReadCsvOptions,
  csvBlocks,
  csvHeaderOfFile,
  csvHeaderOfText,
  encodeCategoricalColumns,
  formatFloat32,
  parseCsv,
  readCsv,
  readCsvFile,
  toCsvText,
  writeCsv,
} from './csv.js';
export { LabelEncoder, MinMaxScaler, type Scaler, StandardScaler, UNKNOWN_ID, scaleColumns } from './preprocess.js';
export { rocAuc } from './auc.js';
export { Rng, ZipfSampler, deriveSeed } from './random.js';
export { type SplitDatasets, type SplitFiles, aliCcpFromCsvText, aliCcpSchema, loadAliCcp, loadAliExpress, loadCensusIncome } from './datasets.js';
export { packageDataDir } from './package-data.js';
export {
  type AliCcpGeneratorOptions,
  type AliCcpOracle,
  type AliCcpSplitOptions,
  type SyntheticAliCcp,
  aliCcpCsvText,
  generateAliCcp,
  generateAliCcpSplits,
  scaledAliCcpVocab,
  writeAliCcpCsv,
} from './synthetic-ali-ccp.js';
export { type MmoeSynthetic, type MmoeSyntheticOptions, generateMmoeSynthetic, orthonormalPair } from './synthetic-mmoe.js';
export {
  type BatchSource,
  type DataLoaderOptions,
  type GenerateDataloaderOptions,
  type HostBatch,
  type LabelsLike,
  DataGenerator,
  DataLoader,
  toLabelMatrix,
} from './loader.js';
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
