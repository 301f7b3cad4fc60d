// A small MLP regressor trained with plain SGD on synthetic data: the engine end to end.
// Run: npm run example:mlp            (or: node examples/train-mlp.mjs --backend cpu)
import * as wm from 'webmtl';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const backend = await wm.init({ backend: arg('backend', 'auto') });
console.log(`backend: ${backend}`);

// y = sin(x·a) + 0.5·(x·b)²  on x ∈ R^8, 512 rows
const rows = 512;
const dim = 8;
const rng = new wm.Random(1);
const xs = Float32Array.from({ length: rows * dim }, () => rng.normal());
const a = Array.from({ length: dim }, () => rng.normal() / Math.sqrt(dim));
const b = Array.from({ length: dim }, () => rng.normal() / Math.sqrt(dim));
const ys = new Float32Array(rows);
for (let i = 0; i < rows; i++) {
  let pa = 0;
  let pb = 0;
  for (let d = 0; d < dim; d++) {
    pa += xs[i * dim + d] * a[d];
    pb += xs[i * dim + d] * b[d];
  }
  ys[i] = Math.sin(pa) + 0.5 * pb * pb;
}
const x = wm.keep(wm.fromArray(xs, [rows, dim]));
const y = wm.keep(wm.fromArray(ys, [rows, 1]));

wm.seed(7);
const model = new wm.MLP(dim, { dims: [32, 16], activation: 'relu', outputLayer: true });
const lr = 0.05;
for (let step = 0; step <= 200; step++) {
  const loss = await wm.tidyAsync(async () => {
    const loss = wm.mseLoss(model.forward(x), y);
    loss.backward();
    wm.noGrad(() => {
      for (const p of model.parameters()) {
        wm.assign(p, wm.sub(p, wm.mul(p.grad, lr)));
        p.zeroGrad();
      }
    });
    return step % 25 === 0 ? await loss.item() : null;
  });
  if (loss !== null) console.log(`step ${String(step).padStart(3)}  mse ${loss.toFixed(4)}`);
}
