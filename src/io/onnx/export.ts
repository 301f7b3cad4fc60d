// exportOnnx: a multi-task model, in eval mode, as an ONNX ModelProto that onnxruntime (or any ONNX
// runtime) runs on its own. One graph input per feature (sparse ids int64 [batch], sequence ids int64
// [batch, maxLen], dense values float32 [batch]) and one output [batch, nOutputs], the values of
// model.predict: probabilities for classification tasks, raw values for regression tasks. The task
// names and types are in the model's metadata_props ('webmtl.tasks'). Browser-safe.
import { type Feature, featureToJSON } from '../../features.js';
import { AITM } from '../../models/aitm.js';
import { MultiTaskModel } from '../../models/base.js';
import { ESMM } from '../../models/esmm.js';
import { MMoE } from '../../models/mmoe.js';
import { OMoE } from '../../models/omoe.js';
import { PLE } from '../../models/ple.js';
import { SharedBottom } from '../../models/shared-bottom.js';
import type { Module } from '../../nn/module.js';
import { checkOptionNames } from '../../options.js';
import type { Tensor } from '../../tensor/tensor.js';
import { VERSION } from '../../version.js';
import { GraphBuilder, OnnxExportError } from './graph.js';
import { batchFirst, type EmitContext, embeddingInput, experts, gateMixture, mlp, transferAttention } from './modules.js';
import { DataType, type Dim, encodeModel } from './proto.js';

export { OnnxExportError } from './graph.js';

export interface OnnxExportOptions {
  /** Name of the output [batch, nOutputs] (default 'scores'). */
  outputName?: string;
  /** Name of the symbolic batch dimension of every input and the output (default 'batch'). */
  batchDim?: string;
  /** Opset of the default ONNX domain, 13 to 17 (default 17; onnx 1.12's checker knows up to 17). */
  opset?: number;
  /** Extra metadata_props entries (string values; the 'webmtl.' keys are exportOnnx's own). */
  metadata?: Record<string, string>;
}

const OPTION_NAMES = ['outputName', 'batchDim', 'opset', 'metadata'];
export const ONNX_DEFAULT_OPSET = 17;
const MIN_OPSET = 13;
/** IR version 8 (ONNX 1.10+): what onnx 1.12 and onnxruntime read; enough for opset 17. */
const IR_VERSION = 8;

/** One output column per entry, in order: what `webmtl.tasks` in the metadata holds. */
export interface OnnxTaskInfo {
  name: string;
  type: 'classification' | 'regression';
}

// ---- one short function per model: the graph reads like its forward() ------------------------------

/** Tower outputs [B, 1] per task → [B, nTask], sigmoid on classification tasks (MultiTaskModel.taskOutputs). */
function taskOutputs(ctx: EmitContext, model: MultiTaskModel, logits: string[]): string {
  const cols = logits.map((y, i) => (model.taskTypes[i] === 'classification' ? ctx.g.sigmoid(`${model.taskNames[i]}.probability`, y) : y));
  return ctx.g.concat('outputs', cols, 1);
}

function sharedBottom(ctx: EmitContext, m: SharedBottom): string {
  const shared = mlp(ctx, m.bottom, embeddingInput(ctx, m.embedding, [m.features]));
  return taskOutputs(
    ctx,
    m,
    m.towers.map((tower) => mlp(ctx, tower, shared)),
  );
}

function mmoe(ctx: EmitContext, m: MMoE): string {
  const input = embeddingInput(ctx, m.embedding, [m.features]);
  const all = batchFirst(ctx, 'experts', experts(ctx, m.experts, input));
  const mixtures = m.gates.map((gate) => gateMixture(ctx, gate, input, all, m.gateActivation));
  return taskOutputs(
    ctx,
    m,
    m.towers.map((tower, i) => mlp(ctx, tower, mixtures[i])),
  );
}

function omoe(ctx: EmitContext, m: OMoE): string {
  const input = embeddingInput(ctx, m.embedding, [m.features]);
  const all = batchFirst(ctx, 'experts', experts(ctx, m.experts, input));
  const shared = gateMixture(ctx, m.gate, input, all, m.gateActivation);
  return taskOutputs(
    ctx,
    m,
    m.towers.map((tower) => mlp(ctx, tower, shared)),
  );
}

function ple(ctx: EmitContext, m: PLE): string {
  const input = embeddingInput(ctx, m.embedding, [m.features]);
  let inputs = Array<string>(m.nTask + 1).fill(input);
  m.levels.forEach((level, l) => {
    const sharedInput = inputs[inputs.length - 1];
    const own = level.taskExperts.map((e, i) => batchFirst(ctx, `levels.${l}.taskExperts.${i}`, experts(ctx, e, inputs[i])));
    const shared = level.sharedExperts
      ? [batchFirst(ctx, `levels.${l}.sharedExperts`, experts(ctx, level.sharedExperts, sharedInput))]
      : [];
    // Task gate i mixes task i's experts, then the shared ones; the shared gate mixes all, in that order.
    const outputs = level.taskGates.map((gate, i) =>
      gateMixture(ctx, gate, inputs[i], ctx.g.concat(`levels.${l}.experts_of_task${i}`, [own[i], ...shared], 1), 'softmax'),
    );
    if (level.sharedGate)
      outputs.push(
        gateMixture(ctx, level.sharedGate, sharedInput, ctx.g.concat(`levels.${l}.all_experts`, [...own, ...shared], 1), 'softmax'),
      );
    inputs = outputs;
  });
  return taskOutputs(
    ctx,
    m,
    m.towers.map((tower, i) => mlp(ctx, tower, inputs[i])),
  );
}

function esmm(ctx: EmitContext, m: ESMM): string {
  const groups = [m.userFeatures, m.itemFeatures].filter((group) => group.length > 0);
  const input = embeddingInput(ctx, m.embedding, groups);
  const pCvr = ctx.g.sigmoid('cvr.probability', mlp(ctx, m.cvrTower, input));
  const pCtr = ctx.g.sigmoid('ctr.probability', mlp(ctx, m.ctrTower, input));
  return ctx.g.concat('outputs', [pCvr, pCtr, ctx.g.mul('ctcvr.probability', pCtr, pCvr)], 1);
}

function aitm(ctx: EmitContext, m: AITM): string {
  const input = embeddingInput(ctx, m.embedding, [m.features]);
  const z = [mlp(ctx, m.bottoms[0], input)];
  for (let i = 1; i < m.nTask; i++) {
    const transferred = mlp(ctx, m.infoGates[i - 1], z[i - 1]);
    z.push(transferAttention(ctx, m.attentions[i - 1], mlp(ctx, m.bottoms[i], input), transferred));
  }
  return taskOutputs(
    ctx,
    m,
    m.towers.map((tower, i) => mlp(ctx, tower, z[i])),
  );
}

// biome-ignore lint/suspicious/noExplicitAny: a table of constructors and their graph functions
const EXPORTERS: [abstract new (...args: any[]) => MultiTaskModel, (ctx: EmitContext, m: any) => string][] = [
  [SharedBottom, sharedBottom],
  [MMoE, mmoe],
  [OMoE, omoe],
  [PLE, ple],
  [ESMM, esmm],
  [AITM, aitm],
];

// ---- options, inputs and the model proto ----------------------------------------------------------

function resolveOptions(opts: unknown): Required<Omit<OnnxExportOptions, 'metadata'>> & { metadata: Record<string, string> } {
  if (opts === undefined) opts = {};
  if (!opts || typeof opts !== 'object' || Array.isArray(opts))
    throw new OnnxExportError(`exportOnnx: options must be an object, got ${JSON.stringify(opts) ?? String(opts)}`);
  checkOptionNames('exportOnnx', opts, OPTION_NAMES, (m) => new OnnxExportError(m));
  const o = opts as OnnxExportOptions;
  const name = (key: 'outputName' | 'batchDim', fallback: string) => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || v === '')
      throw new OnnxExportError(`exportOnnx: ${key} must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  };
  const opset = o.opset ?? ONNX_DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > ONNX_DEFAULT_OPSET)
    throw new OnnxExportError(
      `exportOnnx: opset must be a whole number from ${MIN_OPSET} to ${ONNX_DEFAULT_OPSET} (the graph uses opset-13 Softmax, ReduceSum and Unsqueeze), got ${JSON.stringify(o.opset)}`,
    );
  const metadata = o.metadata ?? {};
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata))
    throw new OnnxExportError(`exportOnnx: metadata must be an object of strings, got ${JSON.stringify(metadata)}`);
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new OnnxExportError(`exportOnnx: metadata['${k}'] must be a string, got ${JSON.stringify(v)}`);
    if (k.startsWith('webmtl.'))
      throw new OnnxExportError(`exportOnnx: metadata key '${k}' is reserved (the 'webmtl.' keys are written by exportOnnx); rename it`);
  }
  return { outputName: name('outputName', 'scores'), batchDim: name('batchDim', 'batch'), opset, metadata };
}

function inputShape(f: Feature, batch: string): Dim[] {
  if (f.kind !== 'sequence') return [batch];
  return [batch, f.maxLen ?? `${f.name}_len`];
}

/** Every parameter and buffer of the model, read back to the host once (any backend). */
async function hostValues(model: Module): Promise<Map<Tensor, Float32Array>> {
  const values = new Map<Tensor, Float32Array>();
  for (const [name, t] of Object.entries(model.stateDict())) {
    const data = await t.data();
    if (!(data instanceof Float32Array)) throw new OnnxExportError(`exportOnnx: '${name}' is ${t.dtype}, expected float32`);
    values.set(t, data);
  }
  return values;
}

/**
 * The model as an ONNX ModelProto (bytes of a .onnx file), computing what model.predict computes:
 * eval mode (BatchNorm with running statistics, folded into the Linear before it; no dropout),
 * whatever mode the model is in. Inputs: one per feature, named after it: sparse ids int64 [batch],
 * sequence ids int64 [batch, maxLen] (or [batch, <name>_len] without maxLen), dense values float32
 * [batch]. Output `outputName` (default 'scores') float32 [batch, nOutputs]. Metadata: 'webmtl.model',
 * 'webmtl.tasks' (JSON [{ name, type }], one per output column), 'webmtl.features' (JSON features).
 * Opset 17 (13 to 17 by `opset`), IR version 8. Throws OnnxExportError for a model or option it cannot
 * export.
 */
export async function exportOnnx(model: MultiTaskModel, opts?: OnnxExportOptions): Promise<Uint8Array> {
  if (!(model instanceof MultiTaskModel))
    throw new OnnxExportError(
      `exportOnnx: expected a multi-task model (SharedBottom, MMoE, OMoE, PLE, ESMM, AITM), got ${model === null ? 'null' : typeof model === 'object' ? (model as object).constructor?.name : typeof model}`,
    );
  const options = resolveOptions(opts);
  const exporter = EXPORTERS.find(([ctor]) => model.constructor === ctor);
  if (!exporter)
    throw new OnnxExportError(
      `exportOnnx: no ONNX graph for ${model.constructor.name}; exportOnnx writes ${EXPORTERS.map(([c]) => c.name).join(', ')} (exactly these classes: a subclass may compute something else). Export the base model, or build the graph yourself`,
    );

  const g = new GraphBuilder(await hostValues(model));
  const inputs = new Map<string, string>();
  for (const f of model.features) {
    inputs.set(
      f.name,
      g.input({
        name: f.name,
        elemType: f.kind === 'dense' ? DataType.FLOAT : DataType.INT64,
        shape: inputShape(f, options.batchDim),
        docString:
          f.kind === 'dense' ? 'dense values' : f.kind === 'sparse' ? `ids in [0, ${f.vocabSize})` : `id sequences, ${f.pooling} pooling`,
      }),
    );
  }
  const outputs = model.taskNames.map((name, i): OnnxTaskInfo => ({ name, type: model.taskTypes[i] }));
  g.declareOutput({
    name: options.outputName,
    elemType: DataType.FLOAT,
    shape: [options.batchDim, outputs.length],
    docString: `one column per task: ${outputs.map((t) => `${t.name} (${t.type === 'classification' ? 'probability' : 'value'})`).join(', ')}`,
  });

  const paths = new Map<Module, string>();
  for (const [path, m] of model.namedModules()) paths.set(m, path);
  const ctx: EmitContext = {
    g,
    path: (m) => {
      const p = paths.get(m);
      if (p === undefined) throw new OnnxExportError(`exportOnnx: a ${m.constructor.name} is not a module of the model`);
      return p;
    },
    inputs,
  };
  g.setOutput(exporter[1](ctx, model));

  const className = model.constructor.name;
  return encodeModel({
    irVersion: IR_VERSION,
    opsetVersion: options.opset,
    producerName: 'webmtl',
    producerVersion: VERSION,
    docString: `${className} exported by webmtl ${VERSION} (eval mode)`,
    graph: { name: className, nodes: g.nodes, initializers: g.initializers, inputs: g.inputs, outputs: g.outputs },
    metadata: {
      'webmtl.model': className,
      'webmtl.tasks': JSON.stringify(outputs),
      'webmtl.features': JSON.stringify(model.features.map(featureToJSON)),
      ...options.metadata,
    },
  });
}
