// One emitter per module kind: each writes the ONNX nodes that compute, in eval mode, what the
// module's forward computes, and returns the name of its output. BatchNorm that follows a Linear
// (MLP blocks, expert layers, gates) is folded into that Linear's weight and bias from the running
// statistics; Dice's BatchNorm (no Linear in front of it) is emitted as (x − mean) · scale. Dropout is
// the identity at inference and emits nothing.
import type { Feature, SequenceFeature, SparseFeature } from '../../features.js';
import type { EmbeddingLayer } from '../../nn/embedding-layer.js';
import type { Experts, Gate, GroupedBatchNorm } from '../../nn/experts.js';
import { type BatchNorm1d, Dice, type Linear, type MLP, PReLU } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type GraphBuilder, OnnxExportError } from './graph.js';

/** The graph being built and where every module of the model sits (its state-dict path). */
export interface EmitContext {
  g: GraphBuilder;
  /** A module's path in the model ('towers.0'); the state-dict names are `<path>.<tensor>`. */
  path(m: Module): string;
  /** The graph input of each feature, by feature name. */
  inputs: Map<string, string>;
}

// ---- BatchNorm folding ----------------------------------------------------------------------------

/** Running statistics and affine parameters of a BatchNorm1d or GroupedBatchNorm (eval mode). */
interface BatchNormStats {
  path: string;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor;
  runningVar: Tensor;
  eps: number;
}

function stats(ctx: EmitContext, bn: BatchNorm1d | GroupedBatchNorm): BatchNormStats {
  return {
    path: ctx.path(bn),
    weight: bn.weight,
    bias: bn.bias,
    runningMean: bn.runningMean,
    runningVar: bn.runningVar,
    eps: bn.opts.eps ?? 1e-5,
  };
}

/** γ / √(var + ε) per channel, in float32 steps as ops.batchNorm1d computes it. */
function bnScale(g: GraphBuilder, bn: BatchNormStats): Float32Array {
  const v = g.host(bn.runningVar);
  const gamma = bn.weight ? g.host(bn.weight) : null;
  return v.map((x, i) => Math.fround((gamma ? gamma[i] : 1) / Math.fround(Math.sqrt(Math.fround(x + bn.eps)))));
}

/**
 * x·W + b, then BatchNorm in eval mode, as one MatMul and one Add: W' = W·s and b' = (b − mean)·s + β
 * with s = γ/√(var + ε) per output channel (W [in, out] or stacked [E, in, out]; b and the statistics
 * [out] or [E, 1, out]).
 */
function linearWithBatchNorm(ctx: EmitContext, path: string, x: string, weight: Tensor, bias: Tensor | null, bn: BatchNormStats): string {
  const { g } = ctx;
  const out = weight.shape[weight.rank - 1];
  const groups = weight.rank === 3 ? weight.shape[0] : 1;
  const rows = weight.shape[weight.rank - 2];
  const w = g.host(weight);
  const b = bias ? g.host(bias) : null;
  const mean = g.host(bn.runningMean);
  const beta = bn.bias ? g.host(bn.bias) : null;
  const s = bnScale(g, bn);
  const folded = new Float32Array(w.length);
  for (let e = 0; e < groups; e++)
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < out; j++) folded[(e * rows + i) * out + j] = w[(e * rows + i) * out + j] * s[e * out + j];
  const shift = new Float32Array(groups * out);
  for (let k = 0; k < shift.length; k++) shift[k] = ((b ? b[k] : 0) - mean[k]) * s[k] + (beta ? beta[k] : 0);
  const biasShape = weight.rank === 3 ? [groups, 1, out] : [out];
  const W = g.initializer(`${path}.weight+${bn.path}`, weight.shape, folded);
  const B = g.initializer(`${path}.bias+${bn.path}`, biasShape, shift);
  return g.add(`${path}.add`, g.matmul(`${path}.matmul`, x, W), B);
}

/** A Linear layer without BatchNorm: MatMul (+ Add). */
export function linear(ctx: EmitContext, layer: Linear, x: string): string {
  const path = ctx.path(layer);
  const y = ctx.g.matmul(`${path}.matmul`, x, ctx.g.param(`${path}.weight`, layer.weight));
  return layer.bias ? ctx.g.add(`${path}.add`, y, ctx.g.param(`${path}.bias`, layer.bias)) : y;
}

// ---- activations ----------------------------------------------------------------------------------

/** An activation as the emitters see it (MLP's and Experts' activation modules both describe to this). */
interface ActivationSpec {
  path: string;
  kind: string;
  /** PReLU's slope ([1], or [E, 1, 1] for experts). */
  slope?: Tensor;
  /** Dice's α and its BatchNorm (no affine). */
  dice?: { alpha: Tensor; bn: BatchNormStats };
}

function activation(ctx: EmitContext, act: ActivationSpec, x: string): string {
  const { g } = ctx;
  const p = act.path;
  switch (act.kind) {
    case 'relu':
      return g.op('Relu', `${p}.relu`, [x]);
    case 'sigmoid':
      return g.sigmoid(`${p}.sigmoid`, x);
    case 'tanh':
      return g.op('Tanh', `${p}.tanh`, [x]);
    case 'leakyrelu':
      return g.op('LeakyRelu', `${p}.leakyrelu`, [x], { alpha: { kind: 'float', value: 0.01 } });
    case 'softmax':
      return g.softmax(`${p}.softmax`, x);
    case 'linear':
      return x;
    case 'prelu':
      return g.op('PRelu', `${p}.prelu`, [x, g.param(`${p}.weight`, act.slope!)]);
    case 'dice': {
      // p = sigmoid((x − mean)·s), y = p·x + (1 − p)·(α·x), as nn/layers.ts diceMix.
      const { alpha, bn } = act.dice!;
      const scale = g.initializer(`${bn.path}.scale`, bn.runningVar.shape, bnScale(g, bn));
      const normed = g.mul(`${bn.path}.mul`, g.sub(`${bn.path}.sub`, x, g.param(`${bn.path}.running_mean`, bn.runningMean)), scale);
      const gate = g.sigmoid(`${p}.sigmoid`, normed);
      const ax = g.mul(`${p}.alpha_x`, g.param(`${p}.alpha`, alpha), x);
      const rest = g.mul(`${p}.rest`, g.sub(`${p}.one_minus_p`, g.floats([1]), gate), ax);
      return g.add(`${p}.dice`, g.mul(`${p}.p_x`, gate, x), rest);
    }
    default:
      throw new OnnxExportError(
        `ONNX export: activation '${act.kind}' at ${p} has no ONNX counterpart here; use relu, sigmoid, tanh, leakyrelu, prelu, dice, softmax or linear`,
      );
  }
}

/** An MLP block's activation module as an ActivationSpec. */
function mlpActivation(ctx: EmitContext, act: Module): ActivationSpec {
  const path = ctx.path(act);
  if (act instanceof PReLU) return { path, kind: 'prelu', slope: act.weight };
  if (act instanceof Dice) return { path, kind: 'dice', dice: { alpha: act.alpha, bn: stats(ctx, act.bn) } };
  const kind = (act as { kind?: unknown }).kind;
  if (typeof kind !== 'string')
    throw new OnnxExportError(`ONNX export: the activation at ${path} (${act.constructor.name}) is not one exportOnnx knows`);
  return { path, kind };
}

// ---- layers ---------------------------------------------------------------------------------------

/** MLP: per block Linear + BatchNorm (folded) → activation (dropout omitted), then the output Linear. */
export function mlp(ctx: EmitContext, m: MLP, x: string): string {
  let h = x;
  for (const b of m.blocks) {
    const z = linearWithBatchNorm(ctx, ctx.path(b.linear), h, b.linear.weight, b.linear.bias, stats(ctx, b.bn));
    h = activation(ctx, mlpActivation(ctx, b.act), z);
  }
  return m.output ? linear(ctx, m.output, h) : h;
}

/** Experts: x [B, D] → [E, B, H]; each layer one batched MatMul over the stacked weights [E, in, out]. */
export function experts(ctx: EmitContext, e: Experts, x: string): string {
  let h = x;
  for (const layer of e.layers) {
    const path = ctx.path(layer);
    const z = linearWithBatchNorm(ctx, path, h, layer.weight, layer.bias, stats(ctx, layer.bn));
    const act = layer.act;
    const actPath = ctx.path(act);
    h = activation(
      ctx,
      {
        path: actPath,
        kind: act.kind,
        slope: act.slope ?? undefined,
        dice: act.alpha && act.bn ? { alpha: act.alpha, bn: stats(ctx, act.bn) } : undefined,
      },
      z,
    );
  }
  return h;
}

/** A gate's logits [B, E]: Linear → BatchNorm, folded. */
export function gateLogits(ctx: EmitContext, gate: Gate, x: string): string {
  return linearWithBatchNorm(ctx, ctx.path(gate.linear), x, gate.linear.weight, gate.linear.bias, stats(ctx, gate.bn));
}

/** Expert outputs [E, B, H] → [B, E, H], the layout the mixtures multiply. */
export function batchFirst(ctx: EmitContext, name: string, expertOutputs: string): string {
  return ctx.g.transpose(`${name}.batch_first`, expertOutputs, [1, 0, 2]);
}

/**
 * A gate's mixture: weights = softmax(logits) (or sigmoid(logits), each expert on its own), then
 * Σ_e weights[b, e] · experts[b, e] as a batched MatMul [B, 1, E] · [B, E, H] → [B, H].
 */
export function gateMixture(
  ctx: EmitContext,
  gate: Gate,
  x: string,
  expertsBatchFirst: string,
  activationKind: 'softmax' | 'sigmoid',
): string {
  const { g } = ctx;
  const path = ctx.path(gate);
  const logits = gateLogits(ctx, gate, x);
  const weights = activationKind === 'softmax' ? g.softmax(`${path}.softmax`, logits) : g.sigmoid(`${path}.sigmoid`, logits);
  const mixed = g.matmul(`${path}.mix`, g.unsqueeze(`${path}.weights_row`, weights, [1]), expertsBatchFirst);
  return g.squeeze(`${path}.mixture`, mixed, [1]);
}

/**
 * AITM's transfer attention: u = [own, transferred] [B, 2, d]; w = softmax(⟨q(u), k(u)⟩ / √d) over
 * the two items; Σ_j w_j · v(u_j).
 */
export function transferAttention(
  ctx: EmitContext,
  att: { dim: number; query: Linear; key: Linear; value: Linear } & Module,
  own: string,
  transferred: string,
): string {
  const { g } = ctx;
  const p = ctx.path(att);
  const u = g.concat(`${p}.items`, [g.unsqueeze(`${p}.own`, own, [1]), g.unsqueeze(`${p}.transferred`, transferred, [1])], 1);
  const [q, k, v] = [att.query, att.key, att.value].map((l) => linear(ctx, l, u));
  const scores = g.mul(
    `${p}.scale`,
    g.reduceSum(`${p}.dot`, g.mul(`${p}.qk`, q, k), [-1], 0),
    g.floats([Math.fround(1 / Math.sqrt(att.dim))]),
  );
  const w = g.unsqueeze(`${p}.weights`, g.softmax(`${p}.softmax`, scores), [-1]);
  return g.reduceSum(`${p}.output`, g.mul(`${p}.weighted`, w, v), [1], 0);
}

// ---- the embedding layer --------------------------------------------------------------------------

/** One sparse or sequence feature's embedding: [B, dim] (concat pooling: [B, len·dim]). */
function embedFeature(ctx: EmitContext, layer: EmbeddingLayer, f: SparseFeature | SequenceFeature): string {
  const { g } = ctx;
  const table = layer.tables.get(f.tableName);
  if (!table) throw new OnnxExportError(`ONNX export: feature '${f.name}' reads table '${f.tableName}', which the model does not have`);
  const tablePath = ctx.path(table);
  const weight = g.param(`${tablePath}.weight`, table.weight);
  const ids = ctx.inputs.get(f.name)!;
  const p = `embedding.${f.name}`;
  const emb = g.op('Gather', `${p}.gather`, [weight, ids], { axis: 0 });
  if (f.kind === 'sparse') return emb;
  // Sequences, as EmbeddingLayer.embed: [B, L, d] pooled over L; padding ids are masked out of sum and mean.
  if (f.pooling === 'concat') return g.reshape(`${p}.concat`, emb, [0, f.embedDim * f.maxLen!]);
  if (f.paddingIdx === undefined) {
    return f.pooling === 'sum' ? g.reduceSum(`${p}.sum`, emb, [1], 0) : g.op('ReduceMean', `${p}.mean`, [emb], { axes: [1], keepdims: 0 });
  }
  const isPad = g.op('Equal', `${p}.is_padding`, [ids, g.int64s([f.paddingIdx], [])]);
  const mask = g.unsqueeze(`${p}.mask`, g.op('Cast', `${p}.not_padding`, [g.op('Not', `${p}.not`, [isPad])], { to: 1 }), [2]);
  const summed = g.reduceSum(`${p}.sum`, g.mul(`${p}.masked`, emb, mask), [1], 0);
  if (f.pooling === 'sum') return summed;
  const counts = g.add(`${p}.count`, g.reduceSum(`${p}.count_raw`, mask, [1], 0), g.floats([1e-16]));
  return g.div(`${p}.mean`, summed, counts);
}

/**
 * The model input [B, width]: for each group, its sparse/sequence embeddings in feature order, then
 * its dense values, as EmbeddingLayer.forwardGroups lays them out.
 */
export function embeddingInput(ctx: EmitContext, layer: EmbeddingLayer, groups: Feature[][]): string {
  const parts: string[] = [];
  for (const features of groups) {
    for (const f of features) if (f.kind !== 'dense') parts.push(embedFeature(ctx, layer, f));
    for (const f of features)
      if (f.kind === 'dense') parts.push(ctx.g.unsqueeze(`embedding.${f.name}.column`, ctx.inputs.get(f.name)!, [1]));
  }
  if (parts.length === 0) throw new OnnxExportError('ONNX export: the model has no features to embed');
  return ctx.g.concat(`${ctx.path(layer)}.output`, parts, 1);
}
