// Shared checks of the ops: one backend, float inputs, rank, broadcasting, axes, and the tape record.
import { type Backend, contiguousStrides, MAX_RANK } from '../../backend/backend.js';
import { isGradEnabled } from '../engine.js';
import { describeValue, fmtShape, type GradNode, type Shape, type Tensor } from '../tensor.js';

export function sameBackend(op: string, ts: Tensor[]): Backend {
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) {
      throw new Error(
        `${op}: inputs live on different backends (${b.name} and ${t.backend.name}); move them to one backend first (e.g. create both after wm.init)`,
      );
    }
  }
  return b;
}

export function needFloat(op: string, ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== 'f32') {
      throw new Error(`${op}: needs float32 inputs but got ${t.describe()}; int32 tensors are for ids (gatherRows/indexSelect)`);
    }
  }
}

export function checkRank(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} exceeds the supported ${MAX_RANK}`);
}

/** Records the op on the tape when any input needs a gradient. */
export function record(out: Tensor, op: string, inputs: Tensor[], backward: GradNode['backward']): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast (axis ${i} from the left of the aligned shapes: ${da} vs ${db}); reshape one so each axis is equal or 1`,
      );
    }
    // As PyTorch: 1 stretches to the other size, including 0 (an empty axis stays empty).
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides that read `shape` as if broadcast to `outShape` (0 on repeated axes). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = contiguousStrides(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => (i < offset || shape[i - offset] === 1 ? 0 : own[i - offset]));
}

export const normAxis = (op: string, axis: number, rank: number): number => {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) {
    throw new Error(
      `${op}: axis ${typeof axis === 'number' ? axis : describeValue(axis)} must be an integer (0 is the first axis, -1 the last)`,
    );
  }
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) throw new Error(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
};

/** An axis at which a new axis can be inserted: -rank-1 … rank. */
export function insertAxis(op: string, axis: number, rank: number): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -rank - 1 || axis > rank) {
    throw new Error(
      `${op}: axis ${typeof axis === 'number' ? axis : describeValue(axis)} is not an integer in [${-rank - 1}, ${rank}] for inputs of rank ${rank}`,
    );
  }
  return axis < 0 ? axis + rank + 1 : axis;
}
