// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "Task Weight
// Optimization" → "GradNorm".
//   node examples/tutorials/000-gradnorm.mjs [--epochs N]
import * as wm from 'webmtl';
import { epochs, test_dataloader, train_dataloader, tutorialPLE, val_dataloader } from './000-data.mjs';

// `model` is the one the tutorial built last, in its PLE section.
const model = tutorialPLE();

// Configure GradNorm (nEpochs is the default, 10, spelled out so that --epochs can shorten the run)
const trainer = new wm.MTLTrainer(model, {
  optimizerParams: { lr: 0.001 },
  taskWeightsStrategy: 'gradnorm',
  gradnormAlpha: 1.5,
  nEpochs: epochs(10),
});

// Not in this section of the tutorial: train, show the weights GradNorm reached, score on the test loader.
const history = await trainer.fit(train_dataloader, val_dataloader);
console.log('task weights after the last epoch:', history.epochs.at(-1).taskWeights);
console.log(await wm.evaluateMultiTask(model, test_dataloader));
