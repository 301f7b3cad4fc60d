// The model registry: one entry per model, giving its name and aliases, its torch-rechub class, a
// one-line summary, how to build it from options and the CLI's preset (the sizes of torch-rechub's
// Ali-CCP tutorials). Each model file exports its own entry; adding a model is that file plus one
// line in MODEL_ENTRIES.
import { DenseFeature, type Feature, featureFromJSON, SequenceFeature, SparseFeature } from '../features.js';
import { describeUnknown } from '../options.js';
import { AITM_ENTRY } from './aitm.js';
import { FEATURE_LISTS, type ModelConfig, type MultiTaskModel, type TaskType } from './base.js';
import { ESMM_ENTRY } from './esmm.js';
import { MMOE_ENTRY } from './mmoe.js';
import { OMOE_ENTRY } from './omoe.js';
import { PLE_ENTRY } from './ple.js';
import { SHARED_BOTTOM_ENTRY } from './shared-bottom.js';

export interface Schema {
  /** Sparse column → vocabulary size. */
  vocabSizes: Record<string, number>;
  sparseColumns: readonly string[];
  denseColumns: readonly string[];
  /** ESMM's item-side columns (the rest are user-side). */
  itemColumns?: readonly string[];
  /** Label names, used as task names (e.g. click, purchase). */
  labelColumns?: readonly string[];
  /** One task type per label (default: every task a classification, two tasks when there are no labels). */
  taskTypes?: readonly TaskType[];
  /** Sequence columns (ids padded to a fixed length, mean-pooled) and their vocabulary sizes in vocabSizes. */
  sequenceColumns?: readonly string[];
  /** Embedding sizes of particular sparse or sequence columns (others take the preset's or opts.embedDim). */
  embedDims?: Readonly<Record<string, number>>;
}

/** What a preset is built from: the data's schema and the few sizes the CLI lets one change. */
export interface PresetInput {
  schema: Schema;
  /** The schema's sparse features (embedded with `embedDim`, or the preset's own size) and dense ones. */
  features(presetEmbedDim: number): Feature[];
  /** The schema's task types (default: a classification task per label, two without labels), named after the label columns. */
  taskTypes: TaskType[];
  taskNames?: string[];
  nExpert?: number;
}

export interface ModelEntry<Name extends string = string> {
  /** The registry key: lower case, no separators ('sharedbottom'). */
  name: Name;
  /** Other names that find it, e.g. torch-rechub's class name ('MMOE') or 'shared-bottom'. */
  aliases: readonly string[];
  /** torch-rechub's class (torch_rechub.models.multi_task), or null when it has none. */
  torchRechubClass: string | null;
  summary: string;
  /** The model from a plain options object (either vocabulary; the constructor checks it). */
  build(opts: object): MultiTaskModel;
  /** The CLI's model for a data schema. */
  preset(input: PresetInput): MultiTaskModel;
}

/** Every model, one line each. */
export const MODEL_ENTRIES = [MMOE_ENTRY, OMOE_ENTRY, PLE_ENTRY, SHARED_BOTTOM_ENTRY, ESMM_ENTRY, AITM_ENTRY] as const;

export type ModelName = (typeof MODEL_ENTRIES)[number]['name'];
export const MODEL_NAMES: readonly ModelName[] = MODEL_ENTRIES.map((e) => e.name);

const key = (name: string) => name.toLowerCase().replace(/[-_\s]/g, '');

/** The entry whose name or alias is `name` (any case, '-' and '_' ignored); unknown names throw with a near miss. */
export function modelEntry(name: string): ModelEntry {
  const k = key(name);
  const found = MODEL_ENTRIES.find((e) => e.name === k || e.aliases.some((a) => key(a) === k));
  if (found) return found;
  const names = MODEL_ENTRIES.flatMap((e) => [e.name, ...e.aliases]);
  throw new Error(`Unknown model ${describeUnknown([name], names)}; choose one of ${MODEL_NAMES.join(', ')}`);
}

export function sparseFeatures(schema: Schema, embedDim: number): SparseFeature[] {
  return schema.sparseColumns.map((name) => {
    const vocabSize = schema.vocabSizes[name];
    if (!vocabSize) throw new Error(`No vocabulary size for sparse column '${name}'`);
    return new SparseFeature({ name, vocabSize, embedDim: schema.embedDims?.[name] ?? embedDim });
  });
}

export function sequenceFeatures(schema: Schema, embedDim: number): SequenceFeature[] {
  return (schema.sequenceColumns ?? []).map((name) => {
    const vocabSize = schema.vocabSizes[name];
    if (!vocabSize) throw new Error(`No vocabulary size for sequence column '${name}'`);
    return new SequenceFeature({ name, vocabSize, embedDim: schema.embedDims?.[name] ?? embedDim, pooling: 'mean' });
  });
}

/** Builds a named model with the tutorial's sizes (MMoE: 8 experts [16], towers [8]; ...). */
export function createModel(name: string, schema: Schema, opts: { embedDim?: number; nExpert?: number } = {}): MultiTaskModel {
  return modelEntry(name).preset({
    schema,
    features: (presetEmbedDim) => [
      ...sparseFeatures(schema, opts.embedDim ?? presetEmbedDim),
      ...sequenceFeatures(schema, opts.embedDim ?? presetEmbedDim),
      ...schema.denseColumns.map((d) => new DenseFeature(d)),
    ],
    taskTypes: schema.taskTypes ? [...schema.taskTypes] : (schema.labelColumns ?? ['', '']).map(() => 'classification' as const),
    taskNames: schema.labelColumns ? [...schema.labelColumns] : undefined,
    nExpert: opts.nExpert,
  });
}

/**
 * The model a config describes (model.config()), with fresh weights: the registry entry's constructor
 * on the config's options, feature lists rebuilt from JSON. Anything the constructor would refuse
 * (unknown options, wrong sizes) is an error naming `where`.
 */
export function modelFromConfig(config: ModelConfig, where = 'model config'): MultiTaskModel {
  if (!config || typeof config !== 'object' || typeof config.model !== 'string' || !config.options || typeof config.options !== 'object')
    throw new Error(`${where}: expected { model: 'mmoe' | 'ple' | ..., options: { ... } }, got ${JSON.stringify(config)}`);
  const entry = modelEntry(config.model);
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config.options)) {
    if (!FEATURE_LISTS.includes(k)) options[k] = v;
    else if (!Array.isArray(v)) throw new Error(`${where}: options.${k} must be a list of features, got ${JSON.stringify(v)}`);
    else options[k] = v.map((f, i) => featureFromJSON(f, `${where}: options.${k}[${i}]`));
  }
  try {
    return entry.build(options);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}
