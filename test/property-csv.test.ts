// Property-based tests of readCsv: generated well-formed tables must read back exactly (checked against
// a small model of the expected parse), and random malformed text / options must give either a
// consistent table or an Error with a message — never a non-Error throw, a hang or silently wrong lengths.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SequenceColumn } from '../src/data/columns.js';
import { type ColumnKind, type CsvTable, formatFloat32, type ReadCsvOptions, readCsv } from '../src/data/csv.js';
import { DataError } from '../src/data/errors.js';

const SEED = Number(process.env.PSEED ?? 20261202);
const TIMEOUT = 10_000;

type GenKind = 'dense' | 'sparse' | 'categorical' | 'autoInt' | 'autoFloat' | 'autoText' | 'sequence';
interface GenColumn {
  name: string;
  gen: GenKind;
  cells: string[];
}
interface GenTable {
  columns: GenColumn[];
  nRows: number;
}

// Names: unicode, delimiters, quotes and line breaks included (they are quoted when written); also
// names that are Object.prototype properties.
const nameArb = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
    fc.constantFrom('a', 'b', 'x y', 'a,b', 'q"t', 'line\nbreak', '__proto__', 'constructor', 'toString', 'ünï', '列'),
  )
  .filter((s) => !s.startsWith('\uFEFF') && s.trim() === s && s.length > 0);

const int32 = fc.integer({ min: -2147483648, max: 2147483647 });
const float32 = fc.float({ noNaN: true, noDefaultInfinity: true });
const numText = (v: number, style: number): string => (style === 0 ? formatFloat32(v) : style === 1 ? String(v) : v.toExponential());
const word = fc.stringMatching(/^[a-z]{1,5}$/).filter((w) => !/^(nan|na|null|none|infinity)$/i.test(w));

function cellsArb(gen: GenKind, n: number): fc.Arbitrary<string[]> {
  switch (gen) {
    case 'dense':
      return fc.array(
        fc.tuple(float32, fc.nat(2)).map(([v, s]) => numText(v, s)),
        { minLength: n, maxLength: n },
      );
    case 'sparse':
    case 'autoInt':
      return fc.array(int32.map(String), { minLength: n, maxLength: n });
    case 'autoFloat':
      return fc.array(
        fc.oneof(
          int32.map(String),
          float32.map((v) => (Object.is(v, -0) ? '0' : formatFloat32(v))),
        ),
        { minLength: n, maxLength: n },
      );
    case 'autoText':
      // numbers in other spellings too: they must come back as written once the column turns to text
      return fc.array(
        fc.oneof(int32.map(String), float32.map(formatFloat32), word, fc.constantFrom('007', '+5', '1.10', '1e3', '0.50', '2.5E-3')),
        { minLength: n, maxLength: n },
      );
    case 'categorical':
      return fc.array(fc.string({ unit: 'grapheme', maxLength: 6 }), { minLength: n, maxLength: n });
    case 'sequence':
      return fc.array(
        fc.array(int32, { maxLength: 4 }).map((ids) => ids.join('|')),
        { minLength: n, maxLength: n },
      );
  }
}

const genKinds: GenKind[] = ['dense', 'sparse', 'categorical', 'autoInt', 'autoFloat', 'autoText', 'sequence'];
const tableArb: fc.Arbitrary<GenTable> = fc
  .tuple(fc.uniqueArray(nameArb, { minLength: 1, maxLength: 5 }), fc.nat(8))
  .chain(([names, nRows]) =>
    fc
      .tuple(
        ...names.map((name) => fc.constantFrom(...genKinds).chain((gen) => cellsArb(gen, nRows).map((cells) => ({ name, gen, cells })))),
      )
      .map((columns) => ({ columns, nRows })),
  )
  // A single-column row whose only cell is empty is an empty line, which readCsv skips (see the report).
  .filter((t) => t.columns.length > 1 || t.columns[0].cells.every((c) => c !== ''));

const isInt32 = (v: number): boolean => Number.isInteger(v) && v >= -2147483648 && v <= 2147483647;
const specKind = (gen: GenKind): ColumnKind => (gen.startsWith('auto') ? 'auto' : (gen as ColumnKind));

interface Layout {
  delimiter: string;
  newline: string;
  bom: boolean;
  trailingNewline: boolean;
  quoteAll: boolean;
  emptyLineAfter: number[];
  chunkSize?: number;
}
const layoutArb: fc.Arbitrary<Layout> = fc.record({
  delimiter: fc.constantFrom(',', ';', '\t'),
  newline: fc.constantFrom('\n', '\r\n'),
  bom: fc.boolean(),
  trailingNewline: fc.boolean(),
  quoteAll: fc.boolean(),
  emptyLineAfter: fc.array(fc.nat(8), { maxLength: 3 }),
  chunkSize: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
});

function quote(cell: string, layout: Layout): string {
  const needs = cell.includes(layout.delimiter) || /["\r\n]/.test(cell) || cell.startsWith('\uFEFF');
  return needs || layout.quoteAll ? `"${cell.replace(/"/g, '""')}"` : cell;
}

function writeTable(t: GenTable, layout: Layout): string {
  const lines = [t.columns.map((c) => quote(c.name, layout)).join(layout.delimiter)];
  for (let r = 0; r < t.nRows; r++) {
    lines.push(t.columns.map((c) => quote(c.cells[r], layout)).join(layout.delimiter));
    if (layout.emptyLineAfter.includes(r) && r < t.nRows - 1) lines.push('');
  }
  return (layout.bom ? '\uFEFF' : '') + lines.join(layout.newline) + (layout.trailingNewline ? layout.newline : '');
}

/** The model: what each generated column must read as. */
function checkColumn(table: CsvTable, c: GenColumn, nRows: number): void {
  const col = table.columns[c.name];
  const cat = table.categorical[c.name];
  switch (c.gen) {
    case 'dense':
      expect(col).toBeInstanceOf(Float32Array);
      expect(Array.from(col as Float32Array)).toEqual(c.cells.map((s) => Math.fround(Number(s))));
      return;
    case 'sparse':
    case 'autoInt':
      expect(col).toBeInstanceOf(Int32Array);
      expect(Array.from(col as Int32Array)).toEqual(c.cells.map(Number));
      return;
    case 'autoFloat': {
      const allInt = c.cells.every((s) => isInt32(Number(s)));
      expect(col).toBeInstanceOf(allInt ? Int32Array : Float32Array);
      expect(Array.from(col as Float32Array)).toEqual(
        c.cells.map((s) => Math.fround(Number(s))).map((v, i) => (allInt ? Number(c.cells[i]) : v)),
      );
      return;
    }
    case 'autoText': {
      const anyWord = c.cells.some((s) => /^[a-z]/.test(s));
      const allInt = c.cells.every((s) => isInt32(Number(s)));
      if (anyWord)
        expect(cat).toEqual(c.cells); // the cells as written, numbers included
      else if (allInt) expect(Array.from(col as Int32Array)).toEqual(c.cells.map(Number));
      else expect(Array.from(col as Float32Array)).toEqual(c.cells.map((s) => Math.fround(Number(s))));
      return;
    }
    case 'categorical':
      expect(cat).toEqual(c.cells);
      return;
    case 'sequence': {
      expect(col).toBeInstanceOf(SequenceColumn);
      const seq = col as SequenceColumn;
      expect(seq.length).toBe(nRows);
      for (let r = 0; r < nRows; r++) {
        const ids = c.cells[r] === '' ? [] : c.cells[r].split('|').map(Number);
        const row = Array.from(seq.values.subarray(r * seq.width, (r + 1) * seq.width));
        expect(row.slice(row.length - ids.length)).toEqual(ids); // padded in front (the default)
        expect(row.slice(0, row.length - ids.length).every((v) => v === 0)).toBe(true);
      }
      return;
    }
  }
}

function checkConsistent(table: CsvTable): void {
  expect(Array.isArray(table.header)).toBe(true);
  expect(Number.isInteger(table.numRows) && table.numRows >= 0).toBe(true);
  for (const v of Object.values(table.columns)) expect(v.length).toBe(table.numRows);
  for (const v of Object.values(table.categorical)) expect(v.length).toBe(table.numRows);
}

async function outcome(p: () => Promise<CsvTable>): Promise<{ table?: CsvTable; error?: unknown }> {
  try {
    return { table: await p() };
  } catch (error) {
    return { error };
  }
}

function expectGoodError(error: unknown): asserts error is Error {
  expect(error).toBeInstanceOf(Error);
  expect(typeof (error as Error).message).toBe('string');
  expect((error as Error).message.length).toBeGreaterThan(0);
  if (error instanceof DataError && error.column !== undefined) expect(error.message).toContain(error.column);
}

describe('readCsv properties', () => {
  it(
    'well-formed tables (quoting, BOM, CRLF, empty lines, unicode, chunking) read back as the model says',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          tableArb,
          layoutArb,
          fc.constantFrom<'drop' | 'auto' | undefined>(undefined, 'drop', 'auto'),
          fc.infiniteStream(fc.boolean()),
          async (t, layout, others, pick) => {
            // Columns named in the spec are read with their kind; with others: 'auto' the rest are read too.
            const inSpec = t.columns.map((_c) => (others === 'auto' ? pick.next().value : true));
            for (const [i, c] of t.columns.entries()) if (!inSpec[i] && !c.gen.startsWith('auto')) inSpec[i] = true;
            const columns = Object.fromEntries(t.columns.filter((_, i) => inSpec[i]).map((c) => [c.name, specKind(c.gen)]));
            const options: ReadCsvOptions = { columns, delimiter: layout.delimiter };
            if (others) options.others = others;
            if (layout.chunkSize !== undefined) options.chunkSize = layout.chunkSize;
            const text = writeTable(t, layout);
            const table = await readCsv({ text }, options);
            expect(table.header).toEqual(t.columns.map((c) => c.name));
            expect(table.numRows).toBe(t.nRows);
            checkConsistent(table);
            const read = t.columns.filter((_, i) => inSpec[i] || others === 'auto');
            expect(Object.keys(table.columns).length + Object.keys(table.categorical).length).toBe(read.length);
            for (const c of read) checkColumn(table, c, t.nRows);
          },
        ),
        { seed: SEED, numRuns: 250 },
      );
    },
    TIMEOUT * 3,
  );

  it(
    'a bad cell in a dense/sparse column is an Error naming the column and the data row',
    async () => {
      const bad = fc.constantFrom('abc', '', ' ', '1e39', '-1e40', '0x10', 'NaN', 'Infinity', '1,5');
      await fc.assert(
        fc.asyncProperty(tableArb, layoutArb, fc.nat(), bad, async (t, layout, at, cell) => {
          const target = t.columns.find((c) => c.gen === 'dense' || c.gen === 'sparse');
          fc.pre(target !== undefined && t.nRows > 0);
          const row = at % t.nRows;
          target!.cells[row] = cell;
          fc.pre(t.columns.length > 1 || cell.trim() !== ''); // a blank line is skipped, not read
          const text = writeTable(t, layout);
          const columns = Object.fromEntries(t.columns.map((c) => [c.name, specKind(c.gen)]));
          const { table, error } = await outcome(() =>
            readCsv({ text }, { columns, delimiter: layout.delimiter, chunkSize: layout.chunkSize }),
          );
          expect(table).toBeUndefined();
          expectGoodError(error);
          expect(error).toBeInstanceOf(DataError);
          // Another column (earlier in the row order) may fail first; if it is ours, it names the row.
          if ((error as DataError).column === target!.name) expect(error.message).toContain(`data row ${row + 1}`);
        }),
        { seed: SEED, numRuns: 150 },
      );
    },
    TIMEOUT * 3,
  );

  const junkText = fc.string({
    unit: fc.constantFrom(
      ',',
      ';',
      '"',
      '""',
      '\n',
      '\r',
      '\r\n',
      'a',
      'b',
      '1',
      '-2',
      '.5',
      'e9',
      '1e39',
      'NaN',
      'inf',
      ' ',
      '\uFEFF',
      'é',
      '|',
      '0x1',
      '',
    ),
    maxLength: 40,
  });
  const junkKind = fc.constantFrom<unknown>('dense', 'sparse', 'categorical', 'auto', 'sequence', 'Dense', '', 42, null, undefined, {});
  const junkOptions = fc.record(
    {
      columns: fc.oneof(
        fc.dictionary(fc.constantFrom('a', 'b', '1', '', 'constructor', '__proto__', 'é'), junkKind, { maxKeys: 3 }),
        fc.constantFrom<unknown>(['a'], null, 'a', 3),
      ),
      others: fc.constantFrom<unknown>('drop', 'auto', 'keep', 1, null),
      fillNa: fc.oneof(fc.double(), fc.constantFrom<unknown>('0', null, { a: 1 }, { a: '1' }, { constructor: 1 })),
      delimiter: fc.constantFrom<unknown>(',', ';', '\t', '', '"', '\n', 'ab', 0, null),
      chunkSize: fc.oneof(fc.integer({ min: -5, max: 50 }), fc.constantFrom<unknown>(0.5, Number.NaN, Number.POSITIVE_INFINITY, '10')),
      sequences: fc.constantFrom<unknown>({ a: { separator: ';' } }, { a: { separator: '' } }, { a: 1 }, null),
      delimeter: fc.constant(','), // a typo: must not be silently ignored
    },
    { requiredKeys: [] },
  );

  it(
    'malformed CSV text with random options: a consistent table or an Error with a message, never a hang',
    async () => {
      await fc.assert(
        fc.asyncProperty(junkText, junkOptions, async (text, options) => {
          const { table, error } = await outcome(() =>
            readCsv({ text: text.includes('\n') || text.includes('\r') ? text : `${text}\n` }, options as ReadCsvOptions),
          );
          if (error !== undefined) {
            expectGoodError(error);
            return;
          }
          checkConsistent(table!);
          // An option that is not well-formed must have been refused, not ignored.
          const o = options as Record<string, unknown>;
          expect('delimeter' in o).toBe(false);
          if ('chunkSize' in o) expect(Number.isSafeInteger(o.chunkSize) && (o.chunkSize as number) > 0).toBe(true);
          if ('delimiter' in o) expect([',', ';', '\t', 'ab']).toContain(o.delimiter);
          if ('others' in o) expect(['drop', 'auto']).toContain(o.others);
          if (o.columns !== undefined) {
            for (const [name, kind] of Object.entries(o.columns as object)) {
              expect(['dense', 'sparse', 'categorical', 'auto', 'sequence']).toContain(kind);
              expect(name in table!.columns || name in table!.categorical).toBe(true);
            }
          }
        }),
        { seed: SEED, numRuns: 400 },
      );
    },
    TIMEOUT * 3,
  );

  const dir = mkdtempSync(join(tmpdir(), 'webmtl-prop-csv-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it(
    'a file (streamed in chunks of chunkSize bytes) reads the same as its text',
    async () => {
      let k = 0;
      await fc.assert(
        fc.asyncProperty(tableArb, layoutArb, async (t, layout) => {
          const text = writeTable(t, layout);
          const path = join(dir, `t${k++}.csv`);
          writeFileSync(path, text);
          const columns = Object.fromEntries(t.columns.map((c) => [c.name, specKind(c.gen)]));
          const options: ReadCsvOptions = { columns, delimiter: layout.delimiter };
          if (layout.chunkSize !== undefined) options.chunkSize = layout.chunkSize;
          const fromText = await outcome(() => readCsv({ text }, options));
          const fromFile = await outcome(() => readCsv({ path }, options));
          expect(fromText.error).toBeUndefined();
          expect(fromFile.error).toBeUndefined();
          expect(fromFile.table!.numRows).toBe(fromText.table!.numRows);
          expect(fromFile.table!.header).toEqual(fromText.table!.header);
          for (const c of t.columns) checkColumn(fromFile.table!, c, t.nRows);
        }),
        { seed: SEED, numRuns: 40 },
      );
    },
    TIMEOUT * 3,
  );

  it(
    'non-object sources and option bags are Errors, not TypeErrors from inside',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<unknown>(null, 42, {}, { text: 5 }, { path: null }, []),
          fc.constantFrom<unknown>(undefined, null, 5, 'x', {}),
          async (source, options) => {
            const { error } = await outcome(() => readCsv(source as never, options as never));
            expectGoodError(error);
            expect(error).toBeInstanceOf(DataError);
          },
        ),
        { seed: SEED, numRuns: 30 },
      );
    },
    TIMEOUT,
  );
});
