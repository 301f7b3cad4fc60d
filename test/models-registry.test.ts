// The model registry: one entry per model, found by name or alias in any case, building the model its
// name says, with the CLI's preset sizes; the torch-rechub class of an entry is its model's.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { SparseFeature } from '../src/features.js';
import { AITM, ESMM, MMoE, OMoE, PLE, SharedBottom } from '../src/models/index.js';
import { createModel, MODEL_ENTRIES, MODEL_NAMES, modelEntry, type Schema } from '../src/models/registry.js';
import * as wm from '../src/tensor/index.js';

beforeAll(() => wm.setBackend(new CpuBackend()));

const schema: Schema = {
  vocabSizes: { u: 10, i: 8, c: 4 },
  sparseColumns: ['u', 'i', 'c'],
  denseColumns: ['d'],
  itemColumns: ['i', 'c'],
  labelColumns: ['click', 'purchase'],
};
const CLASSES = { mmoe: MMoE, omoe: OMoE, ple: PLE, sharedbottom: SharedBottom, esmm: ESMM, aitm: AITM };

describe('model registry', () => {
  it('has one entry per model, under the names the CLI has always taken', () => {
    expect(MODEL_NAMES).toEqual(['mmoe', 'omoe', 'ple', 'sharedbottom', 'esmm', 'aitm']);
    expect(MODEL_ENTRIES.map((e) => e.name)).toEqual(MODEL_NAMES);
    for (const e of MODEL_ENTRIES) expect(e.summary.length).toBeGreaterThan(10);
  });

  it("finds an entry by name, alias or torch-rechub's class name, in any case, ignoring - and _", () => {
    expect(modelEntry('MMOE').name).toBe('mmoe');
    expect(modelEntry('MMoE').name).toBe('mmoe');
    expect(modelEntry('Shared_Bottom').name).toBe('sharedbottom');
    expect(modelEntry('shared-bottom').name).toBe('sharedbottom');
    expect(modelEntry('SharedBottom').torchRechubClass).toBe('SharedBottom');
  });

  it('an unknown name is an error with a near miss and the choices', () => {
    expect(() => modelEntry('mmeo')).toThrow(
      /Unknown model 'mmeo' \(did you mean 'mmoe'\?\); choose one of mmoe, omoe, ple, sharedbottom, esmm, aitm/,
    );
    expect(() => createModel('nope', schema)).toThrow(/Unknown model 'nope'; choose one of/);
  });

  it("each entry's preset builds its model class, with the label names as task names; its class is the model's torch-rechub class", () => {
    for (const name of MODEL_NAMES) {
      const model = createModel(name, schema);
      expect(model).toBeInstanceOf(CLASSES[name]);
      expect(model.torchRechubClass).toBe(modelEntry(name).torchRechubClass);
      if (name !== 'esmm') expect(model.taskNames).toEqual(['click', 'purchase']);
      expect(
        model.predict({
          u: wm.fromArray(Int32Array.of(1, 2), [2]),
          i: wm.fromArray(Int32Array.of(1, 2), [2]),
          c: wm.fromArray(Int32Array.of(1, 2), [2]),
          d: wm.fromArray(Float32Array.of(0.5, -1), [2]),
        }).shape[0],
      ).toBe(2);
    }
  });

  it("the presets keep the tutorial's sizes (MMoE 8 experts [16], ESMM 16-wide embeddings, PLE 2 + 1 experts)", () => {
    const mmoe = createModel('mmoe', schema) as MMoE;
    expect(mmoe.experts.nExpert).toBe(8);
    expect((createModel('mmoe', schema, { nExpert: 3 }) as MMoE).experts.nExpert).toBe(3);
    expect((createModel('esmm', schema) as ESMM).embedding.outputDim).toBe(3 * 16 + 1);
    expect((createModel('esmm', schema, { embedDim: 2 }) as ESMM).itemFeatures.map((f) => f.name)).toEqual(['i', 'c']);
    const ple = createModel('ple', schema) as PLE;
    expect([ple.levels.length, ple.levels[0].nExpertSpecific, ple.levels[0].nExpertShared]).toEqual([1, 2, 1]);
    expect(() => createModel('esmm', { ...schema, itemColumns: undefined })).toThrow(/no itemColumns/);
  });

  it("an entry's build takes either vocabulary", () => {
    const features = [new SparseFeature({ name: 'u', vocabSize: 5, embedDim: 2 })];
    const a = modelEntry('MMOE').build({ features, numTasks: 2, numExperts: 2, expertUnits: [3], towerUnits: [2] });
    const b = modelEntry('mmoe').build({
      features,
      taskTypes: ['classification', 'classification'],
      nExpert: 2,
      expertParams: { dims: [3] },
      towerParamsList: [{ dims: [2] }, { dims: [2] }],
    });
    expect(a.numParameters()).toBe(b.numParameters());
    expect(() => modelEntry('ple').build({ features, nExpert: 2 })).toThrow(/PLE: unknown option 'nExpert'/);
  });
});
