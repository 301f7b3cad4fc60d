// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "PLE (Progressive
// Layered Extraction)".
//   node examples/tutorials/000-ple.mjs [--epochs N]
import * as wm from 'webmtl';
import { epochs, features, test_dataloader, train_dataloader, val_dataloader } from './000-data.mjs';

// Model configuration: 3 levels, each with 4 experts per task and 2 shared experts
const model = new wm.PLE({
  features,
  expertUnits: [256, 128],
  numExperts: 4,
  numLayers: 3,
  numSharedExperts: 2,
  taskTypes: ['binary', 'binary'],
});

// Training configuration
const trainer = new wm.MTLTrainer(model, {
  optimizerParams: { lr: 0.001 },
  nEpochs: epochs(10),
});

// Not in this section of the tutorial: train, then score on the test loader.
await trainer.fit(train_dataloader, val_dataloader);
console.log(await wm.evaluateMultiTask(model, test_dataloader));
