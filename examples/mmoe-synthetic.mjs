// The MMoE paper's synthetic experiment (Ma et al., KDD 2018) from the library API: two regression
// tasks with task correlation ρ ∈ {1, 0.9, 0.5}, learned by Shared-Bottom, OMoE and MMoE of about the
// same size (8 experts of 16 units, towers of 8), many runs each; the training loss over steps per
// model and ρ, the final-loss spread, and the paper's claims checked with 95% intervals.
// Run: npm run build && node examples/mmoe-synthetic.mjs [--runs 10] [--epochs 4] [--rows 10000] [--report out.html]
// This script trains the runs one after another on one core (the CPU backend, slower than wasm);
// `npx webmtl experiment mmoe-synthetic` runs the same experiment on two worker threads.
import * as wm from 'webmtl';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
await wm.init({ backend: 'cpu' });

const result = await wm.runMmoeSynthetic({
  runs: Number(arg('runs', 10)),
  epochs: Number(arg('epochs', wm.EXPERIMENT_DEFAULTS.epochs)),
  rows: Number(arg('rows', wm.EXPERIMENT_DEFAULTS.rows)),
  onRun: (run, done, total) =>
    console.log(
      `  [${done}/${total}] ${run.model} ρ=${run.correlation} run ${run.seed}: last training loss ${run.curve.at(-1).toFixed(4)}, test MSE ${run.testLoss.toFixed(4)} (${run.seconds.toFixed(1)} s)`,
    ),
});
console.log(wm.formatTable(result));
const claims = wm.checkClaims(result);
console.log(wm.formatClaims(claims));

const report = arg('report');
if (report) {
  await wm.writeReport(report, wm.renderExperimentReport({ result, claims }));
  console.log(`report: ${report}`);
}
