// The census-shaped raw table generator: deterministic, the promised shape, CSV that parses back to
// the same cells, the asked missing rates, and labels a model can learn (oracle AUC).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { rocAuc } from '../src/data/auc.js';
import { DataError } from '../src/data/errors.js';
import { generateRawTable, RAW_MISSING, rawTableCsvText, rawTableLayout, writeRawTableCsv } from '../src/data/synthetic-raw.js';

describe('generateRawTable', () => {
  const table = generateRawTable({ rows: 20_000, seed: 7 });

  it('is deterministic for a seed, differs across seeds, and windows of one stream join', () => {
    const again = generateRawTable({ rows: 20_000, seed: 7 });
    expect(again.columns).toEqual(table.columns);
    const other = generateRawTable({ rows: 200, seed: 8 });
    expect(other.columns.age).not.toEqual(table.columns.age.slice(0, 200));
    const window = generateRawTable({ rows: 100, seed: 7, firstRow: 1000 });
    for (const name of table.header) expect(window.columns[name]).toEqual(table.columns[name].slice(1000, 1100));
  });

  it('has 32 string columns, 7 numeric columns and two 0/1 labels', () => {
    expect(table.header).toHaveLength(41);
    expect(table.stringColumns).toHaveLength(32);
    expect(table.numericColumns).toHaveLength(7);
    expect(table.labelColumns).toEqual(['income_50k', 'never_married']);
    expect(new Set([...table.stringColumns, ...table.numericColumns, ...table.labelColumns])).toEqual(new Set(table.header));
    expect(table.numericColumns.filter((n) => table.types[n] === 'float')).toEqual(['wage per hour']);
    expect(rawTableLayout().header).toEqual(table.header);
    for (const name of table.header) expect(table.columns[name]).toHaveLength(20_000);
    for (const name of table.stringColumns) {
      expect(table.types[name]).toBe('string');
      const values = new Set(table.columns[name]);
      expect(values.size, name).toBeGreaterThan(1);
      // Categories are text, never numbers, so schema inference keeps them as strings.
      for (const v of values) expect(typeof v === 'string' && v.length > 0 && Number.isNaN(Number(v)), `${name}: ${v}`).toBe(true);
    }
    for (const name of table.numericColumns) {
      expect(
        table.columns[name].every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0),
        name,
      ).toBe(true);
      if (table.types[name] === 'int')
        expect(
          table.columns[name].every((v) => Number.isInteger(v)),
          name,
        ).toBe(true);
    }
    for (const name of table.labelColumns) expect(new Set(table.columns[name])).toEqual(new Set([0, 1]));
    // A long tail: some countries of birth are rare.
    const counts = new Map<unknown, number>();
    for (const v of table.columns['country of birth self']) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect(counts.size).toBeGreaterThan(25);
    expect([...counts.values()].filter((c) => c < 20).length).toBeGreaterThan(5);
  });

  it('writes CSV whose quoting round-trips through papaparse', () => {
    const small = generateRawTable({ rows: 3000, seed: 3, numericMissingRate: 0.05 });
    const text = rawTableCsvText(small);
    expect(text).toContain('"Bachelors degree (BA, AB, BS)"');
    expect(text).toContain('"Supervisors, ""working foremen"""');
    const parsed = Papa.parse<string[]>(text, { skipEmptyLines: true });
    expect(parsed.errors).toEqual([]);
    const [header, ...rows] = parsed.data;
    expect(header).toEqual(small.header);
    expect(rows).toHaveLength(3000);
    const asText = (v: string | number | null, name: string) =>
      v === null ? '' : typeof v === 'number' && small.types[name] === 'float' && Number.isInteger(v) ? `${v}.0` : String(v);
    for (let r = 0; r < rows.length; r++) {
      for (let c = 0; c < header.length; c++) {
        const name = header[c];
        if (rows[r][c] !== asText(small.columns[name][r], name)) throw new Error(`row ${r} column ${name}: ${rows[r][c]}`);
      }
    }
    expect(small.columns['wage per hour'].some((v) => typeof v === 'number' && !Number.isInteger(v))).toBe(true);
  });

  it('marks about missingRate of the string cells "?" and numericMissingRate of the numbers empty', () => {
    expect(table.oracle.missingShare).toBeGreaterThan(0.017);
    expect(table.oracle.missingShare).toBeLessThan(0.023);
    const heavy = generateRawTable({ rows: 5000, seed: 1, missingRate: 0.1, numericMissingRate: 0.05 });
    let missing = 0;
    for (const name of heavy.stringColumns) for (const v of heavy.columns[name]) if (v === RAW_MISSING) missing++;
    expect(missing / (5000 * 32)).toBeCloseTo(0.1, 1);
    expect(heavy.oracle.missingShare).toBeCloseTo(missing / (5000 * 32), 10);
    let empty = 0;
    for (const name of heavy.numericColumns) for (const v of heavy.columns[name]) if (v === null) empty++;
    expect(empty / (5000 * 6)).toBeGreaterThan(0.04);
    expect(empty / (5000 * 6)).toBeLessThan(0.06);
    expect(heavy.columns.age.every((v) => v !== null)).toBe(true);
    const none = generateRawTable({ rows: 2000, seed: 1, missingRate: 0 });
    for (const name of none.stringColumns) expect(none.columns[name]).not.toContain(RAW_MISSING);
  });

  it('plants signal: the true probabilities rank the labels well above chance', () => {
    const income = Float64Array.from(table.columns.income_50k as number[]);
    const never = Float64Array.from(table.columns.never_married as number[]);
    const incomeAuc = rocAuc(income, table.truth.income_50k);
    const neverAuc = rocAuc(never, table.truth.never_married);
    expect(incomeAuc).toBeGreaterThan(0.7);
    expect(neverAuc).toBeGreaterThan(0.7);
    expect(table.oracle.income50kAuc).toBeCloseTo(incomeAuc, 12);
    expect(table.oracle.neverMarriedAuc).toBeCloseTo(neverAuc, 12);
    // Rates near the census': about 6% earn over 50k, about 43% never married.
    expect(table.oracle.income50kRate).toBeGreaterThan(0.045);
    expect(table.oracle.income50kRate).toBeLessThan(0.08);
    expect(table.oracle.neverMarriedRate).toBeGreaterThan(0.39);
    expect(table.oracle.neverMarriedRate).toBeLessThan(0.47);
  });

  it('rejects bad options with a DataError', () => {
    expect(() => generateRawTable({ rows: -1, seed: 1 })).toThrow(DataError);
    expect(() => generateRawTable({ rows: 10, seed: 1, missingRate: 1 })).toThrow(/missingRate/);
    expect(() => generateRawTable({ rows: 10, seed: 1, missingrate: 0.1 } as never)).toThrow(
      /unknown option 'missingrate' \(did you mean 'missingRate'\?\)/,
    );
  });
});

describe('writeRawTableCsv', () => {
  it('streams in chunks the same bytes as rawTableCsvText', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-raw-'));
    try {
      const path = join(dir, 'raw.csv');
      const options = { rows: 2500, seed: 11, missingRate: 0.05, numericMissingRate: 0.02 };
      const written = await writeRawTableCsv(path, { ...options, chunkRows: 700 });
      const bytes = readFileSync(path);
      expect(written).toEqual({ rows: 2500, bytes: bytes.length });
      expect(bytes.toString('utf8')).toBe(rawTableCsvText(generateRawTable(options)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
