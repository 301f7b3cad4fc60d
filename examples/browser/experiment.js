// The browser example's training run, with no DOM in it: the page (app.js) calls it with the browser
// bundle, and test/browser.test.ts calls it in Node with src/index.ts on the CPU backend, so both run
// exactly the same data, model, loaders and trainer settings and their per-step losses can be compared.

/** Settings of a run; the page reads them from its query string (?data=generated&rows=4000&...). */
export const DEFAULTS = Object.freeze({
  /** 'generated' (a synthetic set with the Ali-CCP schema and a planted signal) or 'sample' (the shipped 200 rows). */
  data: 'generated',
  /** Training rows of the generated set; validation and test get a quarter each. */
  rows: 4000,
  epochs: 3,
  batch: 256,
  /** Training steps per epoch (0 = the whole training set). */
  steps: 0,
  seed: 1,
  lr: 0.005,
  /**
   * 'webgpu' (falls back to 'wasm' when the browser has no WebGPU adapter), 'wasm' (WebAssembly kernels
   * on the CPU), 'cpu' (the TypeScript reference: plain JavaScript loops, much slower) or 'auto'.
   */
  backend: 'webgpu',
  /** Experts of the MMoE. */
  experts: 8,
});

const BACKENDS = ['webgpu', 'wasm', 'cpu', 'auto'];
const INTEGER_KEYS = ['rows', 'epochs', 'batch', 'steps', 'seed', 'experts'];

/** Options from a query string (or URLSearchParams), defaults for the rest; bad values fall back too. */
export function parseOptions(search = '') {
  const q = typeof search === 'string' ? new URLSearchParams(search) : search;
  const opts = { ...DEFAULTS };
  for (const key of INTEGER_KEYS) {
    const v = Number(q.get(key));
    if (q.has(key) && Number.isInteger(v) && v >= 0) opts[key] = v;
  }
  const lr = Number(q.get('lr'));
  if (q.has('lr') && lr > 0) opts.lr = lr;
  if (['generated', 'sample'].includes(q.get('data') ?? '')) opts.data = q.get('data');
  if (BACKENDS.includes(q.get('backend') ?? '')) opts.backend = q.get('backend');
  opts.epochs = Math.max(1, opts.epochs);
  opts.batch = Math.max(2, opts.batch);
  opts.rows = Math.max(opts.batch, opts.rows);
  opts.experts = Math.min(Math.max(1, opts.experts), 64);
  return opts;
}

/**
 * Makes a backend current: the one asked for, or, when that fails (no WebGPU here), the WebAssembly
 * kernels on the CPU, as init({ backend: 'auto' }) would pick; the TypeScript reference only when
 * WebAssembly fails too.
 * @returns {Promise<{ backend: string, label: string, adapter: string, fallbackReason: string | null }>}
 */
export async function initBackend(wm, want) {
  let fallbackReason = null;
  try {
    await wm.init({ backend: want });
  } catch (e) {
    fallbackReason = e instanceof Error ? e.message : String(e);
    await wm.init({ backend: 'wasm' }).catch(() => wm.init({ backend: 'cpu' }));
  }
  return { ...describeBackend(wm.getBackend()), fallbackReason };
}

/** What the page calls a backend (`label`) and what it runs on (`adapter`). */
export function describeBackend(b) {
  if (b.name === 'webgpu') {
    const info = b.adapterInfo ?? {};
    let adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
    if (b.isFallbackAdapter) adapter += ' (software adapter: WebGPU emulated on the CPU, slower than WebAssembly)';
    return { backend: 'webgpu', label: 'WebGPU', adapter };
  }
  if (b.name === 'wasm') {
    const threads = b.threaded ? 'two threads (the page is cross-origin isolated)' : 'one thread';
    return { backend: 'wasm', label: 'WebAssembly', adapter: `SIMD kernels on the CPU, ${threads}` };
  }
  return { backend: b.name, label: 'TypeScript CPU reference', adapter: 'JavaScript loops over typed arrays, the slowest backend' };
}

const SAMPLE_FILES = {
  train: '../../data/ali-ccp/ali_ccp_train_sample.csv',
  val: '../../data/ali-ccp/ali_ccp_val_sample.csv',
  test: '../../data/ali-ccp/ali_ccp_test_sample.csv',
};

/** The three splits: generated in memory, or the shipped Ali-CCP sample fetched from the server. */
export async function loadData(wm, opts, fetchText = defaultFetchText) {
  if (opts.data === 'sample') {
    const [train, val, test] = await Promise.all(
      ['train', 'val', 'test'].map((k) => fetchText(new URL(SAMPLE_FILES[k], import.meta.url).href)),
    );
    return { ...wm.aliCcpFromCsvText({ train, val, test }), oracle: null };
  }
  const quarter = Math.max(2, Math.round(opts.rows / 4));
  return wm.generateAliCcpSplits({ train: opts.rows, val: quarter, test: quarter, seed: opts.seed });
}

async function defaultFetchText(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${res.statusText}`);
  return res.text();
}

/** A loader that stops after `steps` batches (0: all of them); the trainer sees only those. */
export function firstSteps(loader, steps) {
  if (!steps || steps >= loader.length) return loader;
  return {
    get length() {
      return steps;
    },
    get numRows() {
      return Math.min(loader.numRows, steps * loader.batchSize);
    },
    get nTask() {
      return loader.nTask;
    },
    get labelNames() {
      return loader.labelNames;
    },
    map(fn) {
      return loader.map(fn);
    },
    *[Symbol.iterator]() {
      let n = 0;
      for (const batch of loader) {
        if (n++ >= steps) return;
        yield batch;
      }
    },
  };
}

/**
 * Trains MMoE on the current backend (call initBackend first) and reports as it goes.
 * hooks.onStep({ epoch, step, steps, globalStep, losses, gates, samplesPerSecond }) after every step,
 *   with this step's loss per task and each task's gate weights averaged over the batch's rows;
 * hooks.onEpoch(record) after each epoch's validation (record.val[task].auc, ...).
 * Resolves to { taskNames, losses: { task: number[] } per step, val: per-epoch reports, test, gates, seconds }.
 */
export async function runExperiment(wm, opts, data, hooks = {}) {
  const started = performance.now();
  wm.seed(opts.seed);
  const model = wm.createModel('mmoe', { ...data, itemColumns: wm.aliCcpSchema.itemColumns }, { nExpert: opts.experts });
  const features = model.features.map((f) => f.name);
  const trainDl = new wm.DataLoader(data.train, { batchSize: opts.batch, shuffle: true, seed: opts.seed, features });
  const valDl = new wm.DataLoader(data.val, { batchSize: 1024, features });
  const testDl = new wm.DataLoader(data.test, { batchSize: 1024, features });
  const taskNames = model.taskNames;

  const losses = Object.fromEntries(taskNames.map((t) => [t, []]));
  const val = [];
  let gates = null;
  let globalStep = 0;
  const pending = [];

  const trainer = new wm.MTLTrainer(model, {
    optimizer: 'adam',
    optimizerParams: { lr: opts.lr },
    nEpoch: opts.epochs,
    restoreBest: true, // the test set is scored with the best validation epoch's weights
    earlystopTask: 'mean',
    device: wm.getBackend(),
    seed: opts.seed,
    progress: 'none',
    onProgress(e) {
      const stepLoss = e.stepLosses;
      for (const t of taskNames) losses[t].push(stepLoss[t]);
      // The gate weights of this step's forward ([batch, experts] per task). data() starts the copy
      // now, before the next step's forward replaces them; the values arrive a little later.
      const reads = Object.entries(model.lastGateWeights ?? {}).map(([t, w]) => [t, w.shape, w.data()]);
      const event = {
        epoch: e.epoch,
        step: e.step,
        steps: e.steps,
        globalStep: ++globalStep,
        losses: stepLoss,
        samplesPerSecond: e.samplesPerSecond,
      };
      pending.push(
        Promise.all(reads.map(([, , p]) => p)).then((arrays) => {
          const means = {};
          reads.forEach(([t, shape], i) => (means[t] = columnMeans(arrays[i], shape[0], shape[1])));
          gates = means;
          hooks.onStep?.({ ...event, gates: means });
        }),
      );
    },
    onEpochEnd(record) {
      val.push(record.val);
      hooks.onEpoch?.(record);
    },
  });

  await trainer.fit(firstSteps(trainDl, opts.steps), valDl);
  await Promise.all(pending);
  const test = await trainer.evaluate(testDl);
  const result = { taskNames, losses, val, test, gates, seconds: (performance.now() - started) / 1000 };
  model.dispose();
  return result;
}

/** Mean of each column of a row-major [rows, cols] array. */
function columnMeans(values, rows, cols) {
  const out = new Array(cols).fill(0);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += values[r * cols + c];
  return out.map((s) => s / Math.max(rows, 1));
}
