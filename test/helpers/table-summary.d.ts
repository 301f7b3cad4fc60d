import type { PreparedTable } from '../../src/data/ingest.js';

/** What a page sends back of a PreparedTable: rows, vocabularies and every split's cells as plain arrays. */
export interface TableSummary {
  storage: string;
  rows: Record<string, number>;
  vocabSizes: Record<string, number>;
  sparseColumns: string[];
  denseColumns: string[];
  splits: Record<string, { labels: number[]; columns: Record<string, number[]> }>;
}

export function summarizeTable(t: PreparedTable): TableSummary;
