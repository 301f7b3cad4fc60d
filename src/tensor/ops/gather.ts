// Indexing by int32 ids: embedding lookups (gatherRows, gatherConcat), their scatter-add backward, indexSelect.
import { contiguousStrides } from '../../backend/backend.js';
import { checkShape, describeValue, empty, type Shape, sizeOf, Tensor } from '../tensor.js';
import { needFloat, normAxis, record, sameBackend } from './internal.js';
import { stridedCopy } from './raw.js';
import { reshape, slice, transpose } from './shape.js';

/** [min, max] of each host ids array, computed once: ids tensors are immutable, and a step gathers them several times. */
const idRanges = new WeakMap<Int32Array, [number, number]>();

function idRange(host: Int32Array): [number, number] {
  let range = idRanges.get(host);
  if (!range) {
    let [lo, hi] = [Infinity, -Infinity];
    for (let i = 0; i < host.length; i++) {
      if (host[i] < lo) lo = host[i];
      if (host[i] > hi) hi = host[i];
    }
    range = [lo, hi];
    idRanges.set(host, range);
  }
  return range;
}

function checkIds(op: string, ids: Tensor, vocab: number, what: string): Int32Array {
  if (ids.dtype !== 'i32') throw new Error(`${op}: ids must be int32, got ${ids.describe()}; build them with Int32Array`);
  const host = ids.hostIds;
  if (!host) {
    throw new Error(
      `${op}: ids ${ids.describe()} must be created from host data (wm.tensor(Int32Array ...)) so they can be validated before the kernel runs`,
    );
  }
  const [lo, hi] = idRange(host);
  if (lo >= 0 && hi < vocab) return host;
  const i = host.findIndex((id) => id < 0 || id >= vocab);
  throw new Error(
    `${op}: id ${host[i]} at position ${i} is outside [0, ${vocab}) for ${what}; raise the vocabulary size or encode unknown ids (e.g. to 0)`,
  );
}

/** table[ids] along axis 0: an embedding lookup. Backward: scatter-add into the table's rows. */
export function gatherRows(table: Tensor, ids: Tensor, what = `table ${table.describe()}`): Tensor {
  const backend = sameBackend('gatherRows', [table, ids]);
  needFloat('gatherRows', [table]);
  if (table.rank < 1) throw new Error(`gatherRows: table must have at least one axis, got ${table.describe()}`);
  const vocab = table.shape[0];
  const host = checkIds('gatherRows', ids, vocab, what);
  const dim = table.size / Math.max(vocab, 1);
  const out = empty([...ids.shape, ...table.shape.slice(1)], 'f32', backend);
  if (out.size > 0) backend.gatherRows(table.buffer, ids.buffer, host, out.buffer, dim);
  return record(out, 'gatherRows', [table, ids], (g) => [scatterAddRows(g, ids, vocab, table.shape.slice(1)), null]);
}

/** An embedding lookup for gatherConcat: rows of `table` [vocab, dim] at 1-D `ids`. */
export interface RowLookup {
  table: Tensor;
  ids: Tensor;
  /** Names the table in error messages, e.g. "feature 'user_id' (vocabulary 1000)". */
  what?: string;
}

/**
 * concat([gatherRows(table, ids) for a lookup, or x for a [rows, width] tensor, …], axis 1): each
 * lookup is gathered straight into its columns, with no [rows, dim] tensor per feature (the input
 * layer of a recommender, many small embeddings side by side). Same values and gradients as the
 * gathers and concat it replaces.
 */
export function gatherConcat(parts: (RowLookup | Tensor)[]): Tensor {
  if (parts.length === 0) throw new Error('gatherConcat: needs at least one part');
  const tensors = parts.map((p) => (p instanceof Tensor ? p : p.table));
  const backend = sameBackend('gatherConcat', [...tensors, ...parts.flatMap((p) => (p instanceof Tensor ? [] : [p.ids]))]);
  needFloat('gatherConcat', tensors);
  const rows = parts[0] instanceof Tensor ? parts[0].shape[0] : parts[0].ids.shape[0];
  const widths = parts.map((p, i) => {
    if (p instanceof Tensor) {
      if (p.rank !== 2 || p.shape[0] !== rows) throw new Error(`gatherConcat: part ${i} ${p.describe()} must be [${rows}, width]`);
      return p.shape[1];
    }
    if (p.table.rank !== 2) throw new Error(`gatherConcat: the table of part ${i} must be [vocab, dim], got ${p.table.describe()}`);
    if (p.ids.rank !== 1 || p.ids.shape[0] !== rows)
      throw new Error(`gatherConcat: the ids of part ${i} must be [${rows}], got ${p.ids.describe()}`);
    return p.table.shape[1];
  });
  const hosts = parts.map((p) =>
    p instanceof Tensor ? null : checkIds('gatherConcat', p.ids, p.table.shape[0], p.what ?? `table ${p.table.describe()}`),
  );
  const starts = widths.map((_, i) => widths.slice(0, i).reduce((a, b) => a + b, 0));
  const width = widths.reduce((a, b) => a + b, 0);
  const out = empty([rows, width], 'f32', backend);
  parts.forEach((p, i) => {
    if (rows === 0 || widths[i] === 0) return;
    if (p instanceof Tensor)
      stridedCopy('gatherConcat', p, p.shape, 0, contiguousStrides(p.shape), { t: out, offset: starts[i], strides: [width, 1] });
    else backend.gatherRows(p.table.buffer, p.ids.buffer, hosts[i]!, out.buffer, widths[i], { offset: starts[i], stride: width });
  });
  return record(out, 'gatherConcat', tensors, (g) =>
    parts.map((p, i) => {
      if (!tensors[i].requiresGrad) return null;
      const piece = slice(g, [0, starts[i]], [rows, widths[i]]);
      return p instanceof Tensor ? piece : scatterAddRows(piece, p.ids, p.table.shape[0], [widths[i]]);
    }),
  );
}

/** Sums rows of src into a [vocab, ...rowShape] tensor at ids (repeated ids accumulate). */
export function scatterAddRows(src: Tensor, ids: Tensor, vocab: number, rowShape: Shape): Tensor {
  const backend = sameBackend('scatterAddRows', [src, ids]);
  needFloat('scatterAddRows', [src]);
  if (typeof vocab !== 'number' || !Number.isInteger(vocab) || vocab < 0) {
    throw new Error(
      `scatterAddRows: vocab ${typeof vocab === 'number' ? vocab : describeValue(vocab)} must be a non-negative integer (the number of rows)`,
    );
  }
  checkShape('scatterAddRows', rowShape);
  const host = checkIds('scatterAddRows', ids, vocab, `${vocab} rows`);
  const dim = sizeOf(rowShape);
  if (src.size !== host.length * dim) {
    throw new Error(`scatterAddRows: src ${src.describe()} does not hold ${host.length} rows of ${dim}`);
  }
  const out = empty([vocab, ...rowShape], 'f32', backend);
  if (out.size > 0 && host.length === 0) backend.fill(out.buffer, 0, out.size);
  else if (out.size > 0) backend.scatterAddRows(src.buffer, ids.buffer, host, out.buffer, vocab, dim);
  return record(out, 'scatterAddRows', [src, ids], (g) => [reshape(gatherRows(g, ids), [...src.shape]), null]);
}

/** Selects entries of x along `axis` at the given int32 indices. */
export function indexSelect(x: Tensor, axis: number, ids: Tensor): Tensor {
  const a = normAxis('indexSelect', axis, x.rank);
  if (ids.rank !== 1) throw new Error(`indexSelect: indices must be 1-D, got ${ids.describe()}`);
  if (a === 0) return gatherRows(x, ids, `axis 0 of ${x.describe()}`);
  const perm = x.shape.map((_, i) => i);
  perm.splice(a, 1);
  perm.unshift(a);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return transpose(gatherRows(transpose(x, perm), ids, `axis ${a} of ${x.describe()}`), inverse);
}
