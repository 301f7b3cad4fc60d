// Model bundles: one file that takes a trained model anywhere webmtl runs (Node or a page). It holds
// the model's configuration (registry name and constructor options: enough to rebuild it), its
// weights, the preprocessing fitted on the training table (raw values → ids and scaled numbers), the
// task names and types, and the version of webmtl that wrote it. The file is a safetensors file: the
// weights as tensors under the model's own names, everything else as JSON in the header's metadata,
// so any safetensors reader can open it. Loading checks everything before it builds anything.
// Browser-safe: Node's fs is imported only by the functions that take paths.
import type { Preprocessor as PreprocessorType } from '../data/preprocessor.js';
import { Preprocessor } from '../data/preprocessor.js';
import { hostTensor, writeFileAtomically } from '../io/checkpoint.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsHeaderTooLargeError, type SafetensorsTensor } from '../io/safetensors.js';
import type { ModelConfig, MultiTaskModel, TaskType } from '../models/base.js';
import { modelFromConfig } from '../models/registry.js';
import { checkOptionNames } from '../options.js';
import { noGrad, tidy } from '../tensor/engine.js';
import { assign } from '../tensor/ops.js';
import { globalRng } from '../tensor/random.js';
import { fmtShape, fromArray } from '../tensor/tensor.js';
import { VERSION } from '../version.js';

/** A file that is not a model bundle, or one whose parts do not fit together; `problems` lists each. */
export class ModelBundleError extends Error {
  override readonly name = 'ModelBundleError';
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}:\n  ${problems.join('\n  ')}` : message);
  }
}

export const MODEL_BUNDLE_FORMAT = 'webmtl-model/1';
const KEY = {
  format: 'webmtl.format',
  version: 'webmtl.version',
  model: 'webmtl.model',
  tasks: 'webmtl.tasks',
  preprocessor: 'webmtl.preprocessor',
} as const;

export interface BundleTask {
  /** The name of the model output (a column of predict's result). */
  name: string;
  type: TaskType;
}

export interface SaveModelOptions {
  /**
   * The preprocessing fitted on the training table (table.preprocessor from prepareTable): saved with
   * the model, so that predict takes raw values. Without it, predict takes the model's inputs
   * directly (ids and numbers).
   */
  preprocessor?: PreprocessorType;
  /** Free-form strings kept in the file (keys starting with 'webmtl.' are reserved). */
  metadata?: Record<string, string>;
}

/** The values predict takes: raw rows (column → value), as in the training files. */
export type PredictRow = Record<string, unknown>;

/** A loaded bundle: the model (built on the current backend, in eval mode) and what it needs to score raw rows. */
export class ModelBundle {
  constructor(
    readonly model: MultiTaskModel,
    /** The fitted preprocessing; null when the bundle was saved without it (predict then takes model inputs). */
    readonly preprocessor: PreprocessorType | null,
    /** One per model output, in output order. */
    readonly tasks: BundleTask[],
    /** The webmtl version that wrote the bundle. */
    readonly version: string,
    /** The user's metadata saved with it. */
    readonly metadata: Record<string, string>,
  ) {}

  /**
   * Scores raw rows: one Float32Array per task (a probability for a classification task, the value
   * for a regression task), keyed by task name, in row order. With preprocessing, rows hold the
   * training table's raw values (text, numbers; labels are not needed) and unseen categories get the
   * unseen id 0, as in training; without it, rows hold the model's inputs (ids, dense numbers,
   * id lists for sequences). Bad rows are a DataError naming the row and column.
   */
  async predict(rows: readonly PredictRow[], opts: { batchSize?: number } = {}): Promise<Record<string, Float32Array>> {
    checkOptionNames('ModelBundle.predict', opts, ['batchSize'], (m) => new ModelBundleError(m));
    if (!Array.isArray(rows))
      throw new ModelBundleError(
        `ModelBundle.predict: rows must be an array of { column: value } objects, got ${rows === null ? 'null' : typeof rows}`,
      );
    const { predictColumns, rowsToModelInputs } = await import('./predict.js');
    const inputs = this.preprocessor ? this.preprocessor.transformFeatureRows(rows) : rowsToModelInputs(this.model, rows);
    return predictColumns(this, inputs, opts.batchSize);
  }

  /** Frees the model's tensors. */
  dispose(): void {
    this.model.dispose();
  }
}

/** The problems of a preprocessor against a model: every model input must be one of its columns, ids in range. */
function fitProblems(model: MultiTaskModel, p: PreprocessorType): string[] {
  const problems: string[] = [];
  const vocab = p.vocabSizes;
  const roles = new Map<string, string>();
  for (const n of p.sparseColumns) roles.set(n, 'sparse');
  for (const n of p.denseColumns) roles.set(n, 'dense');
  for (const n of p.sequenceColumns) roles.set(n, 'sequence');
  for (const f of model.features) {
    const role = roles.get(f.name);
    if (role === undefined) {
      problems.push(`the model reads feature '${f.name}', which the preprocessing does not produce`);
    } else if (role !== f.kind) {
      problems.push(`feature '${f.name}' is ${f.kind} in the model but ${role} in the preprocessing`);
    } else if (f.kind !== 'dense' && vocab[f.name] > f.vocabSize) {
      problems.push(
        `feature '${f.name}': the preprocessing gives ids up to ${vocab[f.name] - 1}, but the model's table has ${f.vocabSize} rows`,
      );
    } else if (f.kind === 'sequence' && f.pooling === 'concat' && f.maxLen !== p.sequenceLength(f.name)) {
      problems.push(
        `sequence '${f.name}': the model concatenates ${f.maxLen} positions, the preprocessing pads to ${p.sequenceLength(f.name)}`,
      );
    }
  }
  return problems;
}

/** The bundle's bytes (browser-safe; saveModel writes them to a file in Node). */
export async function encodeModel(model: MultiTaskModel, opts: SaveModelOptions = {}): Promise<Uint8Array> {
  checkOptionNames('saveModel', opts, ['preprocessor', 'metadata'], (m) => new ModelBundleError(m));
  const config = model.config();
  if (opts.preprocessor !== undefined && !(opts.preprocessor instanceof Preprocessor))
    throw new ModelBundleError('saveModel: preprocessor must be a fitted Preprocessor (table.preprocessor from prepareTable)');
  if (opts.preprocessor) {
    const problems = fitProblems(model, opts.preprocessor);
    if (problems.length) throw new ModelBundleError('saveModel: the preprocessing does not fit the model; nothing was written', problems);
  }
  const tensors: Record<string, SafetensorsTensor> = {};
  const nonFinite: string[] = [];
  for (const [name, t] of Object.entries(model.stateDict())) {
    const host = await hostTensor(t);
    if (host.data instanceof Float32Array && !host.data.every(Number.isFinite)) nonFinite.push(name);
    tensors[name] = host;
  }
  if (nonFinite.length)
    throw new ModelBundleError(
      `saveModel: the model has non-finite weights in ${nonFinite.join(', ')} (training diverged); nothing was written. Fix: save an earlier checkpoint's weights, or train with a lower learning rate`,
    );
  const metadata: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(opts.metadata ?? {})) {
    if (k.startsWith('webmtl.'))
      throw new ModelBundleError(`saveModel: metadata key '${k}' is reserved (keys starting with 'webmtl.' are webmtl's)`);
    if (typeof v !== 'string') throw new ModelBundleError(`saveModel: metadata '${k}' must be a string, got ${typeof v}`);
    metadata[k] = v;
  }
  metadata[KEY.format] = MODEL_BUNDLE_FORMAT;
  metadata[KEY.version] = VERSION;
  metadata[KEY.model] = JSON.stringify(config);
  metadata[KEY.tasks] = JSON.stringify(model.taskNames.map((name, i): BundleTask => ({ name, type: model.taskTypes[i] })));
  if (opts.preprocessor) metadata[KEY.preprocessor] = JSON.stringify(opts.preprocessor.toJSON());
  try {
    return encodeSafetensors(tensors, metadata);
  } catch (e) {
    if (!(e instanceof SafetensorsHeaderTooLargeError)) throw e;
    const sizes = Object.entries(metadata)
      .map(([k, v]) => `${k} ${(v.length / 2 ** 20).toFixed(1)} MiB`)
      .join(', ');
    throw new ModelBundleError(
      `saveModel: the bundle's header would take ${(e.headerBytes / 2 ** 20).toFixed(1)} MiB (${sizes}), over the 95 MiB safetensors readers accept; nothing was written. ` +
        'Fix: the preprocessing is mostly vocabularies: give high-cardinality columns (row or user ids) a minCount in the schema so rare values share the unknown id, or set their role to "ignore"',
    );
  }
}

/** Writes the bundle to `file` (Node), atomically: a crash leaves the old file or the new one, never half of one. */
export async function saveModel(file: string, model: MultiTaskModel, opts: SaveModelOptions = {}): Promise<void> {
  await writeFileAtomically(file, await encodeModel(model, opts), 'model bundle');
}

function parseJson(text: string | undefined, key: string, source: string): unknown {
  if (text === undefined) throw new ModelBundleError(`${source} is not a complete model bundle: it has no '${key}' entry`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelBundleError(`${source} is damaged: '${key}' is not JSON (${(e as Error).message})`);
  }
}

function parseTasks(value: unknown, source: string): BundleTask[] {
  const ok =
    Array.isArray(value) &&
    value.every(
      (t) =>
        t &&
        typeof t === 'object' &&
        typeof t.name === 'string' &&
        (t.type === 'classification' || t.type === 'regression') &&
        Object.keys(t).length === 2,
    );
  if (!ok)
    throw new ModelBundleError(`${source} is damaged: '${KEY.tasks}' must be a list of { name, type }, got ${JSON.stringify(value)}`);
  return value as BundleTask[];
}

/**
 * A bundle from its bytes. Everything is checked before the model is built: the format, the
 * configuration (the model's constructor checks its options), the preprocessing (field by field),
 * that they fit each other, and every weight's name, shape, dtype and finiteness. Any problem is a
 * ModelBundleError listing them all; nothing is built then.
 */
export function decodeModel(bytes: Uint8Array, source = 'the model bundle'): ModelBundle {
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes, source);
  } catch (e) {
    throw new ModelBundleError(`${source} is not a model bundle (not a readable safetensors file: ${(e as Error).message})`);
  }
  const meta = decoded.metadata;
  if (meta[KEY.format] !== MODEL_BUNDLE_FORMAT) {
    const what =
      meta[KEY.format] === 'webmtl-checkpoint/1'
        ? 'a training checkpoint, not a model bundle. Fix: save the model with saveModel (or webmtl train --save-model)'
        : meta[KEY.format]
          ? `of format '${meta[KEY.format]}'; this webmtl (${VERSION}) reads '${MODEL_BUNDLE_FORMAT}'`
          : 'not a model bundle (no webmtl.format entry)';
    throw new ModelBundleError(`${source} is ${what}`);
  }
  const version = meta[KEY.version] ?? 'unknown';
  const config = parseJson(meta[KEY.model], KEY.model, source) as ModelConfig;
  const tasks = parseTasks(parseJson(meta[KEY.tasks], KEY.tasks, source), source);
  let preprocessor: PreprocessorType | null = null;
  if (meta[KEY.preprocessor] !== undefined) {
    try {
      preprocessor = Preprocessor.fromJSON(parseJson(meta[KEY.preprocessor], KEY.preprocessor, source));
    } catch (e) {
      if (e instanceof ModelBundleError) throw e;
      throw new ModelBundleError(`${source}: its preprocessing is damaged (${(e as Error).message})`);
    }
  }
  if (config && typeof config === 'object' && config.options && typeof config.options === 'object' && 'seed' in config.options)
    throw new ModelBundleError(`${source} is damaged: '${KEY.model}' has a seed option, which bundles never hold (the weights are saved)`);
  // The model is built only to learn its tensors' names and shapes; its fresh weights are replaced
  // below. Drawing them must not move the global random stream the caller may be relying on.
  let model: MultiTaskModel;
  const rng = globalRng();
  const before = rng.getState();
  try {
    model = modelFromConfig(config, `${source}: '${KEY.model}'`);
  } catch (e) {
    throw new ModelBundleError((e as Error).message);
  } finally {
    rng.setState(before);
  }
  try {
    const problems: string[] = [];
    const names = model.taskNames.map((name, i) => `${name}:${model.taskTypes[i]}`).join(', ');
    if (names !== tasks.map((t) => `${t.name}:${t.type}`).join(', '))
      problems.push(`the tasks (${tasks.map((t) => t.name).join(', ')}) are not the model's (${model.taskNames.join(', ')})`);
    if (preprocessor) problems.push(...fitProblems(model, preprocessor));
    const own = model.stateDict();
    for (const [name, t] of Object.entries(own)) {
      const w = Object.hasOwn(decoded.tensors, name) ? decoded.tensors[name] : undefined;
      const dtype = t.dtype === 'f32' ? 'F32' : 'I32';
      if (!w) problems.push(`weight '${name}' ${fmtShape(t.shape)} is missing`);
      else if (w.dtype !== dtype || fmtShape(w.shape) !== fmtShape(t.shape))
        problems.push(`weight '${name}' is ${w.dtype} ${fmtShape(w.shape)}; the model's is ${dtype} ${fmtShape(t.shape)}`);
      else if (w.data instanceof Float32Array && !w.data.every(Number.isFinite)) problems.push(`weight '${name}' has non-finite values`);
    }
    for (const name of Object.keys(decoded.tensors)) if (!Object.hasOwn(own, name)) problems.push(`unexpected weight '${name}'`);
    if (problems.length) throw new ModelBundleError(`${source} does not fit together; nothing was loaded`, problems);
    noGrad(() =>
      tidy(() => {
        for (const [name, t] of Object.entries(own))
          assign(t, fromArray(decoded.tensors[name].data, t.shape, { backend: t.backend, dtype: t.dtype }));
      }),
    );
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (!k.startsWith('webmtl.')) metadata[k] = v;
  return new ModelBundle(model, preprocessor, tasks, version, metadata);
}

/** Where loadModel reads a bundle from: a path (Node), a URL (fetch), or the bytes. */
export type ModelSource = string | URL | Uint8Array | ArrayBuffer | Blob;

/**
 * Loads a bundle written by saveModel/encodeModel: a file path (Node), an http(s) URL or URL object
 * (fetch; in a page, any URL the page may fetch), a Blob (a file picker's File), or the bytes. The
 * model is built on the current backend (init() first for wasm or webgpu) and is in eval mode.
 */
export async function loadModel(source: ModelSource): Promise<ModelBundle> {
  const known =
    typeof source === 'string' ||
    source instanceof URL ||
    source instanceof Uint8Array ||
    source instanceof ArrayBuffer ||
    (typeof Blob !== 'undefined' && source instanceof Blob);
  // A number would reach readFile as a file descriptor: refuse anything not listed.
  if (!known)
    throw new ModelBundleError(
      `loadModel: give a file path, a URL, a Blob (a file picker's File), an ArrayBuffer or a Uint8Array, got ${source === null ? 'null' : typeof source}`,
    );
  if (source instanceof Uint8Array) return decodeModel(source);
  if (source instanceof ArrayBuffer) return decodeModel(new Uint8Array(source));
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as { name?: string }).name;
    return decodeModel(new Uint8Array(await source.arrayBuffer()), name ? `'${name}'` : 'the model bundle');
  }
  const isUrl = source instanceof URL || /^(https?|blob|data):/i.test(source as string);
  if (isUrl || typeof process === 'undefined' || !process.versions?.node) {
    const url = String(source);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new ModelBundleError(`Cannot fetch the model bundle at ${url}: ${(e as Error).message}`);
    }
    if (!response.ok) throw new ModelBundleError(`Cannot fetch the model bundle at ${url}: HTTP ${response.status} ${response.statusText}`);
    return decodeModel(new Uint8Array(await response.arrayBuffer()), url);
  }
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(source as string);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelBundleError(
      `Cannot read the model bundle '${source}': ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`,
    );
  }
  return decodeModel(bytes, `'${source}'`);
}
