// Training progress: a progress bar with per-task running losses on a terminal (cli-progress, loaded
// only in Node), plain lines when output is not a terminal, nothing in a browser. Programs and pages
// use the trainer's onProgress / onEpochEnd callbacks instead.

import type { IngestProgress } from '../data/ingest.js';

export interface ProgressEvent {
  epoch: number;
  nEpoch: number;
  /** Steps done in this epoch, and the epoch's total. */
  step: number;
  steps: number;
  /** Running mean of each task's training loss over this epoch. */
  losses: Record<string, number>;
  /** Each task's loss on this step's batch. */
  stepLosses: Record<string, number>;
  samplesPerSecond: number;
}

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

interface Bar {
  start(total: number, value: number, payload: object): void;
  update(value: number, payload: object): void;
  stop(): void;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

const fmtLosses = (losses: Record<string, number>): string =>
  Object.entries(losses)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join('  ');

export class ProgressPrinter {
  private bar: Bar | null = null;
  private lastLine = 0;
  private constructor(private readonly mode: Exclude<ProgressMode, 'auto'>) {}

  static async create(mode: ProgressMode = 'auto'): Promise<ProgressPrinter> {
    let m: Exclude<ProgressMode, 'auto'> = mode === 'auto' ? (!isNode ? 'none' : process.stdout.isTTY ? 'bar' : 'lines') : mode;
    const p = new ProgressPrinter(m);
    if (m === 'bar') {
      try {
        const { default: cliProgress } = await import('cli-progress');
        p.bar = new cliProgress.SingleBar(
          { format: 'epoch {epoch} |{bar}| {value}/{total} steps  {losses}  {speed} samples/s', hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        );
      } catch {
        m = 'lines';
        return new ProgressPrinter('lines');
      }
    }
    return p;
  }

  startEpoch(epoch: number, nEpoch: number, steps: number): void {
    this.bar?.start(steps, 0, { epoch: `${epoch + 1}/${nEpoch}`, losses: '', speed: '-' });
    this.lastLine = Date.now();
  }

  update(e: ProgressEvent): void {
    if (this.bar) {
      this.bar.update(e.step, { epoch: `${e.epoch + 1}/${e.nEpoch}`, losses: fmtLosses(e.losses), speed: Math.round(e.samplesPerSecond) });
    } else if (this.mode === 'lines' && Date.now() - this.lastLine > 10_000) {
      this.lastLine = Date.now();
      console.log(
        `epoch ${e.epoch + 1}/${e.nEpoch} step ${e.step}/${e.steps}  ${fmtLosses(e.losses)}  ${Math.round(e.samplesPerSecond)} samples/s`,
      );
    }
  }

  endEpoch(line: string): void {
    this.bar?.stop();
    if (this.mode !== 'none') console.log(line);
  }
}

/**
 * Reading and encoding a table (prepareTable's onProgress): a bar with rows/s and time left on a
 * terminal, a line every 10 s otherwise.
 */
export class IngestProgressBar {
  private bar: Bar | null = null;
  private phase = '';
  private readonly started = Date.now();
  // Lines start after 10 s: a table read in seconds prints none.
  private lastLine = Date.now();
  private constructor(private readonly mode: 'bar' | 'lines') {}

  static async create(): Promise<IngestProgressBar> {
    if (!(isNode && process.stdout.isTTY)) return new IngestProgressBar('lines');
    try {
      const { default: cliProgress } = await import('cli-progress');
      const p = new IngestProgressBar('bar');
      p.bar = new cliProgress.SingleBar(
        { format: '{phase} |{bar}| {percentage}%  {rows} rows  {speed} rows/s  {eta_left} left', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      return p;
    } catch {
      return new IngestProgressBar('lines');
    }
  }

  update(p: IngestProgress): void {
    const speed = p.seconds > 0 ? Math.round(p.rows / p.seconds) : 0;
    // Time left from the whole preparation's pace over its bytes (both phases read the files).
    const elapsed = (Date.now() - this.started) / 1000;
    const left = p.bytesDone > 0 ? (elapsed * (p.bytesTotal - p.bytesDone)) / p.bytesDone : NaN;
    const payload = {
      phase: p.phase === 'fit' ? 'fitting' : 'encoding',
      rows: p.rows.toLocaleString('en-US'),
      speed: speed.toLocaleString('en-US'),
      eta_left: Number.isFinite(left) ? `${Math.round(left)} s` : '-',
    };
    const total = Math.max(1, p.bytesTotal);
    if (this.bar) {
      if (this.phase === '') this.bar.start(total, 0, payload);
      this.bar.update(Math.min(p.bytesDone, total), payload);
    } else if (this.mode === 'lines' && Date.now() - this.lastLine > 10_000) {
      this.lastLine = Date.now();
      console.log(
        `${payload.phase} ${Math.round((100 * p.bytesDone) / total)}%  ${payload.rows} rows  ${payload.speed} rows/s  ${payload.eta_left} left`,
      );
    }
    this.phase = payload.phase;
  }

  stop(): void {
    this.bar?.stop();
  }
}
