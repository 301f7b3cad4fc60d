// Gating micro-benchmark: the softmax gate, the expert mixture, their backwards, the fused
// gate+mixture kernels, and the batched expert matmul, on the raw backend kernels (no autograd,
// no allocation inside the timed region).
//
//   node bench/run.mjs gating            quick subset (default)
//   node bench/run.mjs gating --full     the full sweep, 96 cases (slow without a GPU)
//   node bench/run.mjs gating --help     every flag
//
// Shapes (T tasks, B batch, E experts, H expert width, D expert input width):
//   logits, weights, gLogits [T, B, E]   experts, gExperts [E, B, H]   mix, gMix [T, B, H]
//   expert matmul: x [B, D] · W [E, D, H] → [E, B, H]
import type { Backend, Buffer } from '../src/backend/backend.js';
import {
  adapterLabel,
  type BackendName,
  backendList,
  type DevicePeak,
  findPeak,
  fmtNum,
  fmtPct,
  fmtSamples,
  fmtTime,
  machineInfo,
  measure,
  mismatch,
  numberFlag,
  numberList,
  type OpenedBackend,
  openBackend,
  parseFlags,
  perSecondG,
  printTable,
  randomArray,
  TablePrinter,
  type Timing,
  type TimingOptions,
  timingMethod,
  timingOptions,
  writeReport,
} from './common.js';

const HELP = `bench gating: softmax gate, expert mixture, backwards, fused gateMix kernels, batched expert matmul

  --quick                7 cases, one axis at a time around B=1024 E=8 H=16 T=2 (default)
  --full                 every combination of --batch × --experts × --width × --tasks (96 cases)
  --batch 256,1024,...   batch sizes       (full default 256,1024,4096,16384)
  --experts 4,8,...      expert counts     (full default 4,8,16,32)
  --width 16,64,256      expert widths H   (full default 16,64,256)
  --tasks 2,4            task counts T     (full default 2,4)
  --input-dim 128        D of the expert matmul
  --backend webgpu,cpu   backends to run, in order (default both)
  --variants a,b         only these variants (names as printed)
  --max-buffer-mib 512   skip a variant whose largest buffer is bigger (also capped by the device's binding limit)
  --budget-ms, --sample-ms, --min-samples, --max-samples, --max-iters   timing knobs (see bench/README.md)
  --peak-gbs N --peak-gflops N   device peaks for the %-of-peak columns when the adapter is not in the table
  --no-check             skip the fused-vs-unfused agreement check
  --no-json              do not write bench/results/*.json`;

interface GateCase {
  tasks: number;
  batch: number;
  experts: number;
  hidden: number;
}

const caseLabel = (c: GateCase): string => `B${c.batch} E${c.experts} H${c.hidden} T${c.tasks}`;

/**
 * The quick subset: a centre point and one axis changed at a time, sized so that both backends
 * finish in a few minutes on SwiftShader (a CPU emulation ~100× slower than the CPU backend here).
 */
function quickCases(): GateCase[] {
  const centre: GateCase = { batch: 1024, experts: 8, hidden: 16, tasks: 2 };
  const out: GateCase[] = [centre];
  for (const batch of [256, 4096]) out.push({ ...centre, batch });
  for (const experts of [4, 32]) out.push({ ...centre, experts });
  out.push({ ...centre, hidden: 64 });
  out.push({ ...centre, tasks: 4 });
  return out;
}

function fullCases(flags: Map<string, string>): GateCase[] {
  const out: GateCase[] = [];
  for (const batch of numberList(flags, 'batch', [256, 1024, 4096, 16384]))
    for (const experts of numberList(flags, 'experts', [4, 8, 16, 32]))
      for (const hidden of numberList(flags, 'width', [16, 64, 256]))
        for (const tasks of numberList(flags, 'tasks', [2, 4])) out.push({ batch, experts, hidden, tasks });
  return out;
}

// ---------------------------------------------------------------- work model

/**
 * Minimal traffic (bytes, f32) and FLOPs of each variant's operation. Composed variants are charged
 * the traffic of the operation they implement, not of their intermediates, so their GB/s is an
 * effective bandwidth and the extra memory passes show up as a lower figure.
 *   softmax        FLOP 5·R·C (max, subtract, exp, add, divide per element), R = T·B rows, C = E
 *   mixture        FLOP 2·T·B·E·H (one multiply-add per weight × expert element)
 *   softmax bwd    FLOP 4·T·B·E (g·y, row sum, g − sum, y·(…))
 *   mixture bwd    FLOP 4·T·B·E·H (gExperts and gW, one multiply-add each)
 *   expert matmul  FLOP 2·E·B·D·H
 */
interface Work {
  bytes: number;
  flops: number;
}

function work(variant: string, c: GateCase, inputDim: number): Work {
  const { tasks: T, batch: B, experts: E, hidden: H } = c;
  const tbe = T * B * E;
  const ebh = E * B * H;
  const tbh = T * B * H;
  const f = 4; // bytes per f32
  switch (variant) {
    case 'gate.softmax':
      return { bytes: f * 2 * tbe, flops: 5 * tbe };
    case 'mix.bcast':
    case 'mix.bmm':
      return { bytes: f * (tbe + ebh + tbh), flops: 2 * tbe * H };
    case 'fwd.unfused':
    case 'fwd.fused':
      return { bytes: f * (2 * tbe + ebh + tbh), flops: 2 * tbe * H + 5 * tbe };
    case 'gate.softmax.bwd':
      return { bytes: f * 3 * tbe, flops: 4 * tbe };
    case 'mix.bwd':
      return { bytes: f * (2 * tbe + tbh + 2 * ebh), flops: 4 * tbe * H };
    case 'bwd.unfused':
    case 'bwd.fused':
      return { bytes: f * (2 * tbe + tbh + 2 * ebh), flops: 4 * tbe * H + 4 * tbe };
    case 'experts.mm':
      return { bytes: f * (B * inputDim + E * inputDim * H + ebh), flops: 2 * E * B * inputDim * H };
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

const VARIANTS: Array<{ name: string; what: string }> = [
  { name: 'gate.softmax', what: 'softmax over experts: backend.softmax, rows T·B' },
  { name: 'mix.bcast', what: 'mixture as broadcast mul [T,B,E,H] + reduce sum over E (2 kernels)' },
  { name: 'mix.bmm', what: 'mixture as batched matmul per row b, with the permutes it needs (3 copies + matmul)' },
  { name: 'fwd.unfused', what: 'gate.softmax + mix.bcast (3 kernels)' },
  { name: 'fwd.fused', what: 'backend.gateMixForward (1 kernel)' },
  { name: 'gate.softmax.bwd', what: 'softmax backward composed as in ops.softmax: y·(g − Σ g·y) (4 kernels)' },
  { name: 'mix.bwd', what: 'gExperts = Σ_t w·gMix and gW = Σ_h gMix·experts, each broadcast mul + reduce (4 kernels)' },
  { name: 'bwd.unfused', what: 'mix.bwd + gate.softmax.bwd on gW (8 kernels)' },
  { name: 'bwd.fused', what: 'backend.gateMixBackward (1 kernel)' },
  { name: 'experts.mm', what: 'x [B,D] · W [E,D,H] → [E,B,H]: backend.matmul batch E, aBatchStride 0' },
];

// ---------------------------------------------------------------- one case on one backend

interface CaseBuffers {
  logits: Buffer;
  experts: Buffer;
  weights: Buffer;
  mix: Buffer;
  gMix: Buffer;
  gLogits: Buffer;
  gExperts: Buffer;
  // unfused outputs and intermediates
  weightsU: Buffer;
  mixU: Buffer;
  gLogitsU: Buffer;
  gExpertsU: Buffer;
  gW: Buffer;
  rowTmp: Buffer;
  rowSum: Buffer;
  big: Buffer | null;
  expertsT: Buffer;
  weightsT: Buffer;
  mixT: Buffer;
  mixB: Buffer;
  x: Buffer;
  w: Buffer;
  expertOut: Buffer;
}

/** Element counts of every buffer a case needs, so oversized cases can be skipped before allocating. */
function bufferSizes(c: GateCase, inputDim: number): Record<keyof CaseBuffers, number> {
  const { tasks: T, batch: B, experts: E, hidden: H } = c;
  const tbe = T * B * E;
  const ebh = E * B * H;
  const tbh = T * B * H;
  return {
    logits: tbe,
    experts: ebh,
    weights: tbe,
    mix: tbh,
    gMix: tbh,
    gLogits: tbe,
    gExperts: ebh,
    weightsU: tbe,
    mixU: tbh,
    gLogitsU: tbe,
    gExpertsU: ebh,
    gW: tbe,
    rowTmp: tbe,
    rowSum: T * B,
    big: tbe * H,
    expertsT: ebh,
    weightsT: tbe,
    mixT: tbh,
    mixB: tbh,
    x: B * inputDim,
    w: E * inputDim * H,
    expertOut: ebh,
  };
}

/** The buffers each variant touches (for the size cap). */
const VARIANT_BUFFERS: Record<string, Array<keyof CaseBuffers>> = {
  'gate.softmax': ['logits', 'weightsU'],
  'mix.bcast': ['weights', 'experts', 'big', 'mixU'],
  'mix.bmm': ['weights', 'experts', 'expertsT', 'weightsT', 'mixT', 'mixB'],
  'fwd.unfused': ['logits', 'weightsU', 'experts', 'big', 'mixU'],
  'fwd.fused': ['logits', 'experts', 'mix', 'weights'],
  'gate.softmax.bwd': ['weights', 'gW', 'rowTmp', 'rowSum', 'gLogitsU'],
  'mix.bwd': ['weights', 'gMix', 'experts', 'big', 'gExpertsU', 'gW'],
  'bwd.unfused': ['weights', 'gMix', 'experts', 'big', 'gExpertsU', 'gW', 'rowTmp', 'rowSum', 'gLogitsU'],
  'bwd.fused': ['weights', 'experts', 'gMix', 'gLogits', 'gExperts'],
  'experts.mm': ['x', 'w', 'expertOut'],
};

/** Enqueues the named variant (kernels only; every buffer is allocated beforehand). */
function variantRunner(k: Backend, name: string, c: GateCase, b: CaseBuffers, inputDim: number): () => void {
  const { tasks: T, batch: B, experts: E, hidden: H } = c;
  const shape = { tasks: T, batch: B, experts: E, hidden: H };
  const rows = T * B;

  const softmaxFwd = (): void => k.softmax(b.logits, b.weightsU, rows, E, false);
  // mix[t,b,h] = Σ_e w[t,b,e]·x[e,b,h]: product over [T, B, E, H], then sum over E.
  const mixBcast = (weights: Buffer, out: Buffer): void => {
    k.binary('mul', weights, b.experts, b.big!, [T, B, E, H], [B * E, E, 1, 0], [0, H, B * H, 1]);
    k.reduce('sum', b.big!, out, rows, E, H);
  };
  // Softmax backward from the saved weights y and the incoming gradient g = gW (both [rows, E]).
  const softmaxBwd = (): void => {
    k.binary('mul', b.gW, b.weights, b.rowTmp, [rows, E], [E, 1], [E, 1]);
    k.reduce('sum', b.rowTmp, b.rowSum, rows, E, 1);
    k.binary('sub', b.gW, b.rowSum, b.rowTmp, [rows, E], [E, 1], [1, 0]);
    k.binary('mul', b.weights, b.rowTmp, b.gLogitsU, [rows, E], [E, 1], [E, 1]);
  };
  const mixBwd = (): void => {
    // gExperts[e,b,h] = Σ_t w[t,b,e]·gMix[t,b,h]: product over [T, E, B, H], then sum over T.
    k.binary('mul', b.weights, b.gMix, b.big!, [T, E, B, H], [B * E, 1, E, 0], [B * H, 0, H, 1]);
    k.reduce('sum', b.big!, b.gExpertsU, 1, T, E * B * H);
    // gW[t,b,e] = Σ_h gMix[t,b,h]·x[e,b,h]: product over [T, B, E, H], then sum over H.
    k.binary('mul', b.gMix, b.experts, b.big!, [T, B, E, H], [B * H, H, 0, 1], [0, H, B * H, 1]);
    k.reduce('sum', b.big!, b.gW, rows * E, H, 1);
  };

  switch (name) {
    case 'gate.softmax':
      return softmaxFwd;
    case 'mix.bcast':
      return () => mixBcast(b.weights, b.mixU);
    case 'mix.bmm':
      return () => {
        k.copy(b.experts, b.expertsT, [B, E, H], 0, [H, B * H, 1], 0, [E * H, H, 1]);
        k.copy(b.weights, b.weightsT, [B, T, E], 0, [E, B * E, 1], 0, [T * E, E, 1]);
        k.matmul(b.weightsT, b.expertsT, b.mixT, {
          batch: B,
          m: T,
          n: H,
          k: E,
          transA: false,
          transB: false,
          aBatchStride: T * E,
          bBatchStride: E * H,
        });
        k.copy(b.mixT, b.mixB, [T, B, H], 0, [H, T * H, 1], 0, [B * H, H, 1]);
      };
    case 'fwd.unfused':
      return () => {
        softmaxFwd();
        mixBcast(b.weightsU, b.mixU);
      };
    case 'fwd.fused':
      return () => k.gateMixForward!(b.logits, b.experts, b.mix, b.weights, shape);
    case 'gate.softmax.bwd':
      return softmaxBwd;
    case 'mix.bwd':
      return mixBwd;
    case 'bwd.unfused':
      return () => {
        mixBwd();
        softmaxBwd();
      };
    case 'bwd.fused':
      return () => k.gateMixBackward!(b.weights, b.experts, b.gMix, b.gLogits, b.gExperts, shape);
    case 'experts.mm':
      return () =>
        k.matmul(b.x, b.w, b.expertOut, {
          batch: E,
          m: B,
          n: H,
          k: inputDim,
          transA: false,
          transB: false,
          aBatchStride: 0,
          bBatchStride: inputDim * H,
        });
    default:
      throw new Error(`unknown variant ${name}`);
  }
}

interface VariantResult {
  variant: string;
  skipped?: string;
  timing?: Timing;
  gbs?: number;
  gflops?: number;
  pctBandwidth?: number | null;
  pctFlops?: number | null;
  bytes: number;
  flops: number;
  /** On an experts.mm result copied from another task count: "T=<tasks it was measured at>". */
  reusedFrom?: string;
  tasks?: number;
}

interface CaseResult {
  case: GateCase;
  label: string;
  /** Largest normalised fused-vs-unfused difference per compared output (≤ 1 agrees). */
  check: Record<string, number> | null;
  variants: VariantResult[];
}

async function readF32(k: Backend, buf: Buffer): Promise<Float32Array> {
  return (await k.read(buf)) as Float32Array;
}

/**
 * Compares what the timed composed variants left in their output buffers with the fused kernels'
 * outputs (mix and weights forward; gLogits and gExperts backward). Inputs never change, so every
 * run of a variant writes the same values; a fused kernel that was not timed runs once here.
 */
async function checkCase(
  k: Backend,
  c: GateCase,
  b: CaseBuffers,
  inputDim: number,
  timed: Set<string>,
): Promise<Record<string, number> | null> {
  const ensure = (name: string): void => {
    if (!timed.has(name)) variantRunner(k, name, c, b, inputDim)();
  };
  const out: Record<string, number> = {};
  if (timed.has('fwd.unfused') || timed.has('mix.bmm')) {
    ensure('fwd.fused');
    const mix = await readF32(k, b.mix);
    if (timed.has('fwd.unfused')) {
      out['fwd.unfused mix'] = mismatch(await readF32(k, b.mixU), mix);
      out['fwd.unfused weights'] = mismatch(await readF32(k, b.weightsU), await readF32(k, b.weights));
    }
    if (timed.has('mix.bmm')) out['mix.bmm mix'] = mismatch(await readF32(k, b.mixB), mix);
  }
  if (timed.has('bwd.unfused')) {
    ensure('bwd.fused');
    out['bwd.unfused gLogits'] = mismatch(await readF32(k, b.gLogitsU), await readF32(k, b.gLogits));
    out['bwd.unfused gExperts'] = mismatch(await readF32(k, b.gExpertsU), await readF32(k, b.gExperts));
  }
  return Object.keys(out).length > 0 ? out : null;
}

async function runCase(
  opened: OpenedBackend,
  c: GateCase,
  inputDim: number,
  variants: string[],
  capBytes: number,
  timing: TimingOptions,
  peak: DevicePeak | null,
  doCheck: boolean,
  /** experts.mm does not depend on T: results by "B,E,H", reused across task counts. */
  expertMatmuls: Map<string, VariantResult>,
  onRow: (r: VariantResult) => void,
): Promise<CaseResult> {
  const k = opened.backend;
  const sizes = bufferSizes(c, inputDim);
  const limit = Math.min(capBytes, opened.maxBindingBytes);
  const tooBig = (name: string): string | null => {
    const worst = Math.max(...VARIANT_BUFFERS[name].map((key) => sizes[key]));
    return worst * 4 > limit
      ? `a ${((worst * 4) / 2 ** 20).toFixed(0)} MiB buffer is over the ${(limit / 2 ** 20).toFixed(0)} MiB cap`
      : null;
  };
  const runnable = new Set(variants.filter((v) => tooBig(v) === null));

  // Allocate only what the runnable variants use; the rest get a 1-element placeholder.
  const used = new Set<keyof CaseBuffers>();
  for (const v of runnable) for (const key of VARIANT_BUFFERS[v]) used.add(key);
  if (doCheck)
    for (const key of VARIANT_BUFFERS['fwd.fused'].concat(VARIANT_BUFFERS['bwd.fused'])) if (sizes[key] * 4 <= limit) used.add(key);
  const all: Buffer[] = [];
  const alloc = (key: keyof CaseBuffers): Buffer => {
    const buf = k.alloc(used.has(key) ? sizes[key] : 1, 'f32');
    all.push(buf);
    return buf;
  };
  const keys = Object.keys(sizes) as Array<keyof CaseBuffers>;
  const b = Object.fromEntries(keys.map((key) => [key, alloc(key)])) as unknown as CaseBuffers;
  if (!used.has('big')) b.big = null;

  // Inputs: logits in [-3, 3) so the softmax is not flat; weights are a real softmax of them.
  let seed = 1;
  const fill = (key: keyof CaseBuffers, lo = -1, hi = 1): void => {
    if (used.has(key)) k.write(b[key]!, randomArray(sizes[key], seed++, lo, hi));
  };
  fill('logits', -3, 3);
  fill('experts');
  fill('gMix');
  fill('x');
  fill('w');
  if (used.has('weights')) k.softmax(b.logits, b.weights, c.tasks * c.batch, c.experts, false);

  const results: VariantResult[] = [];
  for (const name of variants) {
    const w = work(name, c, inputDim);
    const skipped = tooBig(name);
    if (skipped) {
      const r: VariantResult = { variant: name, skipped, ...w };
      results.push(r);
      onRow(r);
      continue;
    }
    const mmKey = `${c.batch},${c.experts},${c.hidden}`;
    const earlier = name === 'experts.mm' ? expertMatmuls.get(mmKey) : undefined;
    if (earlier) {
      const r: VariantResult = { ...earlier, reusedFrom: `T=${earlier.tasks}` };
      results.push(r);
      onRow(r);
      continue;
    }
    const t = await measure(k, variantRunner(k, name, c, b, inputDim), timing);
    const gbs = perSecondG(w.bytes, t.medianMs);
    const gflops = perSecondG(w.flops, t.medianMs);
    const r: VariantResult = {
      variant: name,
      timing: t,
      gbs,
      gflops,
      pctBandwidth: peak ? gbs / peak.bandwidthGBs : null,
      pctFlops: peak ? gflops / peak.fp32GFLOPs : null,
      ...w,
    };
    if (name === 'experts.mm') expertMatmuls.set(mmKey, { ...r, tasks: c.tasks });
    results.push(r);
    onRow(r);
  }
  const fusedFits = tooBig('fwd.fused') === null && tooBig('bwd.fused') === null;
  const timed = new Set(results.filter((r) => r.timing).map((r) => r.variant));
  const check = doCheck && fusedFits ? await checkCase(k, c, b, inputDim, timed) : null;
  await k.sync();
  for (const buf of all) k.free(buf);
  return { case: c, label: caseLabel(c), check, variants: results };
}

// ---------------------------------------------------------------- main

export async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv);
  if (flags.has('help')) {
    console.log(HELP);
    return;
  }
  const full = flags.has('full');
  const explicitAxes = ['batch', 'experts', 'width', 'tasks'].some((a) => flags.has(a));
  const cases = full || explicitAxes ? fullCases(flags) : quickCases();
  const inputDim = numberFlag(flags, 'input-dim', 128);
  const timing = timingOptions(flags, full);
  const capBytes = numberFlag(flags, 'max-buffer-mib', 512) * 2 ** 20;
  const doCheck = !flags.has('no-check');
  const wanted = flags
    .get('variants')
    ?.split(',')
    .map((s) => s.trim());
  for (const v of wanted ?? [])
    if (!VARIANTS.some((x) => x.name === v)) throw new Error(`--variants: unknown '${v}'; use ${VARIANTS.map((x) => x.name).join(', ')}`);
  const variants = VARIANTS.map((v) => v.name).filter((v) => !wanted || wanted.includes(v));
  const mode = full ? 'full' : explicitAxes ? 'custom' : 'quick';

  console.log(`bench gating (${mode}): ${cases.length} cases × ${variants.length} variants; expert matmul D = ${inputDim}`);
  console.log('variants:');
  for (const v of VARIANTS) if (variants.includes(v.name)) console.log(`  ${v.name.padEnd(17)} ${v.what}`);
  console.log(
    `timing: median of samples; budget ${timing.budgetMs} ms per variant, ≥${timing.minSamples} samples of ~${timing.sampleMs} ms each`,
  );
  console.log(
    'GB/s: minimal bytes of the operation (inputs read once, outputs written once) / median time; composed variants get the same numerator',
  );
  console.log('machine:', JSON.stringify(machineInfo()));

  const summary = new Map<string, Map<BackendName, CaseResult>>();
  for (const backendName of backendList(flags)) {
    const opened = await openBackend(backendName);
    const peak = findPeak(opened.adapter, flags);
    console.log(`\n== ${backendName}: ${adapterLabel(opened.adapter)}`);
    console.log(`   timing method: ${timingMethod(opened)}`);
    console.log(
      `   peak: ${peak ? `${peak.name}, ${peak.bandwidthGBs} GB/s, ${peak.fp32GFLOPs} GFLOP/s FP32` : 'unknown (no %-of-peak columns)'}`,
    );
    const table = new TablePrinter(
      [
        { title: 'case', align: 'left' },
        { title: 'variant', align: 'left' },
        { title: 'median' },
        { title: 'min' },
        { title: 'GB/s' },
        { title: 'GFLOP/s' },
        { title: '%BW' },
        { title: '%FLOP' },
        { title: 'n' },
      ],
      [22, 16, 9, 9, 8, 8, 6, 6, 7],
    );
    console.log(table.header());
    const caseResults: CaseResult[] = [];
    const expertMatmuls = new Map<string, VariantResult>();
    const started = performance.now();
    for (const c of cases) {
      const label = caseLabel(c);
      const res = await runCase(opened, c, inputDim, variants, capBytes, timing, peak, doCheck, expertMatmuls, (r) => {
        const t = r.timing;
        console.log(
          table.row(
            t
              ? [
                  label,
                  r.variant,
                  fmtTime(t.medianMs),
                  fmtTime(t.minMs),
                  fmtNum(r.gbs ?? null),
                  fmtNum(r.gflops ?? null),
                  fmtPct(r.pctBandwidth ?? null),
                  fmtPct(r.pctFlops ?? null),
                  fmtSamples(t),
                ]
              : [label, r.variant, 'skipped', '', '', '', '', '', ''],
          ),
        );
        if (r.skipped) console.log(`    (${r.skipped})`);
        if (r.reusedFrom) console.log(`    (copied from ${r.reusedFrom}: experts.mm does not depend on T)`);
      });
      if (res.check) {
        const bad = Object.entries(res.check).filter(([, v]) => !(v <= 1));
        const n = Object.keys(res.check).length;
        console.log(
          bad.length
            ? `    CHECK FAILED: ${bad.map(([k, v]) => `${k} off by ${fmtNum(v)}× tolerance`).join('; ')}`
            : `    check: ${n} unfused outputs agree with the fused kernels (within 1e-4 + 1e-3·|x|)`,
        );
        if (bad.length) process.exitCode = 1;
      }
      caseResults.push(res);
      let row = summary.get(label);
      if (!row) summary.set(label, (row = new Map()));
      row.set(backendName, res);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`   ${backendName}: ${cases.length} cases in ${seconds.toFixed(1)} s`);

    if (!flags.has('no-json')) {
      const path = writeReport('gating', backendName, {
        bench: 'gating',
        mode,
        date: new Date().toISOString(),
        backend: backendName,
        adapter: opened.adapter,
        machine: machineInfo(),
        peak,
        timingMethod: timingMethod(opened),
        timing,
        inputDim,
        units: { time: 'ms per run (median over samples)', gbs: '1e9 bytes/s of minimal traffic', gflops: '1e9 FLOP/s' },
        formulas: {
          'gate.softmax': 'bytes 4·2·TBE, FLOP 5·TBE',
          'mix.*': 'bytes 4·(TBE + EBH + TBH), FLOP 2·TBEH',
          'fwd.*': 'bytes 4·(2·TBE + EBH + TBH), FLOP 2·TBEH + 5·TBE',
          'gate.softmax.bwd': 'bytes 4·3·TBE, FLOP 4·TBE',
          'mix.bwd': 'bytes 4·(2·TBE + TBH + 2·EBH), FLOP 4·TBEH',
          'bwd.*': 'bytes 4·(2·TBE + TBH + 2·EBH), FLOP 4·TBEH + 4·TBE',
          'experts.mm': 'bytes 4·(BD + EDH + EBH), FLOP 2·EBDH',
        },
        seconds,
        cases: caseResults,
      });
      console.log(`   wrote ${path}`);
    }
    opened.close();
  }

  printSummary(summary);
}

/** Fused vs unfused per backend, and WebGPU vs CPU on the fused kernels. */
function printSummary(summary: Map<string, Map<BackendName, CaseResult>>): void {
  const ms = (r: CaseResult | undefined, v: string): number => r?.variants.find((x) => x.variant === v)?.timing?.medianMs ?? NaN;
  const ratio = (a: number, b: number): string => {
    if (!Number.isFinite(a) || !Number.isFinite(b)) return '-';
    const r = a / b;
    return `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
  };
  const rows: string[][] = [];
  for (const [label, byBackend] of summary) {
    for (const [name, r] of byBackend) {
      const fwdF = ms(r, 'fwd.fused');
      const fwdU = ms(r, 'fwd.unfused');
      const bwdF = ms(r, 'bwd.fused');
      const bwdU = ms(r, 'bwd.unfused');
      const bmm = ms(r, 'mix.bmm');
      const bcast = ms(r, 'mix.bcast');
      const cpu = byBackend.get('cpu');
      const gpuVsCpu = name === 'webgpu' && cpu ? `${ratio(ms(cpu, 'fwd.fused'), fwdF)} / ${ratio(ms(cpu, 'bwd.fused'), bwdF)}` : '';
      rows.push([
        label,
        name,
        fmtTime(fwdF),
        fmtTime(fwdU),
        ratio(fwdU, fwdF),
        fmtTime(bwdF),
        fmtTime(bwdU),
        ratio(bwdU, bwdF),
        ratio(bmm, bcast),
        gpuVsCpu,
      ]);
    }
  }
  console.log('\nsummary (medians; "fused ×" = unfused time / fused time, >1 means the fused kernel wins)');
  printTable(
    [
      { title: 'case', align: 'left' },
      { title: 'backend', align: 'left' },
      { title: 'fwd fused' },
      { title: 'fwd unfused' },
      { title: 'fused ×' },
      { title: 'bwd fused' },
      { title: 'bwd unfused' },
      { title: 'fused ×' },
      { title: 'bmm/bcast' },
      { title: 'cpu/gpu fwd / bwd' },
    ],
    rows,
  );
}
