// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "Model Evaluation".
//   node examples/tutorials/000-evaluate.mjs [--epochs N]
import * as wm from 'webmtl';
import { epochs, test_dataloader, train_dataloader, tutorialPLE, val_dataloader } from './000-data.mjs';

// `model` is the one the tutorial built last, in its PLE section, trained as that section configures it.
const model = tutorialPLE();
const trainer = new wm.MTLTrainer(model, { optimizerParams: { lr: 0.001 }, nEpochs: epochs(10) });
await trainer.fit(train_dataloader, val_dataloader);

// Evaluate model: per task, AUC and log loss over the whole test set
const results = await wm.evaluateMultiTask(model, test_dataloader);
for (const [task, metrics] of Object.entries(results)) {
  console.log(`Task: ${task}`);
  console.log(`AUC: ${metrics.auc.toFixed(4)}`);
  console.log(`LogLoss: ${metrics.logloss.toFixed(4)}`);
}
