// Training throughput per model and backend, measured three ways in one run:
//   trainer   — MTLTrainer.fit over one epoch: batch gathering, upload, step, one loss readback per step;
//   compute   — forward + backward + Adam on 8 batches already on the device (the step alone);
//   inference — predict() on the same 8 batches, reading back the last output;
// compute and inference are medians over repeated passes of the 8 batches (at least 5 and 1.5 s).
// With --strategies, MMoE is trained once per task-balancing method and the table adds test AUCs.
//
//   node bench/run.mjs train [--rows 50000] [--models mmoe,ple,esmm] [--backend cpu] [--batch 1024]
//   node bench/run.mjs train --strategies [--rows 50000] [--epochs 2]

import { aliCcpSchema } from '../src/data/datasets.js';
import { DataLoader, type HostBatch } from '../src/data/loader.js';
import { generateAliCcpSplits } from '../src/data/synthetic-ali-ccp.js';
import type { MultiTaskModel, TaskTerm } from '../src/models/base.js';
import { createModel } from '../src/models/registry.js';
import { STRATEGY_METHODS } from '../src/mtl/registry.js';
import { Adam } from '../src/optim/adam.js';
import { keep, setBackend, tidy } from '../src/tensor/engine.js';
import * as ops from '../src/tensor/ops.js';
import { seed } from '../src/tensor/random.js';
import { type DeviceBatch, toDevice } from '../src/train/batch.js';
import type { ClassificationReport } from '../src/train/metrics.js';
import { MTLTrainer } from '../src/train/trainer.js';
import {
  adapterLabel,
  backendList,
  machineInfo,
  numberFlag,
  type OpenedBackend,
  openBackend,
  parseFlags,
  printTable,
  writeReport,
} from './common.js';

function uploadBatches(loader: DataLoader, opened: OpenedBackend, model: MultiTaskModel, count: number): DeviceBatch[] {
  const out: DeviceBatch[] = [];
  for (const b of loader as Iterable<HostBatch>) {
    if (out.length === count) break;
    const d = toDevice(
      b,
      opened.backend,
      model.features.map((f) => f.name),
    );
    for (const t of Object.values(d.x)) keep(t);
    keep(d.y);
    out.push(d);
  }
  return out;
}

/** The sum of the trained tasks' BCE losses (the model's task plan: ESMM trains ctr and ctcvr). */
function stepLoss(model: MultiTaskModel, b: DeviceBatch, trained: TaskTerm[]) {
  const out = model.forward(b.x);
  const rows = b.size;
  const losses = trained.map((t) =>
    ops.binaryCrossEntropy(
      ops.reshape(ops.slice(out, [0, t.output], [rows, 1]), [rows]),
      ops.reshape(ops.slice(b.y, [0, t.label], [rows, 1]), [rows]),
    ),
  );
  return losses.reduce((a, l) => ops.add(a, l));
}

/**
 * Samples per second of `pass` (which processes `rows` rows), as the median over repeated passes:
 * at least 5 passes and 1.5 s, after one warm-up pass. The median keeps a pass that another process
 * slowed down (this machine is shared) from moving the figure.
 */
async function medianRate(rows: number, pass: () => Promise<void>): Promise<number> {
  await pass(); // warm-up: pipelines compiled, optimizer state allocated, JIT settled
  const rates: number[] = [];
  const started = performance.now();
  while (rates.length < 5 || performance.now() - started < 1500) {
    const t = performance.now();
    await pass();
    rates.push(rows / ((performance.now() - t) / 1000));
  }
  rates.sort((x, y) => x - y);
  const mid = rates.length >> 1;
  return rates.length % 2 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2;
}

/** Forward + backward + Adam over the uploaded batches (one pass = one step per batch). */
async function computeOnly(model: MultiTaskModel, batches: DeviceBatch[], opened: OpenedBackend): Promise<number> {
  const adam = new Adam(model.parameters(), { lr: 1e-3 });
  model.train();
  const rows = batches.reduce((n, b) => n + b.size, 0);
  const trained = model.taskPlan(batches[0].y.shape[1]).train;
  const rate = await medianRate(rows, async () => {
    tidy(() => {
      for (const b of batches) {
        stepLoss(model, b, trained).backward();
        adam.step();
        adam.zeroGrad();
      }
    });
    await opened.backend.sync();
  });
  adam.dispose();
  return rate;
}

/** predict() over the uploaded batches, reading back the last batch's output (one pass). */
async function inference(model: MultiTaskModel, batches: DeviceBatch[]): Promise<number> {
  const rows = batches.reduce((n, b) => n + b.size, 0);
  return medianRate(rows, async () => {
    for (const b of batches) {
      const v = tidy(() => keep(model.predict(b.x)));
      if (b === batches[batches.length - 1]) await v.data();
      v.dispose();
    }
  });
}

const auc = (r: unknown): string => {
  const v = (r as ClassificationReport | undefined)?.auc;
  return v === null || v === undefined ? 'n/a' : v.toFixed(4);
};

export async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv);
  if (flags.has('help')) {
    console.log(
      'node bench/run.mjs train [--rows N] [--models mmoe,ple,esmm] [--backend cpu|wasm|webgpu|wasm,cpu] [--batch 1024] [--strategies] [--epochs N]',
    );
    return;
  }
  const rows = numberFlag(flags, 'rows', 50_000);
  const batchSize = numberFlag(flags, 'batch', 1024);
  const models = (flags.get('models') ?? 'mmoe,ple,esmm').split(',');
  const backends = flags.has('backend') ? backendList(flags) : (['cpu'] as const);
  const data = generateAliCcpSplits({ train: rows, val: Math.round(rows / 10), test: Math.round(rows / 10), seed: 2022 });
  const schema = { ...data, itemColumns: aliCcpSchema.itemColumns };
  const loaders = () => ({
    train: new DataLoader(data.train, { batchSize, shuffle: true, seed: 1 }),
    test: new DataLoader(data.test, { batchSize: 4096 }),
  });

  for (const name of backends) {
    const opened = await openBackend(name);
    setBackend(opened.backend);
    console.log(`\nbackend: ${name} — ${adapterLabel(opened.adapter, opened.backend)}; ${rows} training rows, batch ${batchSize}`);
    const results: Record<string, unknown>[] = [];
    if (flags.has('strategies')) {
      const epochs = numberFlag(flags, 'epochs', 2);
      for (const method of STRATEGY_METHODS) {
        seed(7);
        const model = createModel('mmoe', schema);
        const trainer = new MTLTrainer(model, {
          nEpoch: epochs,
          device: opened.backend,
          progress: 'none',
          adaptiveParams: { method },
          seed: 7,
        });
        const dl = loaders();
        const started = performance.now();
        const history = await trainer.fit(dl.train);
        const seconds = (performance.now() - started) / 1000;
        const test = await trainer.evaluate(dl.test);
        const weights = history.epochs[history.epochs.length - 1].taskWeights;
        results.push({
          method,
          samplesPerSecond: (rows * epochs) / seconds,
          clickAuc: (test.click as ClassificationReport).auc,
          purchaseAuc: (test.purchase as ClassificationReport).auc,
          lastEpochWeights: weights,
        });
        console.log(`  ${method}: done`);
      }
      printTable(
        [
          { title: 'method', align: 'left' },
          { title: 'samples/s' },
          { title: 'click AUC' },
          { title: 'purchase AUC' },
          { title: 'task weights (last epoch)', align: 'left' },
        ],
        results.map((r) => [
          String(r.method),
          Math.round(r.samplesPerSecond as number).toLocaleString('en-US'),
          auc({ auc: r.clickAuc }),
          auc({ auc: r.purchaseAuc }),
          Object.values(r.lastEpochWeights as Record<string, number>)
            .map((w) => w.toFixed(3))
            .join(' / '),
        ]),
      );
    } else {
      for (const m of models) {
        seed(7);
        const model = createModel(m, schema);
        const dl = loaders();
        const trainer = new MTLTrainer(model, { nEpoch: 1, device: opened.backend, progress: 'none', seed: 7 });
        const history = await trainer.fit(dl.train);
        const trainerRate = history.epochs[0].samplesPerSecond;
        // Test metrics of the one-epoch model, before the compute passes train it further.
        const test = await trainer.evaluate(dl.test);
        const batches = uploadBatches(new DataLoader(data.train, { batchSize }), opened, model, 8);
        const compute = await computeOnly(model, batches, opened);
        const infer = await inference(model, batches);
        const first = Object.keys(test);
        results.push({
          model: m,
          parameters: model.numParameters(),
          trainer: trainerRate,
          compute,
          inference: infer,
          auc: Object.fromEntries(first.map((k) => [k, (test[k] as ClassificationReport).auc])),
        });
        for (const b of batches) {
          for (const t of Object.values(b.x)) t.dispose();
          b.y.dispose();
        }
      }
      const fmt = (x: unknown) => Math.round(x as number).toLocaleString('en-US');
      printTable(
        [
          { title: 'model', align: 'left' },
          { title: 'params' },
          { title: 'trainer samples/s' },
          { title: 'compute samples/s' },
          { title: 'inference samples/s' },
          { title: 'test AUC after 1 epoch', align: 'left' },
        ],
        results.map((r) => [
          String(r.model),
          fmt(r.parameters),
          fmt(r.trainer),
          fmt(r.compute),
          fmt(r.inference),
          Object.entries(r.auc as Record<string, number | null>)
            .map(([k, v]) => `${k} ${auc({ auc: v })}`)
            .join(', '),
        ]),
      );
    }
    const path = writeReport(flags.has('strategies') ? 'train-strategies' : 'train', name, {
      machine: machineInfo(),
      adapter: opened.adapter,
      rows,
      batchSize,
      results,
    });
    console.log(`wrote ${path}`);
    opened.close();
  }
}
