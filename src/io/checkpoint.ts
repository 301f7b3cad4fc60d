// Checkpoints on disk (Node only): a module's parameters and buffers, optionally an optimizer's, a
// scheduler's and a task-balancing strategy's state, in one safetensors file. Node modules are imported inside the functions so that
// bundling this file for the browser does not break.
import type { BalanceStrategy } from '../mtl/strategy.js';
import type { Module } from '../nn/module.js';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer.js';
import type { LRScheduler, SchedulerStateDict } from '../optim/scheduler.js';
import { fmtShape, fromArray, type Tensor } from '../tensor/tensor.js';
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
  /**
   * User metadata keys that must hold a count (a whole number ≥ 0 in decimal digits, e.g. the epoch
   * and step a trainer saves) when present; checked with the rest, before anything changes.
   */
  countFields?: readonly string[];
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
    throw new Error(
      'Checkpoint files need Node.js (node:fs); in the browser use encodeSafetensors/decodeSafetensors with your own storage',
    );
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
 * Creates the directory when missing. Temporary files of this checkpoint that a killed process left
 * behind are removed first (see removeStaleTemporaries).
 */
export async function saveCheckpoint(file: string, module: Module, extra: CheckpointExtra = {}): Promise<void> {
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of Object.entries(module.stateDict())) tensors[name] = await hostTensor(t);

  // Null prototype: a user key such as `__proto__` is stored as a plain key.
  const metadata: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(extra.metadata ?? {})) {
    if (k.startsWith('webmtl.'))
      throw new Error(`saveCheckpoint: metadata key '${k}' is reserved (keys starting with 'webmtl.' are written by webmtl)`);
    metadata[k] = v;
  }
  metadata[KEY_FORMAT] = FORMAT;
  if (extra.optimizer) {
    const sd = extra.optimizer.stateDict();
    const steps: Record<number, number> = {};
    for (const [i, s] of Object.entries(sd.state)) {
      steps[Number(i)] = s.step;
      for (const [key, value] of Object.entries(s.buffers)) {
        tensors[`${OPTIMIZER_PREFIX}${i}.${key}`] =
          value instanceof Float32Array ? { dtype: 'F32', shape: [value.length], data: value } : await hostTensor(value);
      }
    }
    const header: OptimizerHeader = { type: sd.type, groups: sd.groups, steps };
    metadata[KEY_OPTIMIZER] = JSON.stringify(header);
  }
  if (extra.scheduler) metadata[KEY_SCHEDULER] = JSON.stringify(extra.scheduler.stateDict());
  if (extra.strategy)
    metadata[KEY_STRATEGY] = JSON.stringify({ name: extra.strategy.name, state: (await extra.strategy.stateDict?.()) ?? null });

  const bytes = encodeSafetensors(tensors, metadata);
  await writeFileAtomically(file, bytes);
}

/** A tensor's values on the host, as safetensors stores them. */
export async function hostTensor(t: Tensor): Promise<SafetensorsTensor> {
  const data = await t.data();
  return data instanceof Int32Array ? { dtype: 'I32', shape: [...t.shape], data } : { dtype: 'F32', shape: [...t.shape], data };
}

function randomTag(): string {
  return Math.random().toString(36).slice(2, 10);
}

/**
 * The temporary files this process is writing now (absolute paths); never removed as stale. Kept on
 * globalThis so that two copies of this module in one process (a bundle and the sources) share it.
 */
const inFlight: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('webmtl.checkpoint.inFlight')] ??=
  new Set<string>()) as Set<string>;

/** A temporary file untouched this long is abandoned even if a process with its pid is running. */
const ABANDONED_MS = 60 * 60 * 1000;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether a process with this pid runs on this machine (false only when it surely does not). */
function processRuns(pid: number): boolean {
  if (!(Number.isSafeInteger(pid) && pid > 0)) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: it runs, as another user
  }
}

/**
 * Removes the temporary files that earlier writes of checkpoint `base` in `dir` left behind
 * (`.<base>.<pid>.<random>.tmp`, the names writeAtomically uses) when their writer cannot still be
 * writing them: its process no longer runs on this machine (killed), it is this process and the
 * write is not in flight, or the file has not been modified for an hour (a writer on another
 * machine sharing the directory, or a reused pid). Other checkpoints' temporaries and files of
 * other shapes are left alone. Best effort: a file that cannot be listed or removed is skipped.
 */
async function removeStaleTemporaries(dir: string, base: string): Promise<void> {
  const { fs, path } = await nodeModules();
  const pattern = new RegExp(`^\\.${escapeRegExp(base)}\\.([0-9]+)\\.[a-z0-9]+\\.tmp$`);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    if (inFlight.has(file)) continue;
    const pid = Number(m[1]);
    try {
      const st = await fs.lstat(file);
      if (!st.isFile()) continue;
      const stale = pid === process.pid || !processRuns(pid) || Date.now() - st.mtimeMs >= ABANDONED_MS;
      if (stale && !inFlight.has(file)) await fs.rm(file, { force: true });
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/**
 * Writes `bytes` to `file` so that a crash never leaves it half-written: a temporary file in the same
 * directory, flushed, then renamed over `file` (temporaries a killed writer left are removed first).
 * `what` names the file in errors ('checkpoint', 'model bundle', ...).
 */
export async function writeFileAtomically(file: string, bytes: Uint8Array, what = 'checkpoint'): Promise<void> {
  const { fs, path } = await nodeModules();
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const fail = (e: unknown): Error =>
    new Error(`Cannot save ${what} to '${file}': ${fsReason(e)}. Choose a writable location.`, { cause: e });
  try {
    await makeDirectory(dir);
  } catch (e) {
    throw fail(e);
  }
  await removeStaleTemporaries(dir, path.basename(target));
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomTag()}.tmp`);
  inFlight.add(tmp);
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
  } finally {
    inFlight.delete(tmp);
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
 * Loads a checkpoint written by saveCheckpoint into `module` (and, when given, the optimizer,
 * scheduler and strategy). All-or-nothing: everything is validated first — the file layout, every
 * name (read as plain names: `__proto__` or `constructor` never reach a prototype), shape and dtype
 * of the model's tensors, the optimizer's fit (every parameter's moments present, none extra, each
 * the parameter's shape and F32, step counts non-negative integers), the scheduler's type and
 * fields, the strategy's method and state, `countFields` and `checkMetadata` — and only then is
 * anything applied. On any problem nothing is changed and one error lists every problem found.
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
  // Layout errors (truncated, bad offsets, ...) are thrown here as "checkpoint '<file>' is corrupt: ...".
  const decoded = decodeSafetensors(bytes, `'${file}'`);
  const plan = planLoad(file, decoded, headerNames(bytes), module, opts);
  applyLoad(plan, module, opts);
  return plan.result;
}

/** What validation produced: everything applyLoad needs, already checked. */
interface LoadPlan {
  /** Module tensors by the module's own names. */
  moduleTensors: Map<string, SafetensorsTensor>;
  optimizerState?: OptimizerStateDict;
  schedulerState?: SchedulerStateDict;
  strategyState?: Record<string, unknown>;
  result: LoadedCheckpoint;
}

/**
 * The tensor names and metadata entries of the header as own keys of the parsed JSON (which keeps
 * `__proto__` as a plain key), to catch names that a plain-object map would have swallowed. The
 * layout was already validated by decodeSafetensors.
 */
function headerNames(bytes: Uint8Array): { tensors: string[]; metadata: [string, string][] } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const meta = Object.hasOwn(header, '__metadata__') ? (header.__metadata__ as Record<string, string>) : {};
  return { tensors: Object.keys(header).filter((k) => k !== '__metadata__'), metadata: Object.entries(meta) };
}

const COUNT = /^(0|[1-9][0-9]*)$/;

/** Pure: checks the whole file against the module and opts, and throws listing every problem. */
function planLoad(
  file: string,
  decoded: ReturnType<typeof decodeSafetensors>,
  header: ReturnType<typeof headerNames>,
  module: Module,
  opts: LoadCheckpointOptions,
): LoadPlan {
  const problems: string[] = [];
  const hasTensor = (name: string): boolean => Object.hasOwn(decoded.tensors, name);
  // Metadata, as own entries (a `__proto__` key stays a plain key).
  const meta = new Map(header.metadata);
  if (meta.has(KEY_FORMAT) && meta.get(KEY_FORMAT) !== FORMAT) {
    throw new Error(`checkpoint '${file}' has format '${meta.get(KEY_FORMAT)}', this webmtl reads '${FORMAT}'`);
  }

  // Split the file into module tensors and optimizer state tensors.
  const moduleTensors = new Map<string, SafetensorsTensor>();
  const optimizerTensors = new Map<number, Map<string, SafetensorsTensor>>();
  for (const name of header.tensors) {
    if (!hasTensor(name)) {
      problems.push(
        `the file has a tensor named '${name}', a name this loader refuses (it is JavaScript's prototype key); rename the tensor`,
      );
      continue;
    }
    const t = decoded.tensors[name];
    if (!name.startsWith(OPTIMIZER_PREFIX)) {
      moduleTensors.set(name, t);
      continue;
    }
    const m = /^(0|[1-9][0-9]*)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(name.slice(OPTIMIZER_PREFIX.length));
    if (!m) {
      problems.push(
        `unexpected optimizer tensor '${name}' (optimizer state is stored as '${OPTIMIZER_PREFIX}<parameter index>.<state name>')`,
      );
      continue;
    }
    if (t.dtype !== 'F32') problems.push(`optimizer tensor '${name}' is ${t.dtype}; optimizer state is F32`);
    const i = Number(m[1]);
    if (!optimizerTensors.has(i)) optimizerTensors.set(i, new Map());
    optimizerTensors.get(i)!.set(m[2], t);
  }

  const parseJson = (key: string, what: string): unknown => {
    try {
      return JSON.parse(meta.get(key)!);
    } catch {
      problems.push(`the ${what} header is not valid JSON (the file is corrupt)`);
      return undefined;
    }
  };

  // Model: every name, shape and dtype.
  const own = new Map([...module.namedParameters(), ...module.namedBuffers()]);
  for (const [name, t] of own) {
    const src = moduleTensors.get(name);
    const dtype = t.dtype === 'f32' ? 'F32' : 'I32';
    if (!src)
      problems.push(
        `missing '${name}' ${fmtShape(t.shape)}: the file was saved from a model without it; load it into the model it was saved from`,
      );
    else if (src.shape.join() !== t.shape.join())
      problems.push(
        `'${name}': expected ${fmtShape(t.shape)}, got ${fmtShape(src.shape)}; build the model with the sizes it was saved with`,
      );
    else if (src.dtype !== dtype) problems.push(`'${name}': the model has ${t.dtype}, the file ${src.dtype}`);
  }
  for (const name of moduleTensors.keys())
    if (!own.has(name)) problems.push(`unexpected '${name}': the model has no parameter or buffer of that name`);

  // Optimizer: the header (type, groups, step counts) and the tensors, then the fit.
  let optimizerState: OptimizerStateDict | undefined;
  if (meta.has(KEY_OPTIMIZER)) {
    const h = parseJson(KEY_OPTIMIZER, 'optimizer state');
    if (h !== undefined) {
      if (!isObject(h) || typeof h.type !== 'string' || !Array.isArray(h.groups) || !isObject(h.steps)) {
        problems.push(`the optimizer state header is not { type, groups, steps } (the file is corrupt): ${meta.get(KEY_OPTIMIZER)}`);
      } else {
        const params = opts.optimizer?.allParams();
        const state: OptimizerStateDict['state'] = {};
        for (const key of Object.keys(h.steps)) {
          if (!COUNT.test(key)) {
            problems.push(`optimizer step count for '${key}', which is not a parameter index (the file is corrupt)`);
            continue;
          }
          const i = Number(key);
          // Null prototype: a state named `__proto__` stays a plain (unexpected) key.
          const buffers: Record<string, Float32Array> = Object.create(null);
          for (const [name, t] of optimizerTensors.get(i) ?? []) {
            const p = params?.[i];
            let data = t.data as Float32Array;
            if (p && (t.dtype !== 'F32' || t.shape.join() !== p.shape.join())) {
              if (t.shape.join() !== p.shape.join())
                problems.push(
                  `optimizer: parameter #${i} '${name}': the file has ${fmtShape(t.shape)}, the parameter${nameOf(module, p)} is ${fmtShape(p.shape)}`,
                );
              data = new Float32Array(p.size); // reported above; a stand-in so the rest is still checked
            }
            buffers[name] = data;
          }
          state[i] = { step: h.steps[key] as number, buffers };
        }
        for (const i of optimizerTensors.keys()) {
          if (!Object.hasOwn(h.steps, String(i)))
            problems.push(`optimizer tensors for parameter #${i} but no step count (the file is corrupt)`);
        }
        optimizerState = { type: h.type, groups: h.groups as OptimizerStateDict['groups'], state };
      }
    }
  } else if (optimizerTensors.size) problems.push('optimizer tensors without the optimizer state header (the file is corrupt)');
  if (opts.optimizer) {
    if (!meta.has(KEY_OPTIMIZER))
      problems.push('it has no optimizer state; it was saved without { optimizer }. Load it without an optimizer to start a fresh one.');
    else if (optimizerState) {
      const names = new Map(module.namedParameters().map(([n, p]) => [p, n]));
      problems.push(...opts.optimizer.stateDictProblems(optimizerState, (p) => names.get(p)).map((x) => `optimizer: ${x}`));
    }
  }

  // Scheduler.
  let schedulerState: SchedulerStateDict | undefined;
  if (meta.has(KEY_SCHEDULER)) {
    const sd = parseJson(KEY_SCHEDULER, 'scheduler state');
    if (sd !== undefined) {
      schedulerState = sd as SchedulerStateDict;
      if (opts.scheduler) problems.push(...opts.scheduler.stateDictProblems(schedulerState).map((x) => `scheduler state: ${x}`));
    }
  } else if (opts.scheduler) problems.push('it has no scheduler state; it was saved without { scheduler }');

  // Strategy.
  let strategySaved: { name: string; state: Record<string, unknown> | null } | undefined;
  if (meta.has(KEY_STRATEGY)) {
    const v = parseJson(KEY_STRATEGY, 'strategy state');
    if (v !== undefined) {
      const ok = isObject(v) && typeof v.name === 'string' && (v.state === null || isObject(v.state));
      if (!ok) problems.push(`the strategy state header is not { name, state } (the file is corrupt): ${meta.get(KEY_STRATEGY)}`);
      else strategySaved = v as { name: string; state: Record<string, unknown> | null };
    }
  }
  if (opts.strategy && strategySaved) {
    if (strategySaved.name !== opts.strategy.name) {
      problems.push(
        `it was trained with the balancing method '${strategySaved.name}' but this trainer uses '${opts.strategy.name}'; resume with the same method, or load only the model (loadCheckpoint without { strategy })`,
      );
    } else if (strategySaved.state !== null && opts.strategy.validateStateDict) {
      try {
        opts.strategy.validateStateDict(strategySaved.state);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
  }

  // User metadata: count fields, then the caller's check.
  const metadata = Object.fromEntries([...meta].filter(([k]) => !k.startsWith('webmtl.')));
  for (const key of opts.countFields ?? []) {
    if (!Object.hasOwn(metadata, key)) continue;
    const v = metadata[key];
    if (!COUNT.test(v) || !Number.isSafeInteger(Number(v)))
      problems.push(`its '${key}' '${v}' is not a count (a whole number ≥ 0 in decimal digits)`);
  }
  if (opts.checkMetadata) {
    try {
      opts.checkMetadata({ ...metadata });
    } catch (e) {
      problems.push((e as Error).message);
    }
  }

  if (problems.length) throw new Error(`checkpoint '${file}' cannot be loaded; nothing was changed:\n  - ${problems.join('\n  - ')}`);
  return {
    moduleTensors,
    optimizerState,
    schedulerState,
    strategyState: strategySaved?.state ?? undefined,
    result: {
      metadata,
      hasOptimizerState: optimizerState !== undefined,
      hasSchedulerState: schedulerState !== undefined,
      hasStrategyState: strategySaved !== undefined,
    },
  };
}

/**
 * Applies a validated plan. Every new device tensor (the model's values, the optimizer's copies) is
 * made before the first change, so the only steps left after them are assignments.
 */
function applyLoad(plan: LoadPlan, module: Module, opts: LoadCheckpointOptions): void {
  const loaded: Record<string, Tensor> = Object.create(null);
  try {
    for (const [name, t] of [...module.namedParameters(), ...module.namedBuffers()]) {
      const src = plan.moduleTensors.get(name)!;
      loaded[name] = fromArray(src.data, src.shape, { backend: t.backend });
    }
    // Validated above; the optimizer makes its copies before it replaces anything.
    if (opts.optimizer && plan.optimizerState) opts.optimizer.loadStateDict(plan.optimizerState);
    module.loadStateDict(loaded);
  } finally {
    for (const t of Object.values(loaded)) t.dispose();
  }
  if (opts.scheduler && plan.schedulerState) opts.scheduler.loadStateDict(plan.schedulerState);
  if (opts.strategy?.loadStateDict && plan.strategyState) opts.strategy.loadStateDict(plan.strategyState);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function nameOf(module: Module, p: Tensor): string {
  const found = module.namedParameters().find(([, q]) => q === p);
  return found ? ` '${found[0]}'` : '';
}
