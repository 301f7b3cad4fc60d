// Learning-rate schedules stepped once per epoch, in closed form (torch.optim.lr_scheduler):
// each group's lr is recomputed from the lr it had when the scheduler was created (its base lr).
import { checkRange, type Optimizer } from './optimizer.js';

export interface SchedulerStateDict {
  /** The scheduler's class ('StepLR', 'CosineAnnealingLR'); absent in states saved before it was recorded. */
  type?: string;
  lastEpoch: number;
  baseLrs: number[];
}

const SCHEDULER_FIELDS = new Set(['type', 'lastEpoch', 'baseLrs']);

export abstract class LRScheduler {
  /** Number of step() calls so far; 0 right after construction. */
  lastEpoch = 0;
  /** Each group's lr when the scheduler was created. */
  readonly baseLrs: number[];

  /** The class name, saved in the state dict and checked on load. */
  abstract readonly type: string;

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
    return { type: this.type, lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }

  /** Every reason `sd` does not fit this scheduler (empty when it fits). Pure: changes nothing. */
  stateDictProblems(sd: SchedulerStateDict): string[] {
    if (!sd || typeof sd !== 'object' || Array.isArray(sd))
      return [`expected a scheduler state { type, lastEpoch, baseLrs }, got ${JSON.stringify(sd) ?? String(sd)}`];
    const problems: string[] = [];
    const has = (k: string) => Object.hasOwn(sd, k);
    if (has('type') && sd.type !== this.type)
      problems.push(
        `it was saved by ${JSON.stringify(sd.type)?.replace(/^"|"$/g, '')}, this is ${this.type}; resume with the same kind of scheduler`,
      );
    if (!(typeof sd.lastEpoch === 'number' && Number.isSafeInteger(sd.lastEpoch) && sd.lastEpoch >= 0)) {
      problems.push(
        `lastEpoch must be an integer ≥ 0 (the number of step() calls), got ${JSON.stringify(sd.lastEpoch) ?? String(sd.lastEpoch)}`,
      );
    }
    if (
      !Array.isArray(sd.baseLrs) ||
      sd.baseLrs.length !== this.baseLrs.length ||
      !sd.baseLrs.every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x))
    ) {
      problems.push(
        `expected ${this.baseLrs.length} positive finite base lrs (one per param group), got ${Array.isArray(sd.baseLrs) ? `[${sd.baseLrs.map(String).join(', ')}]` : (JSON.stringify(sd.baseLrs) ?? String(sd.baseLrs))}`,
      );
    }
    const extra = Object.keys(sd).filter((k) => !SCHEDULER_FIELDS.has(k));
    if (extra.length)
      problems.push(`unknown fields ${extra.map((k) => `'${k}'`).join(', ')} (a scheduler state has type, lastEpoch and baseLrs)`);
    return problems;
  }

  /** Throws, naming every problem, when `sd` does not fit this scheduler. Changes nothing. */
  validateStateDict(sd: SchedulerStateDict): void {
    const problems = this.stateDictProblems(sd);
    if (problems.length)
      throw new Error(
        `${this.type}.loadStateDict: the state does not fit this scheduler (nothing was changed):\n  ${problems.join('\n  ')}`,
      );
  }

  /** Restores the epoch count and base lrs and writes the lrs they give into the optimizer. All-or-nothing. */
  loadStateDict(sd: SchedulerStateDict): void {
    this.validateStateDict(sd);
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
  readonly type = 'StepLR';
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer, opts: { stepSize: number; gamma?: number }) {
    super(optimizer);
    if (!Number.isInteger(opts.stepSize) || opts.stepSize < 1) {
      throw new Error(`StepLR: stepSize must be a positive integer (epochs between decays), got ${String(opts.stepSize)}`);
    }
    this.stepSize = opts.stepSize;
    this.gamma = opts.gamma ?? 0.1;
    if (!(this.gamma > 0) || !Number.isFinite(this.gamma))
      throw new Error(`StepLR: gamma must be a positive finite number, got ${String(this.gamma)}; the usual value is 0.1`);
  }

  protected override lrFor(base: number, epoch: number): number {
    return base * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/**
 * lr = etaMin + (base − etaMin) · (1 + cos(π · epoch / tMax)) / 2: from base at epoch 0 down to
 * etaMin at epoch tMax, then (as torch) back up along the same cosine.
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly type = 'CosineAnnealingLR';
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: Optimizer, opts: { tMax: number; etaMin?: number }) {
    super(optimizer);
    if (!Number.isInteger(opts.tMax) || opts.tMax < 1) {
      throw new Error(
        `CosineAnnealingLR: tMax must be a positive integer (epochs to reach etaMin, usually the number of epochs), got ${String(opts.tMax)}`,
      );
    }
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    checkRange('CosineAnnealingLR', 'etaMin', this.etaMin, 0, Infinity, 'use 0 to anneal to zero');
  }

  protected override lrFor(base: number, epoch: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}
