// GradNorm on the toy of Chen et al. (ICML 2018): two regression tasks f_i(x) = σ_i tanh((B + ε_i) x)
// with σ = (1, 100) on a shared 4-layer ReLU trunk. Equal weights let the σ = 100 task own the trunk;
// GradNorm moves the weight to the σ = 1 task and its normalised loss falls faster.
// Run: node examples/gradnorm-toy.mjs [--steps 600] [--backend cpu]   (about a minute on one CPU core)
// Observed (600 steps, cpu): equal weights leave the σ = 1 task at L/L(0) ≈ 3.0 (it is starved);
// GradNorm ends near w = (1.97, 0.03) with L/L(0) ≈ 1.18.
import * as wm from 'webmtl';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const backend = await wm.init({ backend: arg('backend', 'cpu') });
const STEPS = Number(arg('steps', 600));
const [IN, OUT, HIDDEN, ROWS, BATCH] = [250, 100, 100, 1024, 64]; // the paper's sizes
const SIGMA = [1, 100];

// B ~ N(0, 10), ε_i ~ N(0, 3.5) (variances), x ~ N(0, I).
const rng = new wm.Random(1);
const B = Float32Array.from({ length: OUT * IN }, () => rng.normal() * Math.sqrt(10));
const eps = SIGMA.map(() => Float32Array.from({ length: OUT * IN }, () => rng.normal() * Math.sqrt(3.5)));
const xs = Float32Array.from({ length: ROWS * IN }, () => rng.normal());
const ys = SIGMA.map((sigma, t) => {
  const y = new Float32Array(ROWS * OUT);
  for (let n = 0; n < ROWS; n++) {
    for (let o = 0; o < OUT; o++) {
      let z = 0;
      for (let i = 0; i < IN; i++) z += (B[o * IN + i] + eps[t][o * IN + i]) * xs[n * IN + i];
      y[n * OUT + o] = sigma * Math.tanh(z);
    }
  }
  return y;
});

async function train(strategy) {
  wm.seed(7);
  const trunk = Array.from({ length: 4 }, (_, i) => new wm.Linear(i === 0 ? IN : HIDDEN, HIDDEN));
  const heads = SIGMA.map(() => new wm.Linear(HIDDEN, OUT));
  const shared = trunk.flatMap((layer, i) => layer.namedParameters(`trunk.${i}`));
  const perTask = heads.map((h) => h.parameters());
  const optimizer = new wm.Adam([...shared.map(([, p]) => p), ...perTask.flat()], { lr: 1e-3 });
  strategy.setup?.({ nTask: 2, lr: 1e-3 });
  const first = [];
  let last = [];
  for (let step = 0; step < STEPS; step++) {
    const at = (step * BATCH) % ROWS;
    const { losses: lossValues, weights } = await wm.tidyAsync(async () => {
      const x = wm.fromArray(xs.subarray(at * IN, (at + BATCH) * IN), [BATCH, IN]);
      let h = x;
      for (const layer of trunk) h = wm.relu(layer.forward(h));
      const losses = heads.map((head, t) =>
        wm.mseLoss(head.forward(h), wm.fromArray(ys[t].subarray(at * OUT, (at + BATCH) * OUT), [BATCH, OUT])),
      );
      const values = Array.from(await wm.concat(losses.map((l) => wm.reshape(l, [1]))).data());
      const ctx = wm.makeBalanceContext({
        losses,
        lossValues: values,
        shared: shared.map(([, p]) => p),
        sharedNames: shared.map(([n]) => n),
        perTask,
        step,
      });
      return { losses: values, weights: strategy.backward(ctx).weights };
    });
    optimizer.step();
    optimizer.zeroGrad();
    if (step === 0) first.push(...lossValues);
    last = lossValues;
    if (step % Math.max(1, Math.floor(STEPS / 5)) === 0 || step === STEPS - 1) {
      console.log(
        `  step ${String(step).padStart(5)}  weights ${weights.map((w) => w.toFixed(4)).join(' ')}  L/L(0) ${last.map((l, t) => (l / first[t]).toFixed(3)).join(' ')}`,
      );
    }
  }
  return last.map((l, t) => l / first[t]);
}

console.log(`backend: ${backend}; σ = (${SIGMA.join(', ')}), ${STEPS} steps`);
console.log('equal weights:');
const equal = await train(new wm.FixedWeights({ weights: [1, 1] }));
console.log('GradNorm (α = 0.12):');
const gradnorm = await train(new wm.GradNorm({ alpha: 0.12 }));
console.log(`σ = 1 task, final L/L(0): equal weights ${equal[0].toFixed(3)}, GradNorm ${gradnorm[0].toFixed(3)}`);
