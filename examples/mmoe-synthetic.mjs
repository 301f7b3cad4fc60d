// The MMoE paper's synthetic experiment (Ma et al., KDD 2018) from the library API: two regression
// tasks with task correlation ρ ∈ {1, 0.9, 0.5}, learned by Shared-Bottom, OMoE and MMoE of about the
// same size (8 experts of 16 units, towers of 8); a table of test loss per model and ρ, and the paper's
// three claims checked on this run.
// Run: npm run build && node examples/mmoe-synthetic.mjs [--seeds 3] [--epochs 10] [--rows 6000] [--report out.html]
// This script trains the runs one after another on one core (about 4–5 minutes with the defaults);
// `npx webmtl experiment mmoe-synthetic` runs the same experiment on two worker threads.
import * as wm from 'webmtl';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
await wm.init({ backend: 'cpu' });

const result = await wm.runMmoeSynthetic({
  seeds: Number(arg('seeds', wm.EXPERIMENT_DEFAULTS.seeds)),
  epochs: Number(arg('epochs', wm.EXPERIMENT_DEFAULTS.epochs)),
  rows: Number(arg('rows', wm.EXPERIMENT_DEFAULTS.rows)),
  onRun: (run, done, total) =>
    console.log(
      `  [${done}/${total}] ${run.model} ρ=${run.correlation} seed ${run.seed}: test MSE ${run.testLoss.toFixed(4)} (${run.seconds.toFixed(1)} s)`,
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
