// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "SharedBottom Model".
//   node examples/tutorials/000-shared-bottom.mjs [--epochs N]
import * as wm from 'webmtl';
import { epochs, features, test_dataloader, train_dataloader, val_dataloader } from './000-data.mjs';

// Model configuration
const model = new wm.SharedBottom({
  features,
  hiddenUnits: [256, 128],
  taskHiddenUnits: [64, 32],
  numTasks: 2,
  taskTypes: ['binary', 'binary'],
});

// Training configuration
const trainer = new wm.MTLTrainer(model, {
  optimizerParams: { lr: 0.001 },
  nEpochs: epochs(10),
});

// Train model
await trainer.fit(train_dataloader, val_dataloader);

// Not in this section of the tutorial: score the trained model on the test loader.
console.log(await wm.evaluateMultiTask(model, test_dataloader));
