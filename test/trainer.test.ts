// MTLTrainer end to end on the CPU backend: it learns, it is deterministic, early stopping restores the
// best weights, checkpoints resume, ESMM is trained and evaluated as its paper says, and bad input
// fails before any parameter changes.
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { aliCcpSchema } from '../src/data/datasets.js';
import { DataLoader } from '../src/data/loader.js';
import { generateAliCcpSplits } from '../src/data/synthetic-ali-ccp.js';
import { createModel } from '../src/models/registry.js';
import { setBackend } from '../src/tensor/engine.js';
import { seed } from '../src/tensor/random.js';
import type { ClassificationReport } from '../src/train/metrics.js';
import { MTLTrainer, NonFiniteLossError } from '../src/train/trainer.js';

const cpu = new CpuBackend();
setBackend(cpu);

const data = generateAliCcpSplits({ train: 12_000, val: 3000, test: 3000, seed: 5, vocabScale: 0.05 });
const schema = { ...data, itemColumns: aliCcpSchema.itemColumns };

function build(name: string, s = 1) {
  setBackend(cpu);
  seed(s);
  return createModel(name, schema);
}
const loaders = (batchSize = 512) => ({
  train: new DataLoader(data.train, { batchSize, shuffle: true, seed: 3 }),
  val: new DataLoader(data.val, { batchSize: 4096 }),
  test: new DataLoader(data.test, { batchSize: 4096 }),
});
const auc = (r: unknown) => (r as ClassificationReport).auc!;

async function paramValues(model: ReturnType<typeof build>): Promise<number[]> {
  const out: number[] = [];
  for (const p of model.parameters()) out.push(...(await p.data()));
  return out;
}

describe('MTLTrainer', () => {
  it('trains MMoE: losses fall and test AUC is well above chance on both tasks', async () => {
    const model = build('mmoe');
    const dl = loaders();
    const trainer = new MTLTrainer(model, { nEpoch: 3, optimizerParams: { lr: 3e-3 }, device: 'cpu', progress: 'none', seed: 1 });
    const history = await trainer.fit(dl.train, dl.val);
    const [first, , last] = history.epochs;
    expect(last.trainLoss.click).toBeLessThan(first.trainLoss.click);
    expect(last.trainLoss.purchase).toBeLessThan(first.trainLoss.purchase);
    const test = await trainer.evaluate(dl.test);
    expect(Object.keys(test)).toEqual(['click', 'purchase']);
    expect(auc(test.click)).toBeGreaterThan(0.68);
    expect(auc(test.purchase)).toBeGreaterThan(0.68);
    expect(auc(test.click)).toBeLessThanOrEqual(data.oracle.test.clickAuc + 0.02);
  });

  it('is deterministic: same seed, same data, same backend → identical metrics', async () => {
    const run = async () => {
      const t = new MTLTrainer(build('ple', 9), { nEpoch: 1, device: 'cpu', progress: 'none', seed: 4 });
      const h = await t.fit(loaders(1024).train, loaders().val);
      return { loss: h.epochs[0].trainLoss, val: h.epochs[0].val };
    };
    expect(await run()).toEqual(await run());
  });

  it('ESMM trains CTR and CTCVR and reports CVR on clicked rows', async () => {
    const trainer = new MTLTrainer(build('esmm'), { nEpoch: 2, optimizerParams: { lr: 3e-3 }, device: 'cpu', progress: 'none' });
    const history = await trainer.fit(loaders().train, loaders().val);
    expect(Object.keys(history.epochs[0].trainLoss)).toEqual(['ctr', 'ctcvr']);
    const test = await trainer.evaluate(loaders().test);
    expect(Object.keys(test).sort()).toEqual(['ctcvr', 'ctr', 'cvr']);
    const clicked = Array.from(data.test.label(0)).filter((v) => v === 1).length;
    expect(test.cvr.n).toBe(clicked);
    expect(auc(test.ctr)).toBeGreaterThan(0.65);
    const preds = await trainer.predict(loaders().test);
    const [cvr, ctr, ctcvr] = [preds.cvr, preds.ctr, preds.ctcvr];
    for (let i = 0; i < 20; i++) expect(ctcvr[i]).toBeCloseTo(ctr[i] * cvr[i], 6);
  });

  it('early stopping keeps the best epoch, saves it, and a new trainer resumes from last.safetensors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webmtl-trainer-'));
    const model = build('sharedbottom');
    const epochs: number[] = [];
    // A huge learning rate makes validation AUC peak early, so patience 1 stops the run.
    const trainer = new MTLTrainer(model, {
      nEpoch: 6,
      optimizerParams: { lr: 0.2 },
      earlystopPatience: 1,
      modelPath: dir,
      device: 'cpu',
      progress: 'none',
      onEpochEnd: (e) => epochs.push(e.epoch),
    });
    const history = await trainer.fit(loaders().train, loaders().val);
    expect(history.bestEpoch).not.toBeNull();
    expect(history.epochs.length).toBeLessThanOrEqual(history.bestEpoch! + 2);
    expect(epochs).toEqual(history.epochs.map((e) => e.epoch));
    expect((await readdir(dir)).sort()).toEqual(['best.safetensors', 'last.safetensors']);
    // It stopped early, so (as torch-rechub) the best epoch's weights are back: validation AUC of
    // task 0 (the default earlystopTask, torch-rechub's earlystop_taskid=0) equals the best score.
    expect(history.stoppedEarly).toBe(true);
    const val = await trainer.evaluate(loaders().val);
    expect(auc(val.click)).toBeCloseTo(history.bestScore!, 6);
    expect(history.epochs[history.bestEpoch!].score).toBeCloseTo(auc(history.epochs[history.bestEpoch!].val!.click), 12);

    const again = new MTLTrainer(build('sharedbottom', 2), { nEpoch: history.epochs.length + 1, device: 'cpu', progress: 'none' });
    await again.resume(join(dir, 'last.safetensors'));
    const resumed = await again.fit(loaders().train);
    expect(resumed.epochs.map((e) => e.epoch)).toEqual([history.epochs.length]);
  });

  it('inspectEvery records the gradient inspector into history.gradients', async () => {
    const trainer = new MTLTrainer(build('mmoe'), { nEpoch: 1, device: 'cpu', progress: 'none', inspectEvery: 10 });
    const history = await trainer.fit(loaders(1024).train);
    expect(history.gradients.map((g) => g.step)).toEqual([0, 10]);
    const experts = history.gradients[1].report.experts[0];
    for (const row of experts.share) expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('fixed weights default to the mean of the task losses; taskWeights override them', async () => {
    const mean = new MTLTrainer(build('mmoe'), { nEpoch: 1, device: 'cpu', progress: 'none' });
    expect((await mean.fit(loaders(4096).train)).epochs[0].taskWeights).toEqual({ click: 0.5, purchase: 0.5 });
    const given = new MTLTrainer(build('mmoe'), { nEpoch: 1, device: 'cpu', progress: 'none', taskWeights: [1, 0.25] });
    expect((await given.fit(loaders(4096).train)).epochs[0].taskWeights).toEqual({ click: 1, purchase: 0.25 });
    const named = new MTLTrainer(build('mmoe'), {
      nEpoch: 1,
      device: 'cpu',
      progress: 'none',
      adaptiveParams: { method: 'fixed' },
      taskWeights: [2, 1],
    });
    expect((await named.fit(loaders(4096).train)).epochs[0].taskWeights).toEqual({ click: 2, purchase: 1 });
    // Now refused when the trainer is built (the model says how many losses it trains).
    expect(() => new MTLTrainer(build('mmoe'), { taskWeights: [1, 2, 3], device: 'cpu', progress: 'none' })).toThrow(
      /taskWeights must be 2 finite numbers ≥ 0, one per trained task, got \[1,2,3\]/,
    );
  });

  it('per-task learning rates become optimizer groups', async () => {
    const model = build('mmoe');
    const trainer = new MTLTrainer(model, { optimizerParams: { lr: 1e-3 }, taskSpecificLr: { purchase: 5e-4 }, progress: 'none' });
    const groups = trainer.optimizer.paramGroups.map((g) => [g.name, g.lr]);
    expect(groups).toEqual([
      ['shared', 1e-3],
      ['click', 1e-3],
      ['purchase', 5e-4],
    ]);
    // A name the model does not know may be a label name: fit() resolves it against the loader's, before any step.
    const unknown = new MTLTrainer(model, { taskSpecificLr: { cvr: 1e-3 }, device: 'cpu', progress: 'none' });
    await expect(unknown.fit(loaders(4096).train)).rejects.toThrow(
      /taskSpecificLr names task 'cvr', but the trained tasks are click, purchase/,
    );
  });
});

describe('MTLTrainer bad input: a clear error and nothing changed', () => {
  const tiny = () => new DataLoader(data.train.take(Int32Array.from({ length: 64 }, (_, i) => i)), { batchSize: 32 });

  it('an id outside its feature vocabulary, or NaN in a dense column: rejected before any epoch', async () => {
    const model = build('mmoe');
    const before = await paramValues(model);
    let epochs = 0;
    const trainer = new MTLTrainer(model, { nEpoch: 1, device: 'cpu', progress: 'none', onEpochEnd: () => epochs++ });
    const rows = Int32Array.from({ length: 64 }, (_, i) => i);
    const badIds = data.train.take(rows);
    (badIds.column('205') as Int32Array)[10] = data.vocabSizes['205'] + 5;
    await expect(trainer.fit(new DataLoader(badIds, { batchSize: 32 }))).rejects.toThrow(
      new RegExp(`"205".*${data.vocabSizes['205'] + 5}.*${data.vocabSizes['205']}`, 's'),
    );
    const badDense = data.train.take(rows);
    (badDense.column('D702') as Float32Array)[3] = NaN;
    await expect(trainer.fit(new DataLoader(badDense, { batchSize: 32 }))).rejects.toThrow(/D702/);
    expect(epochs).toBe(0);
    expect(await paramValues(model)).toEqual(before);
  });

  it('labels that do not match the task types', async () => {
    const model = build('mmoe');
    const before = await paramValues(model);
    const bad = data.train.take(Int32Array.from({ length: 64 }, (_, i) => i));
    bad.labels[5 * 2 + 1] = 2;
    const trainer = new MTLTrainer(model, { nEpoch: 1, device: 'cpu', progress: 'none' });
    await expect(trainer.fit(new DataLoader(bad, { batchSize: 64 }))).rejects.toThrow(/task 'purchase' is 2 in row 5.*0 or 1/);
    expect(await paramValues(model)).toEqual(before);
  });

  it('an empty loader, lr ≤ 0, an unwritable modelPath (before any epoch)', async () => {
    const model = build('mmoe');
    const empty = new DataLoader(data.train.take(new Int32Array(0)), { batchSize: 32 });
    await expect(new MTLTrainer(model, { progress: 'none', device: 'cpu' }).fit(empty)).rejects.toThrow(/training loader is empty/);
    expect(() => new MTLTrainer(model, { optimizerParams: { lr: 0 } })).toThrow(/lr/);
    expect(() => new MTLTrainer(model, { optimizerParams: { lr: -1 } })).toThrow(/lr/);
    const file = join(await mkdtemp(join(tmpdir(), 'webmtl-')), 'a-file');
    await writeFile(file, 'x');
    let epochs = 0;
    const trainer = new MTLTrainer(model, { modelPath: join(file, 'ckpt'), progress: 'none', device: 'cpu', onEpochEnd: () => epochs++ });
    await expect(trainer.fit(tiny())).rejects.toThrow(/a-file/);
    expect(epochs).toBe(0);
  });

  it('a NaN loss stops with the step, the task and the last finite loss; parameters not updated with it', async () => {
    const model = build('mmoe');
    const rows = Int32Array.from({ length: 96 }, (_, i) => i);
    const ds = data.train.take(rows);
    const dense = ds.column('D508') as Float32Array;
    dense.fill(3e38, 64, 96); // finite, but the third batch of 32 overflows to Inf and then NaN
    const trainer = new MTLTrainer(model, { nEpoch: 1, device: 'cpu', progress: 'none' });
    const err = await trainer
      .fit(new DataLoader(ds, { batchSize: 32 }))
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    const e = err as NonFiniteLossError;
    expect(e.step).toBe(2);
    expect(e.task).toBe('click');
    expect(e.lastFiniteLoss).toBeGreaterThan(0);
    expect(e.message).toMatch(/task 'click'.*step 2.*last finite loss/);
    expect((await paramValues(model)).every(Number.isFinite)).toBe(true);
  });
});
