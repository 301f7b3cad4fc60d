// The tutorials' spellings of model and trainer options: each builds exactly what its internal
// (torch-rechub) name builds, two spellings that disagree are an error naming both, and an unknown
// name gets a near miss from either vocabulary.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DenseFeature, type Feature, SparseFeature } from '../src/features.js';
import { AITM, ESMM, MMoE, type MultiTaskModel, OMoE, PLE, SharedBottom, withEmbeddingDim } from '../src/models/index.js';
import { MetaBalance } from '../src/mtl/metabalance.js';
import {
  AITM_SPELLINGS,
  ESMM_SPELLINGS,
  MOE_SPELLINGS,
  PLE_SPELLINGS,
  SHARED_BOTTOM_SPELLINGS,
  type Spellings,
  TRAINER_SPELLINGS,
} from '../src/spellings.js';
import * as wm from '../src/tensor/index.js';
import { MTLTrainer } from '../src/train/trainer.js';

beforeAll(() => wm.setBackend(new CpuBackend()));

const features = (): Feature[] => [
  new SparseFeature({ name: 'user', vocabSize: 7, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 5, embedDim: 3 }),
  new DenseFeature('price'),
];
const two = ['classification', 'classification'] as const;
type Options = Record<string, unknown>;
type Build = (o: Options) => MultiTaskModel;

function batch(fs: Feature[], rows: number): Record<string, wm.Tensor> {
  const r = new wm.Random(11);
  const x: Record<string, wm.Tensor> = {};
  for (const f of fs) {
    x[f.name] =
      f.kind === 'dense'
        ? wm.fromArray(
            Float32Array.from({ length: rows }, () => r.normal()),
            [rows],
          )
        : wm.fromArray(
            Int32Array.from({ length: rows }, (_, i) => i % (f as SparseFeature).vocabSize),
            [rows],
          );
  }
  return x;
}

/** Shapes by name, the parameter count and eval outputs of a model built right after wm.seed(7). */
function fingerprint(build: Build, opts: Options) {
  wm.seed(7);
  const model = build(opts);
  const shapes = Object.fromEntries(model.namedParameters().map(([n, t]) => [n, t.shape]));
  const out = Array.from(model.predict(batch(model.features, 6)).dataSync());
  return { shapes, count: model.numParameters(), taskTypes: model.taskTypes, out };
}

/**
 * Per model: a base in internal names, and for every tutorial name the options that use it and the
 * same model in internal names. Every name of the model's table must be here.
 */
const CASES: { model: string; build: Build; table: Spellings; base: () => Options; cases: Record<string, [Options, Options][]> }[] = [
  {
    model: 'MMoE',
    build: (o) => new MMoE(o as never),
    table: MOE_SPELLINGS,
    base: () => ({
      features: features(),
      taskTypes: [...two],
      nExpert: 3,
      expertParams: { dims: [6] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }],
    }),
    cases: {
      numTasks: [
        [{ taskTypes: undefined, numTasks: 2 }, {}],
        [
          { taskTypes: undefined, numTasks: 3, towerParamsList: undefined, towerUnits: [4] },
          {
            taskTypes: ['classification', 'classification', 'classification'],
            towerParamsList: [{ dims: [4] }, { dims: [4] }, { dims: [4] }],
          },
        ],
      ],
      embeddingDim: [[{ embeddingDim: 5 }, { features: withEmbeddingDim(features(), 5) }]],
      numExperts: [[{ nExpert: undefined, numExperts: 4 }, { nExpert: 4 }]],
      expertUnits: [[{ expertParams: undefined, expertUnits: [8, 5] }, { expertParams: { dims: [8, 5] } }]],
      expertActivation: [
        [
          { expertParams: undefined, expertUnits: [8], expertActivation: 'sigmoid' },
          { expertParams: { dims: [8], activation: 'sigmoid' } },
        ],
        [{ expertActivation: 'prelu' }, { expertParams: { dims: [6], activation: 'prelu' } }],
      ],
      towerUnits: [[{ towerParamsList: undefined, towerUnits: [5] }, { towerParamsList: [{ dims: [5] }, { dims: [5] }] }]],
      taskHiddenUnits: [
        [{ towerParamsList: undefined, taskHiddenUnits: [5, 3] }, { towerParamsList: [{ dims: [5, 3] }, { dims: [5, 3] }] }],
      ],
    },
  },
  {
    model: 'OMoE',
    build: (o) => new OMoE(o as never),
    table: MOE_SPELLINGS,
    base: () => ({
      features: features(),
      taskTypes: [...two],
      nExpert: 3,
      expertParams: { dims: [6] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }],
    }),
    cases: {
      numTasks: [[{ taskTypes: undefined, numTasks: 2 }, {}]],
      embeddingDim: [[{ embeddingDim: 2 }, { features: withEmbeddingDim(features(), 2) }]],
      numExperts: [[{ nExpert: undefined, numExperts: 2 }, { nExpert: 2 }]],
      expertUnits: [[{ expertParams: undefined, expertUnits: [7] }, { expertParams: { dims: [7] } }]],
      expertActivation: [[{ expertActivation: 'sigmoid' }, { expertParams: { dims: [6], activation: 'sigmoid' } }]],
      towerUnits: [[{ towerParamsList: undefined, towerUnits: [2] }, { towerParamsList: [{ dims: [2] }, { dims: [2] }] }]],
      taskHiddenUnits: [[{ towerParamsList: undefined, taskHiddenUnits: [2] }, { towerParamsList: [{ dims: [2] }, { dims: [2] }] }]],
    },
  },
  {
    model: 'PLE',
    build: (o) => new PLE(o as never),
    table: PLE_SPELLINGS,
    base: () => ({
      features: features(),
      taskTypes: [...two],
      nLevel: 2,
      nExpertSpecific: 1,
      nExpertShared: 2,
      expertParams: { dims: [6] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }],
    }),
    cases: {
      numTasks: [[{ taskTypes: undefined, numTasks: 2 }, {}]],
      embeddingDim: [[{ embeddingDim: 4 }, { features: withEmbeddingDim(features(), 4) }]],
      numLayers: [[{ nLevel: undefined, numLayers: 3 }, { nLevel: 3 }]],
      numExperts: [[{ nExpertSpecific: undefined, numExperts: 2 }, { nExpertSpecific: 2 }]],
      numSharedExperts: [[{ nExpertShared: undefined, numSharedExperts: 1 }, { nExpertShared: 1 }]],
      expertUnits: [[{ expertParams: undefined, expertUnits: [5] }, { expertParams: { dims: [5] } }]],
      expertActivation: [[{ expertActivation: 'sigmoid' }, { expertParams: { dims: [6], activation: 'sigmoid' } }]],
      towerUnits: [[{ towerParamsList: undefined, towerUnits: [3] }, { towerParamsList: [{ dims: [3] }, { dims: [3] }] }]],
      taskHiddenUnits: [[{ towerParamsList: undefined, taskHiddenUnits: [3] }, { towerParamsList: [{ dims: [3] }, { dims: [3] }] }]],
    },
  },
  {
    model: 'SharedBottom',
    build: (o) => new SharedBottom(o as never),
    table: SHARED_BOTTOM_SPELLINGS,
    base: () => ({
      features: features(),
      taskTypes: [...two],
      bottomParams: { dims: [8] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }],
    }),
    cases: {
      numTasks: [[{ taskTypes: undefined, numTasks: 2 }, {}]],
      embeddingDim: [[{ embeddingDim: 6 }, { features: withEmbeddingDim(features(), 6) }]],
      hiddenUnits: [[{ bottomParams: undefined, hiddenUnits: [9, 5] }, { bottomParams: { dims: [9, 5] } }]],
      towerUnits: [[{ towerParamsList: undefined, towerUnits: [3] }, { towerParamsList: [{ dims: [3] }, { dims: [3] }] }]],
      taskHiddenUnits: [[{ towerParamsList: undefined, taskHiddenUnits: [3] }, { towerParamsList: [{ dims: [3] }, { dims: [3] }] }]],
    },
  },
  {
    model: 'AITM',
    build: (o) => new AITM(o as never),
    table: AITM_SPELLINGS,
    base: () => ({ features: features(), nTask: 2, bottomParams: { dims: [8, 4] }, towerParamsList: [{ dims: [4] }, { dims: [4] }] }),
    cases: {
      numTasks: [[{ nTask: undefined, numTasks: 2 }, {}]],
      embeddingDim: [[{ embeddingDim: 2 }, { features: withEmbeddingDim(features(), 2) }]],
      hiddenUnits: [[{ bottomParams: undefined, hiddenUnits: [6] }, { bottomParams: { dims: [6] } }]],
      towerUnits: [[{ towerParamsList: undefined, towerUnits: [3] }, { towerParamsList: [{ dims: [3] }, { dims: [3] }] }]],
      taskHiddenUnits: [[{ towerParamsList: undefined, taskHiddenUnits: [3] }, { towerParamsList: [{ dims: [3] }, { dims: [3] }] }]],
    },
  },
  {
    model: 'ESMM',
    build: (o) => new ESMM(o as never),
    table: ESMM_SPELLINGS,
    base: () => {
      const f = features();
      return { userFeatures: [f[0], f[2]], itemFeatures: [f[1]], cvrParams: { dims: [6, 3] }, ctrParams: { dims: [6, 3] } };
    },
    cases: {
      features: [
        [
          { userFeatures: undefined, itemFeatures: undefined, features: features() },
          { userFeatures: features(), itemFeatures: undefined },
        ],
      ],
      hiddenUnits: [
        [{ cvrParams: undefined, ctrParams: undefined, hiddenUnits: [6, 3] }, {}],
        [{ cvrParams: undefined, ctrParams: undefined, hiddenUnits: [6], towerUnits: [3] }, {}],
      ],
      towerUnits: [
        [
          { cvrParams: undefined, ctrParams: undefined, towerUnits: [5] },
          { cvrParams: { dims: [5] }, ctrParams: { dims: [5] } },
        ],
      ],
      embeddingDim: [
        [
          { embeddingDim: 5 },
          (() => {
            const f = withEmbeddingDim(features(), 5);
            return { userFeatures: [f[0], f[2]], itemFeatures: [f[1]] };
          })(),
        ],
      ],
    },
  },
];

describe("the tutorials' spellings build the same models as torch-rechub's names", () => {
  for (const { model, build, table, base, cases } of CASES) {
    it(`${model}: every spelling in its table is covered`, () => {
      expect(Object.keys(cases).sort()).toEqual(Object.keys(table).sort());
    });
    for (const [name, pairs] of Object.entries(cases)) {
      it(`${model}: ${name} builds the model its internal name builds (shapes, count, outputs for one seed)`, () => {
        for (const [tutorial, internal] of pairs) {
          const a = fingerprint(build, { ...base(), ...tutorial });
          const b = fingerprint(build, { ...base(), ...internal });
          expect(a).toEqual(b);
        }
      });
    }
  }

  it('the tutorial examples of the docs build the documented sizes', () => {
    const mmoe = new MMoE({
      features: features(),
      numTasks: 2,
      numExperts: 8,
      expertUnits: [16],
      expertActivation: 'relu',
      gateActivation: 'softmax',
      towerUnits: [8],
    });
    expect(mmoe.experts.nExpert).toBe(8);
    expect(mmoe.taskTypes).toEqual(['classification', 'classification']);
    const ple = new PLE({
      features: features(),
      expertUnits: [16],
      numExperts: 4,
      numLayers: 3,
      numSharedExperts: 2,
      taskTypes: ['binary', 'binary'],
      towerUnits: [8],
    });
    expect(ple.levels.map((l) => [l.nExpertSpecific, l.nExpertShared])).toEqual([
      [4, 2],
      [4, 2],
      [4, 2],
    ]);
  });
});

describe('two spellings of one option', () => {
  const f = () => features();
  const moe = {
    features: f(),
    taskTypes: [...two],
    nExpert: 3,
    expertParams: { dims: [6] },
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  };
  it('that agree build the model', () => {
    expect(() => new MMoE({ ...moe, numExperts: 3 })).not.toThrow();
    expect(() => new MMoE({ ...moe, expertUnits: [6], expertActivation: 'relu' })).not.toThrow();
    expect(() => new MMoE({ ...moe, numTasks: 2, towerUnits: [4], taskHiddenUnits: [4] })).not.toThrow();
  });
  it('that disagree are an error naming both', () => {
    expect(() => new MMoE({ ...moe, numExperts: 4 })).toThrow(/MMoE: numExperts 4 and nExpert 3 say different things; give one of them/);
    expect(() => new MMoE({ ...moe, expertUnits: [8] })).toThrow(
      /expertUnits \[8\] and expertParams \{"dims":\[6\]\} say different things/,
    );
    expect(() => new MMoE({ ...moe, expertParams: { dims: [6], activation: 'relu' }, expertActivation: 'sigmoid' })).toThrow(
      /expertActivation 'sigmoid' and expertParams .* say different things/,
    );
    expect(() => new MMoE({ ...moe, numTasks: 3 })).toThrow(/numTasks 3 and taskTypes .* say different things/);
    expect(() => new MMoE({ ...moe, towerParamsList: undefined, towerUnits: [4], taskHiddenUnits: [5] })).toThrow(
      /taskHiddenUnits \[5\] and towerUnits \(giving towerParamsList\) .* say different things/,
    );
    expect(
      () =>
        new PLE({
          features: f(),
          taskTypes: [...two],
          nLevel: 1,
          numLayers: 2,
          nExpertSpecific: 1,
          nExpertShared: 1,
          expertUnits: [4],
          towerUnits: [2],
        }),
    ).toThrow(/numLayers 2 and nLevel 1/);
    expect(() => new AITM({ features: f(), nTask: 2, numTasks: 3, hiddenUnits: [4], towerUnits: [2] })).toThrow(/numTasks 3 and nTask 2/);
    expect(() => new SharedBottom({ features: f(), numTasks: 2, bottomParams: { dims: [4] }, hiddenUnits: [5], towerUnits: [2] })).toThrow(
      /hiddenUnits \[5\] and bottomParams/,
    );
    expect(() => new ESMM({ features: f(), userFeatures: f(), towerUnits: [2] })).toThrow(
      /pass either userFeatures and itemFeatures, or features, not both/,
    );
    expect(() => new ESMM({ features: f(), cvrParams: { dims: [3] }, ctrParams: { dims: [3] }, towerUnits: [2] })).toThrow(
      /towerUnits \[2\] and cvrParams/,
    );
  });
  it('gateActivation other than softmax or sigmoid is refused, naming both', () => {
    expect(() => new MMoE({ ...moe, gateActivation: 'tanh' as never })).toThrow(
      /MMoE: gateActivation must be 'softmax' or 'sigmoid', got "tanh"/,
    );
    expect(new MMoE({ ...moe, gateActivation: 'Softmax' as never }).gateActivation).toBe('softmax');
  });
});

describe('unknown names', () => {
  const moe = () => ({
    features: features(),
    taskTypes: [...two],
    nExpert: 3,
    expertParams: { dims: [6] },
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  });
  it('are errors with a near miss from either vocabulary, listing both', () => {
    expect(() => new MMoE({ ...moe(), nExperts: 3 } as never)).toThrow(
      /MMoE: unknown option 'nExperts' \(did you mean 'nExpert'\?\); the options are features, taskTypes, taskNames, nExpert, expertParams, towerParamsList, gateActivation, seed \(the tutorials also write numTasks, embeddingDim, numExperts/,
    );
    expect(() => new MMoE({ ...moe(), numExpert: 3 } as never)).toThrow(/unknown option 'numExpert' \(did you mean 'numExperts'\?\)/);
    expect(() => new PLE({ ...moe(), numSharedExpert: 1 } as never)).toThrow(
      /PLE: unknown options 'nExpert', 'numSharedExpert' \(did you mean 'numSharedExperts'\?\)/,
    );
    expect(() => new ESMM({ features: features(), towerUnit: [2] } as never)).toThrow(
      /ESMM: unknown option 'towerUnit' \(did you mean 'towerUnits'\?\)/,
    );
    // A spelling of another model is unknown here: SharedBottom has no experts.
    expect(
      () => new SharedBottom({ features: features(), numTasks: 2, hiddenUnits: [4], towerUnits: [2], numExperts: 2 } as never),
    ).toThrow(/SharedBottom: unknown option 'numExperts'/);
  });
  it('null is refused under either name', () => {
    expect(() => new MMoE({ ...moe(), numExperts: null } as never)).toThrow(
      /MMoE: numExperts is null; pass a value, or leave it out for the default/,
    );
  });
});

describe('MTLTrainer spellings', () => {
  const model = () => {
    wm.seed(3);
    return new MMoE({
      features: features(),
      taskTypes: [...two],
      nExpert: 2,
      expertParams: { dims: [4] },
      towerParamsList: [{ dims: [2] }, { dims: [2] }],
    });
  };
  /** A strategy's method and settings (the fields the balancing methods keep). */
  const describeStrategy = (t: MTLTrainer) => {
    const s = t.strategy as unknown as Record<string, unknown>;
    return { name: s.name, alpha: s.alpha, weights: s.weights, taskTypes: s.taskTypes };
  };

  it('every tutorial spelling is covered here', () => {
    expect(Object.keys(TRAINER_SPELLINGS).sort()).toEqual([
      'earlyStopPatience',
      'earlystopTaskid',
      'gradnormAlpha',
      'learningRate',
      'nEpochs',
      'optimizer',
      'optimizerParams',
      'taskWeights',
      'taskWeightsStrategy',
    ]);
  });

  it('learningRate is optimizerParams.lr, joined with the other optimizerParams; a disagreement is an error', () => {
    const lrs = (t: MTLTrainer) => t.optimizer.paramGroups.map((g) => g.lr);
    expect(lrs(new MTLTrainer(model(), { learningRate: 0.05 }))).toEqual(lrs(new MTLTrainer(model(), { optimizerParams: { lr: 0.05 } })));
    expect(lrs(new MTLTrainer(model(), { learningRate: 0.05 }))[0]).toBe(0.05);
    const both = new MTLTrainer(model(), { learningRate: 0.05, optimizerParams: { weightDecay: 0.1 } });
    expect([lrs(both)[0], both.optimizer.paramGroups[0].weightDecay]).toEqual([0.05, 0.1]);
    expect(() => new MTLTrainer(model(), { learningRate: 0.05, optimizerParams: { lr: 0.01 } })).toThrow(
      /learningRate 0.05 and optimizerParams \{"lr":0.01\} say different things/,
    );
    expect(() => new MTLTrainer(model(), { learningRate: -1 })).toThrow(/learningRate must be a number > 0/);
  });

  it("optimizerParams in torch's snake_case (weight_decay) are read as camelCase; a misspelt one still errors with a near miss", () => {
    const wd = (t: MTLTrainer) => JSON.stringify(t.optimizer.paramGroups.map((g) => [g.lr, g.weightDecay]));
    const snake = new MTLTrainer(model(), { optimizerParams: { lr: 0.02, weight_decay: 0.3 } });
    const camel = new MTLTrainer(model(), { optimizerParams: { lr: 0.02, weightDecay: 0.3 } });
    expect(wd(snake)).toBe(wd(camel));
    expect(wd(snake)).not.toBe(wd(new MTLTrainer(model(), { optimizerParams: { lr: 0.02 } })));
    expect(() => new MTLTrainer(model(), { optimizerParams: { weight_decy: 0.1 } as never })).toThrow(
      /unknown option 'weightDecy' \(did you mean 'weightDecay'\?\)/,
    );
    expect(() => new MTLTrainer(model(), { optimizerParams: { weight_decay: 0.1, weightDecay: 0.2 } })).toThrow(
      /optimizerParams gives weightDecay twice/,
    );
    // With learningRate too: one optimizerParams.
    expect(wd(new MTLTrainer(model(), { learningRate: 0.02, optimizerParams: { weight_decay: 0.3 } }))).toBe(wd(camel));
  });

  it('earlyStopPatience is earlystopPatience, earlystopTaskid is earlystopTask; an unknown name still errors', () => {
    const opts = (t: MTLTrainer) => (t as unknown as { opts: Record<string, unknown> }).opts;
    expect(opts(new MTLTrainer(model(), { earlyStopPatience: 3 })).earlystopPatience).toBe(3);
    expect(opts(new MTLTrainer(model(), { earlystopTaskid: 1 })).earlystopTask).toBe(1);
    expect(() => new MTLTrainer(model(), { earlyStopPatience: 3, earlystopPatience: 2 })).toThrow(/say different things/);
    expect(() => new MTLTrainer(model(), { earlyStopPatiense: 3 } as never)).toThrow(
      /unknown option 'earlyStopPatiense' \(did you mean 'earlystopPatience'\?\)/,
    );
  });

  it('nEpochs is nEpoch', () => {
    expect(new MTLTrainer(model(), { nEpochs: 4 }).nEpoch).toBe(4);
    expect(new MTLTrainer(model(), { nEpochs: 4, nEpoch: 4 }).nEpoch).toBe(4);
  });

  it('taskWeightsStrategy (+ gradnormAlpha) and taskWeights choose what adaptiveParams chooses', () => {
    const same = (tutorial: object, internal: object) => {
      const a = new MTLTrainer(model(), tutorial);
      const b = new MTLTrainer(model(), internal);
      expect(a.strategy.name).toBe(b.strategy.name);
      expect(describeStrategy(a)).toEqual(describeStrategy(b));
    };
    same({ taskWeightsStrategy: 'GradNorm', gradnormAlpha: 0.5 }, { adaptiveParams: { method: 'gradnorm', alpha: 0.5 } });
    same({ taskWeightsStrategy: 'uwl' }, { adaptiveParams: { method: 'uwl' } });
    same({ taskWeights: [1, 0.25] }, { adaptiveParams: { method: 'fixed', weights: [1, 0.25] } });
    same({ taskWeights: [2, 1], adaptiveParams: { method: 'fixed' } }, { adaptiveParams: { method: 'fixed', weights: [2, 1] } });
    same({}, { adaptiveParams: { method: 'fixed', weights: [0.5, 0.5] } });
    expect(
      (new MTLTrainer(model(), { taskWeightsStrategy: 'gradnorm', gradnormAlpha: 0.5 }).strategy as unknown as { alpha: number }).alpha,
    ).toBe(0.5);
  });

  it('a MetaBalance in the optimizer place is the strategy, and Adam updates', () => {
    const m = model();
    const mb = new MetaBalance(m.parameters(), { relaxFactor: 0.5 });
    const t = new MTLTrainer(m, { optimizer: mb });
    expect(t.strategy).toBe(mb.strategy);
    expect(t.optimizer.constructor.name).toBe('Adam');
  });

  it('two ways of choosing the balancing that disagree are an error naming both', () => {
    const m = model();
    expect(() => new MTLTrainer(m, { taskWeights: [1, 1], adaptiveParams: { method: 'uwl' } })).toThrow(
      /MTLTrainer: taskWeights \[1,1\] and adaptiveParams \{"method":"uwl"\} say different things/,
    );
    expect(() => new MTLTrainer(m, { taskWeights: [1, 1], taskWeightsStrategy: 'uwl' })).toThrow(
      /taskWeights \[1,1\] and taskWeightsStrategy \(giving adaptiveParams\)/,
    );
    expect(() => new MTLTrainer(m, { taskWeightsStrategy: 'gradnorm', adaptiveParams: { method: 'pcgrad' } })).toThrow(
      /taskWeightsStrategy 'gradnorm' and adaptiveParams/,
    );
    expect(
      () => new MTLTrainer(m, { taskWeightsStrategy: 'gradnorm', gradnormAlpha: 2, adaptiveParams: { method: 'gradnorm', alpha: 1 } }),
    ).toThrow(/gradnormAlpha 2 and adaptiveParams/);
    expect(() => new MTLTrainer(m, { optimizer: new MetaBalance(), adaptiveParams: { method: 'uwl' } })).toThrow(
      /optimizer .* and adaptiveParams .* say different things/,
    );
    expect(() => new MTLTrainer(m, { nEpochs: 2, nEpoch: 3 })).toThrow(/nEpochs 2 and nEpoch 3 say different things/);
    // Agreeing ones are fine.
    expect(() => new MTLTrainer(m, { taskWeightsStrategy: 'gradnorm', adaptiveParams: { method: 'gradnorm', alpha: 1 } })).not.toThrow();
  });

  it('gradnormAlpha without GradNorm is refused, not ignored', () => {
    expect(() => new MTLTrainer(model(), { gradnormAlpha: 1 })).toThrow(
      /gradnormAlpha is GradNorm's alpha; pass it with taskWeightsStrategy: 'gradnorm'/,
    );
    expect(() => new MTLTrainer(model(), { taskWeightsStrategy: 'uwl', gradnormAlpha: 1 })).toThrow(/gradnormAlpha is GradNorm's alpha/);
  });
});
