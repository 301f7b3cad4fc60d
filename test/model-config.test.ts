// model.config() and modelFromConfig: a model's registry name and constructor options as JSON, and the
// same architecture rebuilt from them (what a model bundle stores).
import { describe, expect, it } from 'vitest';
import { featureFromJSON, featureToJSON, SequenceFeature } from '../src/features.js';
import { modelFromConfig } from '../src/models/registry.js';
import { SharedBottom } from '../src/models/shared-bottom.js';
import { MODEL_ZOO, zooFeatures } from './helpers/model-zoo.js';

const shapes = (m: { stateDict(): Record<string, { shape: readonly number[] }> }) =>
  Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]));

describe('model.config() / modelFromConfig', () => {
  for (const [name, make] of Object.entries(MODEL_ZOO)) {
    it(`${name}: the config is JSON and rebuilds the same architecture, task names and types`, () => {
      const model = make();
      const config = model.config();
      expect(config.model).toBe(name);
      expect(JSON.parse(JSON.stringify(config))).toEqual(config);
      const rebuilt = modelFromConfig(config);
      expect(rebuilt.constructor).toBe(model.constructor);
      expect(shapes(rebuilt)).toEqual(shapes(model));
      expect(rebuilt.taskNames).toEqual(model.taskNames);
      expect(rebuilt.taskTypes).toEqual(model.taskTypes);
      expect(rebuilt.features.map(featureToJSON)).toEqual(model.features.map(featureToJSON));
      expect(rebuilt.config()).toEqual(config);
    });
  }

  it('keeps what is not visible in the shapes: gate activation, dropout, calibrator weight, pooling', () => {
    expect(modelFromConfig(MODEL_ZOO.mmoe().config())).toMatchObject({ gateActivation: 'sigmoid' });
    expect(MODEL_ZOO.mmoe().config().options.expertParams).toEqual({ dims: [5], dropout: 0.1 });
    expect(MODEL_ZOO.aitm().config().options.calibratorWeight).toBe(0.3);
    expect((MODEL_ZOO.mmoe().config().options.features as { pooling?: string }[])[2].pooling).toBe('sum');
  });

  it('a config is a copy: changing it or the caller’s options later changes nothing', () => {
    const dims = [6];
    const model = new SharedBottom({ features: zooFeatures(), taskTypes: ['classification'], bottomParams: { dims } });
    dims.push(99);
    const c = model.config();
    (c.options.bottomParams as { dims: number[] }).dims.push(5);
    expect(model.config().options.bottomParams).toEqual({ dims: [6] });
  });

  it('refuses bad configs with the place and the reason', () => {
    const good = MODEL_ZOO.mmoe().config();
    expect(() => modelFromConfig({ model: 'mmoe2', options: good.options })).toThrow(/Unknown model.*mmoe/);
    expect(() => modelFromConfig({ model: 'mmoe', options: { ...good.options, nExperts: 3 } })).toThrow(/nExperts/);
    expect(() => modelFromConfig({ model: 'mmoe', options: { ...good.options, features: 'user' } }, 'bundle')).toThrow(
      /bundle: options.features must be a list/,
    );
    const badFeature = { ...good.options, features: [{ kind: 'sparse', name: 'user', vocabSize: 0, embedDim: 3 }] };
    expect(() => modelFromConfig({ model: 'mmoe', options: badFeature })).toThrow(
      /options.features\[0\].*vocabSize must be a whole number ≥ 1/,
    );
    expect(() => modelFromConfig(null as never)).toThrow(/expected \{ model/);
  });

  it('featureFromJSON checks kinds, keys and types', () => {
    expect(() => featureFromJSON({ kind: 'dense', name: 'x', vocabSize: 3 }, 'f')).toThrow(/f: a dense feature has no key vocabSize/);
    expect(() => featureFromJSON({ kind: 'wide', name: 'x' }, 'f')).toThrow(/kind: 'sparse' \| 'dense' \| 'sequence'/);
    expect(() => featureFromJSON({ kind: 'sequence', name: 's', vocabSize: 3, embedDim: 2, pooling: 'max' }, 'f')).toThrow(/pooling/);
    expect(() => featureFromJSON({ kind: 'sparse', name: 7, vocabSize: 3, embedDim: 2 }, 'f')).toThrow(/name must be a non-empty string/);
    const seq = featureFromJSON({ kind: 'sequence', name: 's', vocabSize: 3, embedDim: 2, pooling: 'concat', maxLen: 4 }, 'f');
    expect(seq).toBeInstanceOf(SequenceFeature);
    expect(featureToJSON(seq)).toEqual({ kind: 'sequence', name: 's', vocabSize: 3, embedDim: 2, pooling: 'concat', maxLen: 4 });
  });
});
