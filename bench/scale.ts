// Scale: one MMoE epoch on generated Ali-CCP-schema CSVs of 2M and 20M rows through the streaming
// path (prepareTable with storage 'disk': two reads of the CSV, a binary columnar cache, then
// BlockShuffleLoader batches), each in its own process so that its peak RSS is its own.
//
// Per size: a cold run (no cache: fit + encode + epoch) and a warm run (the cache reused: epoch only).
// The reference is the in-memory trainer on the 2M table (prepareTable with storage 'memory', a
// DataLoader): its epoch rows/s. Goals (issue #16): peak RSS under 1.5 GB and within 20% between the
// two sizes; end-to-end rows/s of the streamed run at least 80% of the in-memory trainer's.
//
//   node bench/run.mjs scale [--sizes 2000000,20000000] [--dir /tmp/webmtl-bench-data] [--device wasm]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeTable, prepareTable } from '../src/data/ingest.js';
import { schemaFromLists } from '../src/data/schema.js';
import { createModel } from '../src/models/registry.js';
import { MTLTrainer } from '../src/train/trainer.js';
import { machineInfo, numberList, parseFlags, printTable, repoRoot, writeReport } from './common.js';
import { ensureAliCcpCsv, peakRssOf } from './data.js';

interface ChildResult {
  storage: 'memory' | 'disk';
  fromCache: boolean;
  trainRows: number;
  prepareSeconds: number;
  epochSeconds: number;
}

/** One run in this (child) process: prepare the table, train one MMoE epoch, print the timings as JSON. */
export async function child(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv);
  const csv = flags.get('csv')!;
  const storage = flags.get('storage') as 'memory' | 'disk';
  const device = (flags.get('device') ?? 'wasm') as 'wasm' | 'cpu' | 'webgpu';
  const { columns } = await describeTable(csv);
  const label = ['click', 'purchase'];
  const dense = columns.filter((c) => c.name.startsWith('D')).map((c) => c.name);
  const sparse = columns.filter((c) => !label.includes(c.name) && !dense.includes(c.name)).map((c) => c.name);
  const schema = schemaFromLists(columns, { label, sparse, dense });
  const t0 = performance.now();
  const table = await prepareTable(csv, { schema, storage, cacheDir: flags.get('cache-dir'), holdout: [0, 0] });
  const t1 = performance.now();
  const model = createModel('mmoe', table.modelSchema);
  const trainer = new MTLTrainer(model, { nEpoch: 1, optimizerParams: { lr: 1e-3 }, device, progress: 'none', seed: 1 });
  await trainer.fit(table.loaders({ batchSize: 1024, seed: 1 }).train);
  const t2 = performance.now();
  const result: ChildResult = {
    storage,
    fromCache: table.fromCache,
    trainRows: table.rows('train'),
    prepareSeconds: (t1 - t0) / 1000,
    epochSeconds: (t2 - t1) / 1000,
  };
  console.log(`SCALE_RESULT ${JSON.stringify(result)}`);
}

async function runChild(csv: string, storage: 'memory' | 'disk', cacheDir: string, device: string) {
  const bundle = join(repoRoot(), 'node_modules', '.cache', 'webmtl-bench', 'scale.mjs');
  const code = `import(${JSON.stringify(pathToFileURL(bundle).href)}).then((m) => m.child(process.argv.slice(1))).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`;
  const run = await peakRssOf(process.execPath, [
    '--input-type=module',
    '-e',
    code,
    '--',
    '--csv',
    csv,
    '--storage',
    storage,
    '--cache-dir',
    cacheDir,
    '--device',
    device,
  ]);
  const line = run.stdout.split('\n').find((l) => l.startsWith('SCALE_RESULT '));
  if (run.exitCode !== 0 || !line)
    throw new Error(`scale bench: the ${storage} run on ${csv} failed (exit ${run.exitCode}):\n${run.stderr}`);
  return {
    ...(JSON.parse(line.slice('SCALE_RESULT '.length)) as ChildResult),
    peakRssBytes: run.peakRssBytes,
    wallSeconds: run.wallMs / 1000,
  };
}

export async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv);
  if (flags.has('help')) {
    console.log('node bench/run.mjs scale [--sizes 2000000,20000000] [--dir /tmp/webmtl-bench-data] [--device wasm]');
    return;
  }
  const sizes = numberList(flags, 'sizes', [2_000_000, 20_000_000]);
  const dir = flags.get('dir') ?? '/tmp/webmtl-bench-data';
  const device = flags.get('device') ?? 'wasm';
  const runs: (ChildResult & { rows: number; peakRssBytes: number; wallSeconds: number; run: string })[] = [];
  const cacheRoot = mkdtempSync(join(tmpdir(), 'webmtl-scale-'));
  try {
    for (const rows of sizes) {
      const file = await ensureAliCcpCsv(rows, dir);
      const cacheDir = join(cacheRoot, String(rows));
      if (rows === Math.min(...sizes)) runs.push({ run: 'in memory', rows, ...(await runChild(file.path, 'memory', cacheDir, device)) });
      runs.push({ run: 'streamed, cold (no cache)', rows, ...(await runChild(file.path, 'disk', cacheDir, device)) });
      runs.push({ run: 'streamed, warm (cache reused)', rows, ...(await runChild(file.path, 'disk', cacheDir, device)) });
      rmSync(cacheDir, { recursive: true, force: true });
    }
  } finally {
    rmSync(cacheRoot, { recursive: true, force: true });
  }
  // The in-memory trainer (same process layout): its epoch alone, and end to end (its read + its epoch).
  const reference = runs.find((r) => r.run === 'in memory');
  const refEpoch = reference ? reference.trainRows / reference.epochSeconds : NaN;
  const refEndToEnd = reference ? reference.trainRows / (reference.prepareSeconds + reference.epochSeconds) : NaN;
  const table = runs.map((r) => {
    const epochRate = r.trainRows / r.epochSeconds;
    const endToEnd = r.trainRows / (r.prepareSeconds + r.epochSeconds);
    return {
      ...r,
      epochRowsPerSecond: epochRate,
      endToEndRowsPerSecond: endToEnd,
      endToEndVsInMemoryEndToEnd: endToEnd / refEndToEnd,
      endToEndVsInMemoryEpoch: endToEnd / refEpoch,
    };
  });
  printTable(
    [
      { title: 'rows', align: 'right' },
      { title: 'run', align: 'left' },
      { title: 'prepare s', align: 'right' },
      { title: 'epoch s', align: 'right' },
      { title: 'epoch rows/s', align: 'right' },
      { title: 'end-to-end rows/s', align: 'right' },
      { title: '÷ in-memory end to end', align: 'right' },
      { title: '÷ in-memory epoch', align: 'right' },
      { title: 'peak RSS MiB', align: 'right' },
    ],
    table.map((r) => [
      r.rows.toLocaleString('en-US'),
      r.run,
      r.prepareSeconds.toFixed(1),
      r.epochSeconds.toFixed(1),
      Math.round(r.epochRowsPerSecond).toLocaleString('en-US'),
      Math.round(r.endToEndRowsPerSecond).toLocaleString('en-US'),
      r.endToEndVsInMemoryEndToEnd.toFixed(2),
      r.endToEndVsInMemoryEpoch.toFixed(2),
      (r.peakRssBytes / 2 ** 20).toFixed(0),
    ]),
  );
  // Peak RSS of the same kind of run (cold, warm) across the sizes.
  const spreads: Record<string, number> = {};
  for (const kind of ['streamed, cold (no cache)', 'streamed, warm (cache reused)']) {
    const peaks = table.filter((r) => r.run === kind).map((r) => r.peakRssBytes);
    if (peaks.length > 1) spreads[kind] = Math.max(...peaks) / Math.min(...peaks) - 1;
  }
  const streamedPeak = Math.max(...table.filter((r) => r.storage === 'disk').map((r) => r.peakRssBytes));
  console.log(`\nstreamed peak RSS: max ${(streamedPeak / 2 ** 20).toFixed(0)} MiB (goal < 1536)`);
  for (const [kind, spread] of Object.entries(spreads))
    console.log(`  ${kind}: ${(100 * spread).toFixed(0)}% between the smallest and largest table (goal ≤ 20%)`);
  const path = writeReport('scale', device as 'wasm', {
    machine: machineInfo(),
    method:
      'each run in its own Node process under /usr/bin/time -v (peak RSS); prepare = prepareTable (holdout [0, 0]); epoch = MTLTrainer.fit, 1 epoch, MMoE preset, batch 1024, Adam 1e-3; end-to-end = train rows / (prepare + epoch)',
    runs: table,
    peakSpreads: spreads,
  });
  console.log(`results: ${path}`);
}
