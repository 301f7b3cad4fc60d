// Building a BalanceContext: the per-task losses of one forward pass, the parameters they share, and
// per-task gradients on those parameters computed on demand (one grad() per task over the kept graph).
import type { MultiTaskModel } from '../models/base.js';
import { grad, type Tensor } from '../tensor/tensor.js';
import type { BalanceContext } from './strategy.js';

export interface BalanceContextInit {
  losses: Tensor[];
  lossValues: number[];
  shared: Tensor[];
  /** Defaults to each tensor's name, or 'shared.<j>'. */
  sharedNames?: string[];
  perTask?: Tensor[][];
  step?: number;
  epoch?: number;
  /** Used in error messages ("the ESMM model has no shared parameters ..."). */
  modelName?: string;
}

/** A BalanceContext that also names its model for error messages. */
export interface MTLBalanceContext extends BalanceContext {
  modelName?: string;
}

export function makeBalanceContext(init: BalanceContextInit): MTLBalanceContext {
  const { losses, lossValues, shared } = init;
  if (losses.length === 0) throw new Error('makeBalanceContext: losses is empty; pass one scalar loss per task');
  if (lossValues.length !== losses.length) {
    throw new Error(`makeBalanceContext: ${lossValues.length} loss values for ${losses.length} losses`);
  }
  for (const [i, l] of losses.entries()) {
    if (l.size !== 1) throw new Error(`makeBalanceContext: loss ${i} is ${l.describe()}, not a scalar; reduce it (mean) first`);
  }
  const sharedNames = init.sharedNames ?? shared.map((p, j) => p.name ?? `shared.${j}`);
  if (sharedNames.length !== shared.length) {
    throw new Error(`makeBalanceContext: ${sharedNames.length} shared names for ${shared.length} shared parameters`);
  }
  let cached: Tensor[][] | null = null;
  return {
    losses,
    lossValues,
    shared,
    sharedNames,
    perTask: init.perTask ?? [],
    step: init.step ?? 0,
    epoch: init.epoch ?? 0,
    modelName: init.modelName,
    taskGradients(): Tensor[][] {
      // A loss that does not reach a shared parameter gets zeros there (grad() fills them in).
      cached ??= shared.length === 0 ? losses.map(() => []) : losses.map((l) => grad(l, shared));
      return cached;
    },
  };
}

/** The context for a model's trained losses (losses[i] is model.trainedTasks()[i]'s loss). */
export function modelBalanceContext(
  model: MultiTaskModel,
  losses: Tensor[],
  lossValues: number[],
  at: { step?: number; epoch?: number } = {},
): MTLBalanceContext {
  const groups = model.trainedParameterGroups();
  return makeBalanceContext({
    losses,
    lossValues,
    shared: groups.shared.map(([, t]) => t),
    sharedNames: groups.shared.map(([n]) => n),
    perTask: groups.perTask.map((g) => g.map(([, t]) => t)),
    modelName: model.constructor.name,
    ...at,
  });
}
