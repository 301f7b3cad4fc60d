// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "Advanced
// Applications" → 3. "Task-Specific Learning Rates".
//   node examples/tutorials/000-task-specific-lr.mjs [--epochs N]
import * as wm from 'webmtl';
import { epochs, test_dataloader, train_dataloader, tutorialPLE, val_dataloader } from './000-data.mjs';

// `model` is the one the tutorial built last, in its PLE section.
const model = tutorialPLE();

// Each task's own parameters (its tower, its gate and experts of the last level) get its own rate;
// the shared ones get optimizerParams.lr (default 0.001)
const trainer = new wm.MTLTrainer(model, {
  taskSpecificLr: { click: 0.001, conversion: 0.0005 },
  nEpochs: epochs(10), // the default, spelled out so that --epochs can shorten the run
});

// Not in this section of the tutorial: train, then score on the test loader.
await trainer.fit(train_dataloader, val_dataloader);
console.log('learning rates:', Object.fromEntries(trainer.optimizer.paramGroups.map((g) => [g.name, g.lr])));
console.log(await wm.evaluateMultiTask(model, test_dataloader));
