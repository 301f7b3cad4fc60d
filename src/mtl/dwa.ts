// Dynamic Weight Average (Liu, Johns & Davison, CVPR 2019). The weights follow how fast each task's
// loss fell over the last epochs:
//
//   r_i(t−1) = L_i(t−1) / L_i(t−2),   w_i(t) = T · exp(r_i(t−1)/τ) / Σ_j exp(r_j(t−1)/τ)
//
// with L_i the mean training loss of an epoch (reported through onEpochEnd) and w = 1 for the first two
// epochs. A task whose loss stalls (r near 1) gets more weight than one whose loss is dropping.
import { backward } from '../tensor/tensor.js';
import { type BalanceContext, type BalanceStrategy, balanceMethod, numberList, type StepReport, type StrategyState } from './strategy.js';
import { checkFinite, checkTaskCount, weightedSum } from './util.js';

export interface DWAOptions {
  /** τ > 0; larger values flatten the weights. Default 2 (the paper's). */
  temperature?: number;
}

/** DWA's weights from a history of per-epoch mean losses (history[e][task]). */
export function dwaWeights(history: number[][], nTask: number, temperature: number): number[] {
  if (history.length < 2) return Array<number>(nTask).fill(1);
  const last = history[history.length - 1];
  const before = history[history.length - 2];
  const scores = last.map((l, i) => l / before[i] / temperature);
  const top = Math.max(...scores);
  const e = scores.map((s) => Math.exp(s - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => (nTask * v) / total);
}

export class DWA implements BalanceStrategy {
  readonly name = 'dwa';
  readonly temperature: number;
  /** Mean training loss per epoch and task, as reported by onEpochEnd. */
  readonly history: number[][] = [];
  private nTask: number | undefined;

  constructor(opts: DWAOptions = {}) {
    this.temperature = checkFinite('DWA', 'temperature', opts.temperature ?? 2, (t) => t > 0, 'must be a number > 0 (the paper uses 2)');
  }

  setup(info: { nTask: number }): void {
    this.nTask = info.nTask;
  }

  /** The weights the next steps use. */
  get weights(): number[] {
    return dwaWeights(this.history, this.nTask ?? this.history[0]?.length ?? 0, this.temperature);
  }

  backward(ctx: BalanceContext): StepReport {
    const T = ctx.losses.length;
    checkTaskCount('DWA', this.nTask, T);
    const w = dwaWeights(this.history, T, this.temperature);
    backward(weightedSum(ctx.losses, w));
    return { weights: w };
  }

  /** The loss history (for checkpoints). */
  async stateDict(): Promise<StrategyState> {
    return { history: this.history.map((row) => [...row]) };
  }

  validateStateDict(state: StrategyState): void {
    const h = state.history;
    if (!Array.isArray(h)) throw new Error(`DWA state: history must be a list of per-epoch loss lists, got ${JSON.stringify(h)}`);
    const T = this.nTask ?? (Array.isArray(h[0]) ? h[0].length : 0);
    h.forEach((row, e) => {
      numberList(row, T, `DWA state: history[${e}]`);
      if ((row as number[]).some((v) => !(v > 0)))
        throw new Error(`DWA state: history[${e}] must hold losses > 0, got ${JSON.stringify(row)}`);
    });
  }

  loadStateDict(state: StrategyState): void {
    this.validateStateDict(state);
    this.history.splice(0, this.history.length, ...(state.history as number[][]).map((row) => [...row]));
  }

  onEpochEnd(epoch: number, meanLosses: number[]): void {
    meanLosses.forEach((v, i) => {
      if (!(Number.isFinite(v) && v > 0)) {
        throw new Error(
          `DWA: the mean loss of task ${i} in epoch ${epoch + 1} is ${v}; DWA divides by it, so it must be a finite number > 0`,
        );
      }
    });
    if (this.history.length > 0 && this.history[0].length !== meanLosses.length) {
      throw new Error(`DWA: epoch ${epoch + 1} reports ${meanLosses.length} losses, earlier epochs ${this.history[0].length}`);
    }
    this.history.push([...meanLosses]);
  }
}

export const dwaMethod = balanceMethod({
  name: 'dwa',
  options: ['temperature'],
  summary: 'Dynamic weight average: more weight to the task whose loss fell least over the last epochs',
  paper: { authors: 'Liu, Johns & Davison', venue: 'CVPR 2019', title: 'End-to-End Multi-Task Learning with Attention' },
  create: (options: DWAOptions) => new DWA(options),
});
