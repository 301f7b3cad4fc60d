// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "Task Weight
// Optimization" → "MetaBalance".
//   node examples/tutorials/000-metabalance.mjs [--epochs N]
import * as wm from 'webmtl';
import { epochs, test_dataloader, train_dataloader, tutorialPLE, val_dataloader } from './000-data.mjs';

// `model` is the one the tutorial built last, in its PLE section.
const model = tutorialPLE();

// Configure MetaBalance optimizer: in the optimizer's place it balances the shared gradients, and the
// trainer updates the parameters with Adam (optimizerParams, default lr 0.001)
const optimizer = new wm.MetaBalance(model.parameters(), { relaxFactor: 0.7, beta: 0.9 });

const trainer = new wm.MTLTrainer(model, {
  optimizer,
  nEpochs: epochs(10), // the default, spelled out so that --epochs can shorten the run
});

// Not in this section of the tutorial: train, show MetaBalance's scale factors, score on the test loader.
const history = await trainer.fit(train_dataloader, val_dataloader);
console.log('gradient scale factors after the last epoch:', history.epochs.at(-1).taskWeights);
console.log(await wm.evaluateMultiTask(model, test_dataloader));
