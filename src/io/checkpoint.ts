// Checkpoints on disk (Node only): a module's parameters and buffers, optionally an optimizer's, a
// scheduler's and a task-balancing strategy's state, in one safetensors file. Node modules are imported inside the functions so that
// bundling this file for the browser does not break.
import type { BalanceStrategy } from '../mtl/strategy.js';
import type { Module } from '../nn/module.js';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer.js';
import type { LRScheduler, SchedulerStateDict } from '../optim/scheduler.js';
import { getBackend } from '../tensor/engine.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from './safetensors.js';

export interface CheckpointExtra {
  /** Free-form strings stored in the file header (keys starting with 'webmtl.' are reserved). */
  metadata?: Record<string, string>;
  /** Saves the optimizer's state (moments, step counts, per-group lr) so training can resume. */
  optimizer?: Optimizer;
  scheduler?: LRScheduler;
  /** Saves the task-balancing strategy's name and state (GradNorm's weights, DWA's history, ...). */
  strategy?: BalanceStrategy;
}

export interface LoadCheckpointOptions {
  /** Restores this optimizer's state too; the file must contain optimizer state. */
  optimizer?: Optimizer;
  scheduler?: LRScheduler;
  /**
   * Restores this strategy's state when the file has one; the file's strategy must be the same
   * method. A file saved without a strategy leaves it as it is (hasStrategyState: false).
   */
  strategy?: BalanceStrategy;
  /** Checks the user metadata with the rest, before anything changes; throw to refuse the file. */
  checkMetadata?(metadata: Record<string, string>): void;
}

export interface LoadedCheckpoint {
  /** The user metadata saved with the checkpoint. */
  metadata: Record<string, string>;
  hasOptimizerState: boolean;
  hasSchedulerState: boolean;
  hasStrategyState: boolean;
}

const FORMAT = 'webmtl-checkpoint/1';
const KEY_FORMAT = 'webmtl.format';
const KEY_OPTIMIZER = 'webmtl.optimizer';
const KEY_SCHEDULER = 'webmtl.scheduler';
/** JSON { name, state }: the balancing method and its stateDict() (null for a method without state). */
const KEY_STRATEGY = 'webmtl.strategy';
/** Optimizer state tensors are stored as `__optimizer__.<param index>.<state name>`, apart from module names. */
const OPTIMIZER_PREFIX = '__optimizer__.';

/** The scalar half of an optimizer state dict, kept as JSON in the header. */
interface OptimizerHeader {
  type: string;
  groups: OptimizerStateDict['groups'];
  steps: Record<number, number>;
}

type FsPromises = typeof import('node:fs/promises');
type NodePath = typeof import('node:path');

async function nodeModules(): Promise<{ fs: FsPromises; path: NodePath }> {
  try {
    const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
    return { fs, path };
  } catch {
    throw new Error('Checkpoint files need Node.js (node:fs); in the browser use encodeSafetensors/decodeSafetensors with your own storage');
  }
}

const FS_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'a part of the path exists and is not a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EISDIR: 'the path is a directory',
  ENOENT: 'the directory does not exist and cannot be created there',
  ENAMETOOLONG: 'the path is too long',
};

function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code && FS_REASONS[code]) return `${FS_REASONS[code]} (${code})`;
  return (e as Error)?.message ?? String(e);
}

/**
 * `mkdir -p` that always terminates. Node's own `mkdir(path, { recursive: true })` spins forever
 * when a parent exists but cannot hold the child (under /proc, or a dangling symlink), because it
 * reads the child's ENOENT as "parent missing" and retries.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const { fs, path } = await nodeModules();
  const missing: string[] = [];
  for (let cur = path.resolve(dir); ; ) {
    try {
      const st = await fs.stat(cur);
      if (!st.isDirectory()) throw Object.assign(new Error(`'${cur}' is not a directory`), { code: 'ENOTDIR' });
      break;
    } catch (e) {
      const parent = path.dirname(cur);
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === cur) throw e;
      missing.push(cur);
      cur = parent;
    }
  }
  for (const d of missing.reverse()) {
    try {
      await fs.mkdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await fs.stat(d).catch(() => null);
      if (!st?.isDirectory()) throw Object.assign(new Error(`'${d}' exists and is not a directory`), { code: 'ENOTDIR' });
    }
  }
}

/**
 * Fails early, with a clear message, when checkpoints cannot be written into `dir` (creating it
 * if needed). Call before training so a long run does not die at its first save.
 */
export async function checkWritable(dir: string): Promise<void> {
  const { fs, path } = await nodeModules();
  const abs = path.resolve(dir);
  const fail = (e: unknown): Error =>
    new Error(`Checkpoint directory '${dir}' is not writable: ${fsReason(e)}. Choose a directory you can write to.`, { cause: e });
  try {
    await makeDirectory(abs);
  } catch (e) {
    throw fail(e);
  }
  const probe = path.join(abs, `.webmtl-write-test-${process.pid}-${randomTag()}`);
  try {
    await fs.writeFile(probe, 'ok', { flag: 'wx' });
  } catch (e) {
    throw fail(e);
  } finally {
    await fs.rm(probe, { force: true }).catch(() => {});
  }
}

/**
 * Writes the module's parameters and buffers (plus optimizer/scheduler state when given) to `file`
 * atomically: the bytes go to a temporary file in the same directory, are flushed to disk, and the
 * temporary file is renamed over `file`, so a crash never leaves a half-written checkpoint.
 * Creates the directory when missing.
 */
export async function saveCheckpoint(file: string, module: Module, extra: CheckpointExtra = {}): Promise<void> {
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of Object.entries(module.stateDict())) tensors[name] = await hostTensor(t);

  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra.metadata ?? {})) {
    if (k.startsWith('webmtl.')) throw new Error(`saveCheckpoint: metadata key '${k}' is reserved (keys starting with 'webmtl.' are written by webmtl)`);
    metadata[k] = v;
  }
  metadata[KEY_FORMAT] = FORMAT;
  if (extra.optimizer) {
    const sd = extra.optimizer.stateDict();
    const steps: Record<number, number> = {};
    for (const [i, s] of Object.entries(sd.state)) {
      steps[Number(i)] = s.step;
      for (const [key, value] of Object.entries(s.buffers)) {
        tensors[`${OPTIMIZER_PREFIX}${i}.${key}`] = value instanceof Float32Array ? { dtype: 'F32', shape: [value.length], data: value } : await hostTensor(value);
      }
    }
    const header: OptimizerHeader = { type: sd.type, groups: sd.groups, steps };
    metadata[KEY_OPTIMIZER] = JSON.stringify(header);
  }
  if (extra.scheduler) metadata[KEY_SCHEDULER] = JSON.stringify(extra.scheduler.stateDict());
  if (extra.strategy) metadata[KEY_STRATEGY] = JSON.stringify({ name: extra.strategy.name, state: (await extra.strategy.stateDict?.()) ?? null });

  const bytes = encodeSafetensors(tensors, metadata);
  await writeAtomically(file, bytes);
}

async function hostTensor(t: Tensor): Promise<SafetensorsTensor> {
  const data = await t.data();
  return data instanceof Int32Array ? { dtype: 'I32', shape: [...t.shape], data } : { dtype: 'F32', shape: [...t.shape], data };
}

function randomTag(): string {
  return Math.random().toString(36).slice(2, 10);
}

async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const { fs, path } = await nodeModules();
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const fail = (e: unknown): Error => new Error(`Cannot save checkpoint to '${file}': ${fsReason(e)}. Choose a writable location.`, { cause: e });
  try {
    await makeDirectory(dir);
  } catch (e) {
    throw fail(e);
  }
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomTag()}.tmp`);
  let handle: Awaited<ReturnType<FsPromises['open']>> | undefined;
  try {
    handle = await fs.open(tmp, 'wx');
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, target);
  } catch (e) {
    await handle?.close().catch(() => {});
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw fail(e);
  }
  // Make the rename itself durable; not every platform can fsync a directory, and the data is safe anyway.
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // ignore
  }
}

/**
 * Loads a checkpoint written by saveCheckpoint into `module` (and, when given, the optimizer and
 * scheduler). Everything is checked first (file layout, names, shapes, dtypes, optimizer fit);
 * on any error nothing is changed and the error says what differs.
 */
export async function loadCheckpoint(file: string, module: Module, opts: LoadCheckpointOptions = {}): Promise<LoadedCheckpoint> {
  const { fs } = await nodeModules();
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    throw new Error(`Cannot read checkpoint '${file}': ${code === 'ENOENT' ? 'no such file' : fsReason(e)}`, { cause: e });
  }
  const decoded = decodeSafetensors(bytes, `'${file}'`);
  const corrupt = (why: string): Error => new Error(`checkpoint '${file}' is corrupt: ${why}`);
  const meta = decoded.metadata;
  if (meta[KEY_FORMAT] !== undefined && meta[KEY_FORMAT] !== FORMAT) {
    throw new Error(`checkpoint '${file}' has format '${meta[KEY_FORMAT]}', this webmtl reads '${FORMAT}'`);
  }

  // Split the file into module tensors and optimizer state.
  const moduleTensors: Record<string, SafetensorsTensor> = {};
  const optimizerTensors = new Map<number, Record<string, Float32Array>>();
  for (const [name, t] of Object.entries(decoded.tensors)) {
    if (!name.startsWith(OPTIMIZER_PREFIX)) {
      moduleTensors[name] = t;
      continue;
    }
    const m = /^(\d+)\.([A-Za-z_]+)$/.exec(name.slice(OPTIMIZER_PREFIX.length));
    if (!m || t.dtype !== 'F32') throw corrupt(`unexpected optimizer tensor '${name}' (${t.dtype})`);
    const i = Number(m[1]);
    if (!optimizerTensors.has(i)) optimizerTensors.set(i, {});
    optimizerTensors.get(i)![m[2]] = t.data as Float32Array;
  }

  let optimizerState: OptimizerStateDict | undefined;
  if (meta[KEY_OPTIMIZER] !== undefined) {
    let header: OptimizerHeader;
    try {
      header = JSON.parse(meta[KEY_OPTIMIZER]);
    } catch {
      throw corrupt(`the optimizer state header is not valid JSON`);
    }
    const state: OptimizerStateDict['state'] = {};
    for (const [i, step] of Object.entries(header.steps ?? {})) state[Number(i)] = { step, buffers: optimizerTensors.get(Number(i)) ?? {} };
    for (const i of optimizerTensors.keys()) if (!(i in state)) throw corrupt(`optimizer tensors for parameter #${i} but no step count`);
    optimizerState = { type: header.type, groups: header.groups, state };
  } else if (optimizerTensors.size) throw corrupt('optimizer tensors without the optimizer state header');

  let schedulerState: SchedulerStateDict | undefined;
  if (meta[KEY_SCHEDULER] !== undefined) {
    try {
      schedulerState = JSON.parse(meta[KEY_SCHEDULER]);
    } catch {
      throw corrupt(`the scheduler state header is not valid JSON`);
    }
  }

  let strategySaved: { name: string; state: Record<string, unknown> | null } | undefined;
  if (meta[KEY_STRATEGY] !== undefined) {
    try {
      strategySaved = JSON.parse(meta[KEY_STRATEGY]);
    } catch {
      throw corrupt('the strategy state header is not valid JSON');
    }
    const ok = !!strategySaved && typeof strategySaved.name === 'string' && (strategySaved.state === null || (typeof strategySaved.state === 'object' && !Array.isArray(strategySaved.state)));
    if (!ok) throw corrupt(`the strategy state header is not { name, state }: ${meta[KEY_STRATEGY]}`);
  }

  // Check everything before changing anything.
  if (opts.optimizer) {
    if (!optimizerState) throw new Error(`checkpoint '${file}' has no optimizer state; it was saved without { optimizer }. Load it without an optimizer to start a fresh one.`);
    try {
      opts.optimizer.validateStateDict(optimizerState);
    } catch (e) {
      throw new Error(`checkpoint '${file}': ${(e as Error).message}`, { cause: e });
    }
  }
  if (opts.scheduler) {
    if (!schedulerState) throw new Error(`checkpoint '${file}' has no scheduler state; it was saved without { scheduler }`);
    const n = opts.scheduler.baseLrs.length;
    if (!Array.isArray(schedulerState.baseLrs) || schedulerState.baseLrs.length !== n || !(Number.isInteger(schedulerState.lastEpoch) && schedulerState.lastEpoch >= 0)) {
      throw new Error(`checkpoint '${file}': the scheduler state does not fit (expected ${n} base lrs and an epoch count, got ${meta[KEY_SCHEDULER]})`);
    }
  }
  if (opts.strategy && strategySaved) {
    if (strategySaved.name !== opts.strategy.name) {
      throw new Error(
        `checkpoint '${file}' was trained with the balancing method '${strategySaved.name}' but this trainer uses '${opts.strategy.name}'; resume with the same method, or load only the model (loadCheckpoint without { strategy })`,
      );
    }
    if (strategySaved.state !== null && opts.strategy.validateStateDict) {
      try {
        opts.strategy.validateStateDict(strategySaved.state);
      } catch (e) {
        throw new Error(`checkpoint '${file}': ${(e as Error).message}`, { cause: e });
      }
    }
  }
  const metadata = Object.fromEntries(Object.entries(meta).filter(([k]) => !k.startsWith('webmtl.')));
  if (opts.checkMetadata) {
    try {
      opts.checkMetadata(metadata);
    } catch (e) {
      throw new Error(`checkpoint '${file}': ${(e as Error).message}`, { cause: e });
    }
  }
  const own = module.stateDict();
  const dtypeProblems: string[] = [];
  for (const [name, t] of Object.entries(own)) {
    const src = moduleTensors[name];
    if (src && src.dtype !== (t.dtype === 'f32' ? 'F32' : 'I32')) dtypeProblems.push(`'${name}': the model has ${t.dtype}, the file ${src.dtype}`);
  }
  if (dtypeProblems.length) throw new Error(`checkpoint '${file}' does not match the model:\n  ${dtypeProblems.join('\n  ')}`);

  const backend = Object.values(own)[0]?.backend ?? getBackend();
  const loaded: Record<string, Tensor> = {};
  try {
    for (const [name, t] of Object.entries(moduleTensors)) loaded[name] = fromArray(t.data, t.shape, { backend });
    try {
      module.loadStateDict(loaded);
    } catch (e) {
      throw new Error(`checkpoint '${file}': ${(e as Error).message}`, { cause: e });
    }
  } finally {
    for (const t of Object.values(loaded)) t.dispose();
  }
  if (opts.optimizer && optimizerState) opts.optimizer.loadStateDict(optimizerState);
  if (opts.scheduler && schedulerState) opts.scheduler.loadStateDict(schedulerState);
  if (opts.strategy?.loadStateDict && strategySaved?.state) opts.strategy.loadStateDict(strategySaved.state);

  return { metadata, hasOptimizerState: optimizerState !== undefined, hasSchedulerState: schedulerState !== undefined, hasStrategyState: strategySaved !== undefined };
}
