// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "Advanced
// Applications" → 2. "Get Shared and Task-Specific Layers".
//   node examples/tutorials/000-shared-task-layers.mjs
import * as wm from 'webmtl';
import { tutorialPLE } from './000-data.mjs';

// `model` is the one the tutorial built last, in its PLE section.
const model = tutorialPLE();

const [shared_params, task_params] = wm.sharedTaskLayers(model);

// Not in the tutorial: what the two lists hold.
console.log('shared parameters: %d tensors', shared_params.length);
console.log('task-specific parameters: %d tensors', task_params.length);
console.log('all parameters: %d tensors', model.parameters().length);
