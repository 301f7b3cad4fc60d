// What the browser tests compare of a prepared table: the storage, row counts, vocabularies and every
// split's cells as plain arrays. Plain JavaScript, so that the Node side imports it and a page loads
// the same file from the test server (a function cannot be handed into a page).

/**
 * @param {import('../../src/data/ingest.js').PreparedTable} t a table whose splits are in memory
 * @returns {import('./table-summary.js').TableSummary}
 */
export function summarizeTable(t) {
  const splits = {};
  for (const s of ['train', 'val', 'test']) {
    const d = t.splits[s];
    splits[s] = {
      labels: Array.from(d.labels),
      columns: Object.fromEntries(Object.entries(d.columns).map(([k, v]) => [k, Array.from(v)])),
    };
  }
  const ms = t.modelSchema;
  return {
    storage: t.storage,
    rows: { train: t.rows('train'), val: t.rows('val'), test: t.rows('test') },
    vocabSizes: ms.vocabSizes,
    sparseColumns: ms.sparseColumns,
    denseColumns: ms.denseColumns,
    splits,
  };
}
