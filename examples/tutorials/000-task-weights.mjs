// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "Advanced
// Applications" → 1. "Custom Task Loss Weights".
//   node examples/tutorials/000-task-weights.mjs [--epochs N]
import * as wm from 'webmtl';
import { epochs, test_dataloader, train_dataloader, tutorialPLE, val_dataloader } from './000-data.mjs';

// `model` is the one the tutorial built last, in its PLE section.
const model = tutorialPLE();

const trainer = new wm.MTLTrainer(model, {
  taskWeights: [1.0, 0.5], // fixed loss weights: L = 1.0 · L_click + 0.5 · L_conversion
  nEpochs: epochs(10), // the default, spelled out so that --epochs can shorten the run
});

// Not in this section of the tutorial: train, then score on the test loader.
const history = await trainer.fit(train_dataloader, val_dataloader);
console.log('task weights:', history.epochs.at(-1).taskWeights);
console.log(await wm.evaluateMultiTask(model, test_dataloader));
