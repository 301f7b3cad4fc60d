// Learning-rate schedules stepped once per epoch, in closed form (torch.optim.lr_scheduler):
// each group's lr is recomputed from the lr it had when the scheduler was created (its base lr).
import { checkRange, type Optimizer } from './optimizer.js';

export interface SchedulerStateDict {
  lastEpoch: number;
  baseLrs: number[];
}

export abstract class LRScheduler {
  /** Number of step() calls so far; 0 right after construction. */
  lastEpoch = 0;
  /** Each group's lr when the scheduler was created. */
  readonly baseLrs: number[];

  protected constructor(readonly optimizer: Optimizer) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
  }

  /** The lr of a group with base lr `base` after `epoch` steps. */
  protected abstract lrFor(base: number, epoch: number): number;

  /** Every group's lr after `epoch` steps (does not change the optimizer). */
  lrAt(epoch: number): number[] {
    return this.baseLrs.map((base) => this.lrFor(base, epoch));
  }

  /** Advances one epoch and writes the new lrs into the optimizer's groups. */
  step(): void {
    this.lastEpoch++;
    this.apply();
  }

  /** The lrs now in effect, one per param group. */
  getLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): SchedulerStateDict {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(sd: SchedulerStateDict): void {
    if (!Number.isInteger(sd.lastEpoch) || sd.lastEpoch < 0) throw new Error(`LRScheduler.loadStateDict: lastEpoch must be an integer ≥ 0, got ${sd.lastEpoch}`);
    if (!Array.isArray(sd.baseLrs) || sd.baseLrs.length !== this.baseLrs.length || !sd.baseLrs.every((x) => x > 0 && Number.isFinite(x))) {
      throw new Error(`LRScheduler.loadStateDict: expected ${this.baseLrs.length} positive base lrs (one per param group), got ${JSON.stringify(sd.baseLrs)}`);
    }
    this.lastEpoch = sd.lastEpoch;
    sd.baseLrs.forEach((x, i) => (this.baseLrs[i] = x));
    this.apply();
  }

  private apply(): void {
    const lrs = this.lrAt(this.lastEpoch);
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]));
  }
}

/** lr = base · gamma^⌊epoch / stepSize⌋. */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer, opts: { stepSize: number; gamma?: number }) {
    super(optimizer);
    if (!Number.isInteger(opts.stepSize) || opts.stepSize < 1) {
      throw new Error(`StepLR: stepSize must be a positive integer (epochs between decays), got ${String(opts.stepSize)}`);
    }
    this.stepSize = opts.stepSize;
    this.gamma = opts.gamma ?? 0.1;
    if (!(this.gamma > 0) || !Number.isFinite(this.gamma)) throw new Error(`StepLR: gamma must be a positive finite number, got ${String(this.gamma)}; the usual value is 0.1`);
  }

  protected override lrFor(base: number, epoch: number): number {
    return base * Math.pow(this.gamma, Math.floor(epoch / this.stepSize));
  }
}

/**
 * lr = etaMin + (base − etaMin) · (1 + cos(π · epoch / tMax)) / 2: from base at epoch 0 down to
 * etaMin at epoch tMax, then (as torch) back up along the same cosine.
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: Optimizer, opts: { tMax: number; etaMin?: number }) {
    super(optimizer);
    if (!Number.isInteger(opts.tMax) || opts.tMax < 1) {
      throw new Error(`CosineAnnealingLR: tMax must be a positive integer (epochs to reach etaMin, usually the number of epochs), got ${String(opts.tMax)}`);
    }
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    checkRange('CosineAnnealingLR', 'etaMin', this.etaMin, 0, Infinity, 'use 0 to anneal to zero');
  }

  protected override lrFor(base: number, epoch: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}
