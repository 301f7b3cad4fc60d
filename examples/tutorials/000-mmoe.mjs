// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "MMoE (Multi-gate
// Mixture-of-Experts)".
//   node examples/tutorials/000-mmoe.mjs [--epochs N]
import * as wm from 'webmtl';
import { epochs, features, test_dataloader, train_dataloader, val_dataloader } from './000-data.mjs';

// Model configuration
const model = new wm.MMoE({
  features,
  expertUnits: [256, 128],
  numExperts: 8,
  numTasks: 2,
  expertActivation: 'relu',
  gateActivation: 'softmax',
});

// Training configuration
const trainer = new wm.MTLTrainer(model, {
  optimizerParams: { lr: 0.001 },
  nEpochs: epochs(10),
});

// Not in this section of the tutorial: train, then score on the test loader.
await trainer.fit(train_dataloader, val_dataloader);
console.log(await wm.evaluateMultiTask(model, test_dataloader));
