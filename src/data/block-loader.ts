// Batches from a cached table larger than memory: blocks of rows are read from the cache files with
// positional reads into a fixed shuffle buffer, whose rows are permuted and cut into batches. Memory
// stays at one buffer however large the table is, and the iteration is synchronous like DataLoader's
// (the trainer runs `for (const batch of loader)`).

import { checkOptionNames } from '../options.js';
import type { CachedTable } from './cache.js';
import { type Column, SequenceColumn } from './columns.js';
import { DataError, missingColumnError } from './errors.js';
import { type BatchSource, type HostBatch, MappedLoader } from './loader.js';
import { deriveSeed, Rng } from './random.js';

export interface BlockShuffleLoaderOptions {
  /** Rows per batch (default 16, as DataLoader). */
  batchSize?: number;
  /** Reshuffle every epoch (default false: rows in table order). */
  shuffle?: boolean;
  /** Seed of the shuffles: epoch e's order is fixed by (seed, e). Default 0. */
  seed?: number;
  /** Rows per block, the unit read from disk and shuffled as a whole (default 65536). */
  blockRows?: number;
  /** Blocks held in the shuffle buffer at once (default 4). */
  bufferBlocks?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Only these feature columns go into batches, and only they are read (default: all). */
  features?: readonly string[];
}

const OPTION_NAMES = ['batchSize', 'shuffle', 'seed', 'blockRows', 'bufferBlocks', 'dropLast', 'features'];

/** One fill of the shuffle buffer: these blocks, in this order, then their rows in `perm` order (null: as read). */
interface BufferFill {
  blocks: ArrayLike<number>;
  perm: Int32Array | null;
}

/**
 * Batches over a cached table (see cache.ts) with a block shuffle, for tables that do not fit in
 * memory. It yields the same HostBatch as DataLoader (x per feature column, y row-major
 * [size, nTask], size, index) and has its fields: length (batches per epoch), numRows, labelNames,
 * nTask, epoch / setEpoch, map.
 *
 * Not shuffled, rows come in table order and the batches equal DataLoader's over the same rows.
 *
 * Shuffled, epoch e draws from a generator seeded by (seed, e): the table is cut into B = ⌈N/b⌉
 * blocks of b = blockRows consecutive rows; the blocks are put in a random order; the buffer is
 * filled with the next k = bufferBlocks blocks of that order, its rows are uniformly permuted and
 * cut into batches (a batch may take the last rows of one fill and the first of the next).
 *
 * How close this is to a full shuffle:
 * - Every row comes exactly once per epoch; every block is equally likely to come in any fill, and
 *   within a fill every order of its rows is equally likely.
 * - Two rows of one block always land in the same buffer; two rows of different blocks share a
 *   buffer with probability (k − 1)/(B − 1) (exact when k divides B). A batch therefore holds rows
 *   of at most k blocks (2k when it straddles two fills), where a full shuffle draws it from the
 *   whole table: two given rows share a batch with probability about
 *   P(same buffer) · (batchSize − 1)/(k·b − 1), against (batchSize − 1)/(N − 1).
 *   E.g. 2M rows, b = 65536, k = 4: B = 31, rows of different blocks share a buffer 10% of the time,
 *   and each batch mixes 4 random slices of about 3% of the table each.
 * - It matters when the file is sorted (by time, user, label): a batch then sees k slices, not the
 *   whole spread. Raise bufferBlocks (more memory) or lower blockRows (more, smaller reads; keep a
 *   block at a few thousand rows or more so reads stay sequential) to mix more slices.
 * - With k·b ≥ N the whole table is one buffer and its permutation is uniform over all rows: a full
 *   shuffle. It is then exactly DataLoader's order for the same seed and epoch.
 *
 * Memory: one buffer of min(N, k·b) rows × rowBytes (the selected features and the labels), plus,
 * shuffled, its permutation (4 bytes a row) and one spare column per distinct column width (the
 * permutation is applied a column at a time); every read is one block of one column. Batches are
 * fresh arrays (one allocation per batch) that the consumer may keep.
 */
export class BlockShuffleLoader implements BatchSource<HostBatch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly blockRows: number;
  readonly bufferBlocks: number;
  readonly dropLast: boolean;
  readonly features: string[];
  /** The epoch the next iteration will use; each full or partial iteration advances it by one. */
  epoch = 0;
  private readonly widths: number[];
  private readonly floats: boolean[];
  private readonly sequences: boolean[];

  constructor(
    readonly table: CachedTable,
    options: BlockShuffleLoaderOptions = {},
  ) {
    checkOptionNames('BlockShuffleLoader', options, OPTION_NAMES, (m) => new DataError(m));
    const { batchSize = 16, shuffle = false, seed = 0, blockRows = 65536, bufferBlocks = 4, dropLast = false } = options;
    for (const [name, v] of [
      ['batchSize', batchSize],
      ['blockRows', blockRows],
      ['bufferBlocks', bufferBlocks],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new DataError(`BlockShuffleLoader: ${name} must be a positive integer, got ${v}.`, { value: v });
    }
    if (!Number.isFinite(seed)) throw new DataError(`BlockShuffleLoader: seed must be a finite number, got ${seed}.`, { value: seed });
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.seed = seed;
    this.blockRows = blockRows;
    this.bufferBlocks = bufferBlocks;
    this.dropLast = dropLast;
    const available = table.columns.map((c) => c.name);
    this.features = options.features ? [...options.features] : available;
    const cols = this.features.map((name) => {
      const c = table.columns.find((col) => col.name === name);
      if (!c) throw missingColumnError(name, available, `the data cache ${table.dir}`);
      return c;
    });
    this.widths = cols.map((c) => c.width);
    this.floats = cols.map((c) => c.dtype === 'float32');
    this.sequences = cols.map((c) => c.sequence);
  }

  /** Number of rows in the table. */
  get numRows(): number {
    return this.table.rows;
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.table.rows;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  get labelNames(): string[] {
    return this.table.labelNames;
  }

  get nTask(): number {
    return this.table.nTask;
  }

  /** Rows the shuffle buffer holds (the memory bound, in rows). */
  get bufferRows(): number {
    return Math.min(this.table.rows, this.blockRows * this.bufferBlocks);
  }

  /** Sets the epoch the next iteration uses (e.g. to resume training). */
  setEpoch(epoch: number): void {
    this.epoch = epoch;
  }

  /** The row order of an epoch (table row indices), or null when not shuffled. Holds N int32: for tests and inspection. */
  order(epoch: number): Int32Array | null {
    if (!this.shuffle) return null;
    const out = new Int32Array(this.table.rows);
    let at = 0;
    for (const fill of this.fills(epoch)) {
      const rows: number[] = [];
      for (let i = 0; i < fill.blocks.length; i++) {
        const first = fill.blocks[i] * this.blockRows;
        const take = Math.min(this.blockRows, this.table.rows - first);
        for (let r = 0; r < take; r++) rows.push(first + r);
      }
      for (let i = 0; i < rows.length; i++) out[at++] = rows[fill.perm ? fill.perm[i] : i];
    }
    return out;
  }

  [Symbol.iterator](): Iterator<HostBatch> {
    const epoch = this.epoch++;
    return this.batches(epoch);
  }

  /** The batches of one epoch, without advancing `epoch`. */
  *batches(epoch = this.epoch): Generator<HostBatch> {
    const count = this.length;
    if (count === 0) return;
    const n = this.table.rows;
    // The parts of a row: the features, then the labels (nTask values), all as 32-bit words (float
    // bits kept), so one monomorphic loop copies them all.
    const widths = [...this.widths, this.table.nTask];
    const parts = widths.length;
    const read = (part: number, first: number, take: number, into: Int32Array, at: number) => {
      if (part < parts - 1) this.table.readColumnInto(this.features[part], first, take, into, at);
      else this.table.readLabelsInto(first, take, into, at);
    };
    // The buffer holds each part's rows in an array of its own, as read. Shuffled, a filled buffer is
    // permuted one part at a time into a spare array of that width (then the two swap): the part's
    // rows stay in cache during its gather, where gathering batch by batch across all parts would
    // miss the cache on nearly every value of a large buffer. Batches are then plain slices.
    const capacity = this.bufferRows;
    const buffers: Int32Array[] = widths.map((w) => new Int32Array(capacity * w));
    const spares = new Map<number, Int32Array>();
    if (this.shuffle) for (const w of widths) if (!spares.has(w)) spares.set(w, new Int32Array(capacity * w));

    let index = 0;
    let batchRows = Math.min(this.batchSize, n);
    let filled = 0;
    let out = batchArrays(widths, batchRows);

    for (const fill of this.fills(epoch)) {
      // Fill the buffer: each block of each part in one positional read.
      let rows = 0;
      for (let i = 0; i < fill.blocks.length; i++) {
        const first = fill.blocks[i] * this.blockRows;
        const take = Math.min(this.blockRows, n - first);
        for (let p = 0; p < parts; p++) read(p, first, take, buffers[p], rows * widths[p]);
        rows += take;
      }
      if (fill.perm) {
        for (let p = 0; p < parts; p++) {
          const spare = spares.get(widths[p])!;
          permuteRows(buffers[p], widths[p], fill.perm, rows, spare);
          spares.set(widths[p], buffers[p]);
          buffers[p] = spare;
        }
      }
      // Cut batches from the buffer's rows (a batch may continue into the next fill).
      for (let from = 0; from < rows; ) {
        const take = Math.min(rows - from, batchRows - filled);
        for (let p = 0; p < parts; p++) out[p].set(buffers[p].subarray(from * widths[p], (from + take) * widths[p]), filled * widths[p]);
        from += take;
        filled += take;
        if (filled < batchRows) continue;
        yield this.batch(out, batchRows, index);
        if (++index === count) return;
        batchRows = Math.min(this.batchSize, n - index * this.batchSize);
        filled = 0;
        out = batchArrays(widths, batchRows);
      }
    }
  }

  /** A loader yielding fn(batch) instead (e.g. host batch → device tensors); same length. */
  map<U>(fn: (batch: HostBatch) => U): BatchSource<U> {
    return new MappedLoader(this, fn);
  }

  /** The buffer fills of an epoch, each with its blocks and row permutation, drawn as they are needed. */
  private *fills(epoch: number): Generator<BufferFill> {
    const n = this.table.rows;
    const nBlocks = Math.ceil(n / this.blockRows);
    const k = this.bufferBlocks;
    if (!this.shuffle) {
      for (let b = 0; b < nBlocks; b += k) yield { blocks: range(b, Math.min(nBlocks, b + k)), perm: null };
      return;
    }
    const rng = new Rng(deriveSeed(this.seed, epoch));
    if (nBlocks <= k) {
      // One buffer holds the table: a uniform permutation of all rows, drawn as DataLoader draws it.
      yield { blocks: range(0, nBlocks), perm: rng.permutation(n) };
      return;
    }
    const blockOrder = rng.permutation(nBlocks);
    for (let b = 0; b < nBlocks; b += k) {
      const blocks = blockOrder.subarray(b, Math.min(nBlocks, b + k));
      let rows = 0;
      for (let i = 0; i < blocks.length; i++) rows += Math.min(this.blockRows, n - blocks[i] * this.blockRows);
      yield { blocks, perm: rng.permutation(rows) };
    }
  }

  /** Wraps a batch's words (features, then labels) as the feature columns' types. */
  private batch(words: Int32Array[], size: number, index: number): HostBatch {
    const x: Record<string, Column> = {};
    for (let c = 0; c < this.features.length; c++) {
      const name = this.features[c];
      if (this.sequences[c]) x[name] = new SequenceColumn(words[c], this.widths[c]);
      else x[name] = this.floats[c] ? new Float32Array(words[c].buffer, words[c].byteOffset, words[c].length) : words[c];
    }
    const labels = words[words.length - 1];
    return { x, y: new Float32Array(labels.buffer, labels.byteOffset, labels.length), size, index };
  }
}

/** A batch's arrays, one per part, as views of one allocation (one allocation a batch, not one a column). */
function batchArrays(widths: readonly number[], rows: number): Int32Array[] {
  const memory = new Int32Array(rows * widths.reduce((a, b) => a + b, 0));
  let at = 0;
  return widths.map((w) => {
    const view = memory.subarray(at, at + rows * w);
    at += rows * w;
    return view;
  });
}

function range(from: number, to: number): Int32Array {
  const out = new Int32Array(to - from);
  for (let i = 0; i < out.length; i++) out[i] = from + i;
  return out;
}

/** Writes the first `rows` rows (width words each) of buf to `into` in the order perm: row i of into is row perm[i] of buf. */
function permuteRows(buf: Int32Array, width: number, perm: Int32Array, rows: number, into: Int32Array): void {
  if (width === 1) {
    for (let i = 0; i < rows; i++) into[i] = buf[perm[i]];
  } else {
    for (let i = 0; i < rows; i++) {
      const s = perm[i] * width;
      const d = i * width;
      for (let j = 0; j < width; j++) into[d + j] = buf[s + j];
    }
  }
}
