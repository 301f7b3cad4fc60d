// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "ESMM (Entire Space
// Multi-Task Model)".
//   node examples/tutorials/000-esmm.mjs [--epochs N]
import * as wm from 'webmtl';
import { epochs, features, test_dataloader, train_dataloader, val_dataloader } from './000-data.mjs';

// Model configuration: one feature list; both towers get [...hiddenUnits, ...towerUnits]
const model = new wm.ESMM({
  features,
  hiddenUnits: [256, 128, 64],
  towerUnits: [32, 16],
  embeddingDim: 16,
});

// Training configuration (ESMM's labels are [click, conversion]; it trains pCTR on click and pCTCVR on click·conversion)
const trainer = new wm.MTLTrainer(model, {
  optimizerParams: { lr: 0.001 },
  nEpochs: epochs(10),
});

// Not in this section of the tutorial: train, then score on the test loader (ctr, ctcvr, and cvr on clicked rows).
await trainer.fit(train_dataloader, val_dataloader);
console.log(await wm.evaluateMultiTask(model, test_dataloader));
