// Property-based tests of option objects: model constructors, MTLTrainer and createStrategy get random
// extra keys, wrong types and negative counts. Each must construct or throw an Error with a message.
// Every gap this suite found (unknown or wrongly-typed options accepted silently, null read as the
// default) is fixed; the properties that found them say what happened before.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import * as wm from '../src/index.js';
import { describeUnknown } from '../src/options.js';
import { attempt, expectErrorWithMessage } from './helpers/attempt.js';

const SEED = Number(process.env.PSEED ?? 20261202);
const TIMEOUT = 30_000;

beforeAll(() => wm.setBackend(new CpuBackend()));

const feats = () => [new wm.SparseFeature({ name: 's', vocabSize: 5, embedDim: 2 }), new wm.DenseFeature({ name: 'd' })];
const two = ['classification', 'classification'];
type Ctor = new (o: never) => unknown;
const MODELS: Record<string, { ctor: Ctor; base: () => Record<string, unknown> }> = {
  MMoE: {
    ctor: wm.MMoE as unknown as Ctor,
    base: () => ({
      features: feats(),
      taskTypes: two,
      nExpert: 2,
      expertParams: { dims: [4] },
      towerParamsList: [{ dims: [3] }, { dims: [3] }],
    }),
  },
  PLE: {
    ctor: wm.PLE as unknown as Ctor,
    base: () => ({
      features: feats(),
      taskTypes: two,
      nLevel: 1,
      nExpertSpecific: 1,
      nExpertShared: 1,
      expertParams: { dims: [4] },
      towerParamsList: [{ dims: [3] }, { dims: [3] }],
    }),
  },
  SharedBottom: {
    ctor: wm.SharedBottom as unknown as Ctor,
    base: () => ({ features: feats(), taskTypes: two, bottomParams: { dims: [4] }, towerParamsList: [{ dims: [3] }, { dims: [3] }] }),
  },
  ESMM: {
    ctor: wm.ESMM as unknown as Ctor,
    base: () => ({
      userFeatures: [new wm.SparseFeature({ name: 'u', vocabSize: 5, embedDim: 2 })],
      itemFeatures: [new wm.SparseFeature({ name: 'i', vocabSize: 5, embedDim: 2 })],
      cvrParams: { dims: [4] },
      ctrParams: { dims: [4] },
    }),
  },
  AITM: {
    ctor: wm.AITM as unknown as Ctor,
    base: () => ({
      features: feats(),
      nTask: 2,
      bottomParams: { dims: [4] },
      towerParamsList: [{ dims: [3] }, { dims: [3] }],
      calibratorWeight: 0.6,
    }),
  },
};
const modelName = fc.constantFrom(...Object.keys(MODELS));
const badValue = fc.constantFrom<unknown>(
  -1,
  0,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '2',
  'x',
  null,
  true,
  [],
  [-1],
  [1.5],
  ['a'],
  {},
  { dims: [-1] },
  { dims: 'x' },
  { dims: [4], foo: 1 },
);
// Keys no model, trainer or strategy knows (typos of real ones included).
const unknownKey = fc.oneof(
  fc.constantFrom('foo', 'nExperts', 'numExpert', 'towerParams', 'expertParam', 'lr', 'dropout', 'taskType'),
  fc.stringMatching(/^zz[a-z]{1,6}$/),
);

describe('model option properties', () => {
  it(
    'random option mutations: construct, or an Error with a message (never a non-Error throw)',
    () => {
      fc.assert(
        fc.property(
          modelName,
          fc.array(
            fc.tuple(
              fc.oneof(
                fc.constantFrom(
                  'features',
                  'taskTypes',
                  'nExpert',
                  'expertParams',
                  'towerParamsList',
                  'nLevel',
                  'nExpertSpecific',
                  'nExpertShared',
                  'bottomParams',
                  'cvrParams',
                  'ctrParams',
                  'nTask',
                  'calibratorWeight',
                  'userFeatures',
                  'itemFeatures',
                ),
                unknownKey,
              ),
              badValue,
            ),
            { maxLength: 3 },
          ),
          (name, edits) => {
            const { ctor, base } = MODELS[name];
            const opts = base();
            for (const [k, v] of edits) opts[k] = v;
            const { error } = attempt(() => new ctor(opts as never));
            if (error !== undefined) expectErrorWithMessage(error);
          },
        ),
        { seed: SEED, numRuns: 150 },
      );
    },
    TIMEOUT,
  );

  it(
    'an unknown top-level option is refused (MMoE, PLE, SharedBottom, ESMM and AITM accepted e.g. { foo: 1 } silently before)',
    () => {
      fc.assert(
        fc.property(modelName, unknownKey, fc.anything(), (name, key, value) => {
          const { ctor, base } = MODELS[name];
          const { error } = attempt(() => new ctor({ ...base(), [key]: value } as never));
          expectErrorWithMessage(error);
        }),
        { seed: SEED, numRuns: 30 },
      );
    },
    TIMEOUT,
  );

  it(
    'an unknown key inside expertParams/bottomParams/cvrParams/ctrParams/towerParamsList[i] is refused',
    () => {
      fc.assert(
        fc.property(modelName, unknownKey, (name, key) => {
          const { ctor, base } = MODELS[name];
          const opts = base();
          for (const k of ['expertParams', 'bottomParams', 'cvrParams', 'ctrParams'])
            if (k in opts) opts[k] = { ...(opts[k] as object), [key]: 1 };
          const { error } = attempt(() => new ctor(opts as never));
          expectErrorWithMessage(error);
        }),
        { seed: SEED, numRuns: 20 },
      );
    },
    TIMEOUT,
  );

  it(
    'a wrongly-typed option gives a validated message, not a TypeError from inside (before: features: 1 → "features is not iterable")',
    () => {
      fc.assert(
        fc.property(modelName, badValue, (name, value) => {
          const { ctor, base } = MODELS[name];
          const opts = base();
          const key = Object.keys(opts)[0]; // features / userFeatures
          opts[key] = value;
          const { error } = attempt(() => new ctor(opts as never));
          if (error !== undefined) expect(error).not.toBeInstanceOf(TypeError);
        }),
        { seed: SEED, numRuns: 40 },
      );
    },
    TIMEOUT,
  );

  it(
    'null for an option is refused, not read as "use the default" (before: taskTypes/nLevel/nTask/userFeatures/itemFeatures/calibratorWeight: null constructed)',
    () => {
      fc.assert(
        fc.property(modelName, (name) => {
          const { ctor, base } = MODELS[name];
          for (const key of Object.keys(base())) {
            const { error } = attempt(() => new ctor({ ...base(), [key]: null } as never));
            expectErrorWithMessage(error);
          }
        }),
        { seed: SEED, numRuns: 10 },
      );
    },
    TIMEOUT,
  );
});

describe('MTLTrainer option properties', () => {
  const model = () => new wm.MMoE(MODELS.MMoE.base() as never);

  it(
    'an unknown option (top level or in optimizerParams) is an Error naming it',
    () => {
      const m = model();
      fc.assert(
        fc.property(
          unknownKey.filter((k) => k !== 'lr'),
          fc.boolean(),
          (key, nested) => {
            const opts = nested ? { optimizerParams: { lr: 1e-3, [key]: 1 } } : { [key]: 1 };
            const { error } = attempt(() => new wm.MTLTrainer(m, opts as never));
            expectErrorWithMessage(error);
            expect((error as Error).message).toContain(key);
          },
        ),
        { seed: SEED, numRuns: 40 },
      );
    },
    TIMEOUT,
  );

  const trainerKeys = [
    'taskNames',
    'taskTypes',
    'optimizer',
    'optimizerParams',
    'scheduler',
    'taskWeights',
    'taskSpecificLr',
    'adaptiveParams',
    'taskWeightsStrategy',
    'gradnormAlpha',
    'nEpoch',
    'earlystopPatience',
    'earlystopTask',
    'device',
    'modelPath',
    'seed',
    'progress',
    'inspectEvery',
    'clipGradNorm',
    'nonFinite',
    'checkGradients',
  ];
  it(
    'random wrongly-typed options: construct, or an Error with a message',
    () => {
      const m = model();
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.constantFrom(...trainerKeys), badValue), { maxLength: 3 }), (edits) => {
          const { error } = attempt(() => new wm.MTLTrainer(m, Object.fromEntries(edits) as never));
          if (error !== undefined) expectErrorWithMessage(error);
        }),
        { seed: SEED, numRuns: 150 },
      );
    },
    TIMEOUT,
  );

  // Each of these constructed without complaint before (found by this suite); now a typed error.
  const silentlyAccepted: [string, unknown][] = [
    ['earlystopPatience', -1],
    ['earlystopPatience', 'x'],
    ['earlystopPatience', 1.5],
    // (a task name is checked by fit(), which knows the names: the loader's labels or taskNames)
    ['earlystopTask', 5],
    ['earlystopTask', -1],
    ['seed', 'x'],
    ['seed', 1.5],
    ['seed', -1],
    ['taskWeights', [1]],
    ['optimizer', 5],
    ['progress', 'nope'],
    ['progress', 5],
    ['gradnormAlpha', -1],
    ['gradnormAlpha', 'x'],
    ['modelPath', 5],
    ['device', 'nope'],
    ['taskNames', ['a']],
    ['taskNames', 'x'],
    ['taskNames', [1, 2]],
    ['checkGradients', 'x'],
  ];
  it(
    `wrongly-typed trainer options are refused (${silentlyAccepted.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')})`,
    () => {
      const m = model();
      fc.assert(
        fc.property(fc.constantFrom(...silentlyAccepted), ([key, value]) => {
          const { error } = attempt(() => new wm.MTLTrainer(m, { [key]: value } as never));
          expectErrorWithMessage(error);
        }),
        { seed: SEED, numRuns: 30 },
      );
    },
    TIMEOUT,
  );
});

describe('createStrategy properties', () => {
  const methods = ['fixed', 'uwl', 'gradnorm', 'metabalance', 'pcgrad', 'dwa', 'cagrad'];
  const optionNames = [
    'weights',
    'taskTypes',
    'nTask',
    'backend',
    'alpha',
    'layer',
    'lr',
    'minWeight',
    'relaxFactor',
    'beta',
    'targetTask',
    'seed',
    'temperature',
    'c',
    'rescale',
    'iterations',
  ];
  it(
    'random specs: a strategy, or an Error with a message; unknown options and methods are refused',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.constantFrom(...methods, 'FIXED', 'nope', ''), fc.constantFrom<unknown>(5, null)),
          fc.dictionary(fc.oneof(fc.constantFrom(...optionNames), unknownKey), badValue, { maxKeys: 3 }),
          (method, options) => {
            const spec = { method, ...options };
            const { value, error } = attempt(() => wm.createStrategy(spec as never));
            if (error !== undefined) {
              expectErrorWithMessage(error);
              return;
            }
            expect(value).toBeTruthy();
            const m = String(method).toLowerCase();
            expect(methods).toContain(m);
            // no option outside the known list got through
            for (const k of Object.keys(options)) expect(optionNames).toContain(k);
          },
        ),
        { seed: SEED, numRuns: 200 },
      );
    },
    TIMEOUT,
  );

  it(
    'method names that are Object.prototype properties are refused (createStrategy({ method: "constructor" }) / "__proto__")',
    () => {
      fc.assert(
        fc.property(fc.constantFrom('constructor', '__proto__', 'toString', 'hasOwnProperty'), (method) => {
          const { error } = attempt(() => wm.createStrategy({ method } as never));
          expectErrorWithMessage(error);
          expect(error).not.toBeInstanceOf(TypeError);
        }),
        { seed: SEED, numRuns: 8 },
      );
    },
    TIMEOUT,
  );

  it(
    'wrongly-typed strategy options are refused (cagrad rescale: "x")',
    () => {
      const { error } = attempt(() => wm.createStrategy({ method: 'cagrad', rescale: 'x' } as never));
      expectErrorWithMessage(error);
    },
    TIMEOUT,
  );
});

describe('near-miss suggestions', () => {
  it('find the known name within two edits, case, - and _ set aside, and the closest one first', () => {
    const flags = ['--batch-size', '--balance', '--lr', '--epochs'];
    expect(describeUnknown(['--bach-size'], flags)).toBe("'--bach-size' (did you mean '--batch-size'?)"); // a deletion
    expect(describeUnknown(['--batchsize'], flags)).toBe("'--batchsize' (did you mean '--batch-size'?)");
    expect(describeUnknown(['--Batch_Size'], flags)).toBe("'--Batch_Size' (did you mean '--batch-size'?)");
    expect(describeUnknown(['--epoch'], flags)).toBe("'--epoch' (did you mean '--epochs'?)");
    expect(describeUnknown(['--learning-rate'], flags)).toBe("'--learning-rate'"); // nothing close: no guess
    expect(describeUnknown(['nEpocs'], ['nEpoch', 'nEpochs'])).toBe("'nEpocs' (did you mean 'nEpoch'?)"); // the first of equals
  });
});
