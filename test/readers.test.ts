// Table readers: sources resolution, the DuckDB and light engines giving identical raw blocks, block
// boundaries, and every bad-input error with its message.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DataError } from '../src/data/errors.js';
import type { RawBlock } from '../src/data/raw.js';
import { type ColumnInfo, EngineMissingError, openReader, type ScanOptions, type TableReader } from '../src/data/readers/index.js';
import { CsvRowParser, parseNumberCell } from '../src/data/readers/light.js';
import { resolveSources, type SourceFile } from '../src/data/sources.js';

let dir: string;
let light: TableReader;
let duck: TableReader | undefined;

function write(name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

async function files(spec: string | string[]): Promise<SourceFile[]> {
  return resolveSources(typeof spec === 'string' ? join(dir, spec) : spec.map((s) => join(dir, s)));
}

async function scanAll(
  reader: TableReader,
  sources: readonly SourceFile[],
  columns: readonly ColumnInfo[],
  blockRows: number | ScanOptions = 1000,
): Promise<RawBlock[]> {
  const blocks: RawBlock[] = [];
  for await (const block of reader.scan(sources, columns, typeof blockRows === 'number' ? { blockRows } : blockRows)) blocks.push(block);
  return blocks;
}

/** The error a promise (or an async iteration) rejects with. */
async function failure(run: () => Promise<unknown>): Promise<DataError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    return error as DataError;
  }
  throw new Error('expected a DataError, got none');
}

// Both engines; DuckDB only when it loads (it is installed in this repository, so these run here).
const engines = (): [string, TableReader][] => [['light', light], ...(duck ? [['duckdb', duck] as [string, TableReader]] : [])];

const MIXED = [
  'id,price,name,flag,big',
  '1,0.5,alpha,true,1',
  '2,,"beta, gamma",false,2',
  ',1e3,,true,3',
  '-4,-0.25,"say ""hi""",,4',
  '5,nan,"two',
  'lines",false,5',
  '6, 7 ,x,true,6',
].join('\n');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmtl-readers-'));
  light = await openReader('light');
  try {
    duck = await openReader('duckdb');
  } catch (error) {
    if (!(error instanceof EngineMissingError)) throw error;
  }
});

afterAll(async () => {
  await light?.close();
  await duck?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('resolveSources', () => {
  it('resolves a file, a folder (sorted, data files only) and a glob to absolute paths with sizes', async () => {
    write('folder/b.csv', 'a\n1\n');
    write('folder/a.csv', 'a\n22\n');
    write('folder/notes.txt', 'not data');
    write('folder/sub/c.csv', 'a\n3\n');
    const one = await files('folder/a.csv');
    expect(one).toEqual([expect.objectContaining({ path: join(dir, 'folder/a.csv'), format: 'csv', bytes: 5 })]);
    expect(one[0].mtimeMs).toBeGreaterThan(0);
    expect((await files('folder')).map((f) => f.path)).toEqual([join(dir, 'folder/a.csv'), join(dir, 'folder/b.csv')]);
    expect((await files('folder/**/*.csv')).map((f) => f.path)).toEqual([
      join(dir, 'folder/a.csv'),
      join(dir, 'folder/b.csv'),
      join(dir, 'folder/sub/c.csv'),
    ]);
    // A list: union, without duplicates, sorted.
    expect((await files(['folder/b.csv', 'folder/a.csv', 'folder/b.csv'])).map((f) => f.path)).toEqual([
      join(dir, 'folder/a.csv'),
      join(dir, 'folder/b.csv'),
    ]);
  });

  it('says what is wrong when nothing is found, naming the spec and the flag', async () => {
    mkdirSync(join(dir, 'empty-folder'), { recursive: true });
    const missing = await failure(() => resolveSources(join(dir, 'nope.csv'), '--train'));
    expect(missing.message).toContain(`--train "${join(dir, 'nope.csv')}" does not exist`);
    expect(missing.message).toContain('Fix:');
    const folder = await failure(() => resolveSources(join(dir, 'empty-folder')));
    expect(folder.message).toMatch(/holds no \.csv or \.parquet files.*Fix:/);
    const glob = await failure(() => resolveSources(join(dir, 'folder/*.parquet'), '--data'));
    expect(glob.message).toMatch(/No CSV or Parquet files match the glob --data ".*folder\/\*\.parquet".*Fix:/);
    const noGlobMatch = await failure(() => resolveSources(join(dir, 'folder/*.txt')));
    expect(noGlobMatch.message).toContain('none ending in .csv or .parquet');
  });

  it('refuses a table that mixes CSV and Parquet', async () => {
    write('mixed/a.csv', 'a\n1\n');
    write('mixed/b.parquet', 'PAR1');
    const error = await failure(() => resolveSources(join(dir, 'mixed')));
    expect(error.message).toMatch(/mixes CSV and Parquet files .*a\.csv.*b\.parquet.*Fix:/);
  });

  it('tells Parquet from CSV by the magic bytes when the name says nothing', async () => {
    write('magic/data.bin', 'PAR1xxxx');
    write('magic/data.txt', 'a,b\n1,2\n');
    expect((await files('magic/data.bin'))[0].format).toBe('parquet');
    expect((await files('magic/data.txt'))[0].format).toBe('csv');
  });
});

describe('CsvRowParser', () => {
  it('hands over whole rows while text streams in, never cutting inside double quotes', () => {
    const lines = ['n,text'];
    for (let i = 0; i < 2000; i++) lines.push(`${i},"a, ""b""\n${i}"`);
    const text = `${lines.join('\n')}\n`;
    const parser = new CsvRowParser('stream.csv');
    const rows: string[][] = [];
    let handedEarly = 0;
    for (let at = 0; at < text.length; at += 997) {
      const batch = parser.push(text.slice(at, at + 997));
      if (batch) {
        rows.push(...batch.rows);
        handedEarly += batch.rows.length;
      }
    }
    rows.push(...(parser.end()?.rows ?? []));
    expect(handedEarly).toBeGreaterThan(1900); // rows come out as the text arrives, not all at the end
    expect(rows).toHaveLength(2000);
    expect(rows[1234]).toEqual(['1234', 'a, "b"\n1234']);
    expect(parser.headerNames).toEqual(['n', 'text']);
  });
});

describe('numbers as DuckDB reads a DOUBLE', () => {
  it('accepts blanks, underscores, exponents, nan and inf; refuses hex and separators', () => {
    expect(parseNumberCell(' 5 ')).toBe(5);
    expect(parseNumberCell('1_000')).toBe(1000);
    expect(parseNumberCell('1e3')).toBe(1000);
    expect(parseNumberCell('.5')).toBe(0.5);
    expect(parseNumberCell('5.')).toBe(5);
    expect(parseNumberCell('NaN')).toBeNaN();
    expect(parseNumberCell('-Infinity')).toBe(-Infinity);
    for (const bad of ['0x10', '1,000', 'abc', '-', '1e', '  ', 'true']) expect(parseNumberCell(bad)).toBeUndefined();
  });
});

describe('engines', () => {
  it('DuckDB loads here (an optional dependency that this repository installs)', () => {
    expect(duck?.engine).toBe('duckdb');
  });

  it("'auto' opens an engine; an unknown engine is refused", async () => {
    const auto = await openReader('auto');
    expect(['duckdb', 'light']).toContain(auto.engine);
    await auto.close();
    await expect(openReader('spark' as 'auto')).rejects.toThrow(/unknown engine "spark"/);
  });

  it("without DuckDB installed, 'auto' falls back to the light engine and 'duckdb' throws EngineMissingError", async () => {
    vi.resetModules();
    vi.doMock('@duckdb/node-api', () => {
      throw new Error("Cannot find package '@duckdb/node-api'");
    });
    try {
      const fresh = await import('../src/data/readers/index.js');
      const auto = await fresh.openReader('auto');
      expect(auto.engine).toBe('light');
      const error = await fresh.openReader('duckdb').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(fresh.EngineMissingError);
      expect((error as Error).message).toContain('npm install @duckdb/node-api');
    } finally {
      vi.doUnmock('@duckdb/node-api');
      vi.resetModules();
    }
  });

  it('EngineMissingError names the npm install command', () => {
    const error = new EngineMissingError(new Error("Cannot find package '@duckdb/node-api'"));
    expect(error.message).toContain('npm install @duckdb/node-api');
    expect(error.name).toBe('EngineMissingError');
  });
});

describe('describe', () => {
  it('infers types from the first file the same way in both engines', async () => {
    write('types.csv', ['id,score,code,word,flag,empty', '1,0.5,007,a,true,', '2,1,012,b,false,', '3,2.25,100,c,true,'].join('\n'));
    const expected = [
      { name: 'id', type: 'int' },
      { name: 'score', type: 'float' },
      { name: 'code', type: 'string' }, // leading zeros: text, as DuckDB's sniffer says
      { name: 'word', type: 'string' },
      { name: 'flag', type: 'string' }, // CSV booleans stay text (categories)
      { name: 'empty', type: 'string' },
    ];
    for (const [, reader] of engines()) expect(await reader.describe(await files('types.csv'))).toEqual(expected);
  });

  it('checks that every shard has the same header, naming both files and the difference', async () => {
    write('shards/part-0.csv', 'a,b,c\n1,2,3\n');
    write('shards/part-1.csv', 'a,b,c\n4,5,6\n');
    write('shards/part-2.csv', 'a,c,d\n4,5,6\n');
    write('order/part-0.csv', 'a,b\n1,2\n');
    write('order/part-1.csv', 'b,a\n1,2\n');
    for (const [, reader] of engines()) {
      const error = await failure(async () => reader.describe(await files('shards')));
      expect(error.message).toContain(
        `${join(dir, 'shards/part-2.csv')} does not have the same columns as ${join(dir, 'shards/part-0.csv')}`,
      );
      expect(error.message).toContain('it lacks "b"');
      expect(error.message).toContain('it has "d" that the first does not');
      expect(error.message).toContain('Fix:');
      const order = await failure(async () => reader.describe(await files('order')));
      expect(order.message).toContain('the same names in another order');
    }
  });

  it('refuses an empty file, a header without rows, and duplicate or empty column names', async () => {
    write('bad/empty.csv', '');
    write('bad/header-only.csv', 'a,b\n');
    write('bad/dup.csv', 'a,b,a\n1,2,3\n');
    write('bad/unnamed.csv', ',a\n0,1\n');
    for (const [, reader] of engines()) {
      expect((await failure(async () => reader.describe(await files('bad/empty.csv')))).message).toMatch(
        /empty\.csv is empty: it has no header line\. Fix:/,
      );
      expect((await failure(async () => reader.describe(await files('bad/header-only.csv')))).message).toMatch(
        /header-only\.csv has a header but no data rows.*Fix:/,
      );
      expect((await failure(async () => reader.describe(await files('bad/dup.csv')))).message).toMatch(/names column "a" twice\. Fix:/);
      expect((await failure(async () => reader.describe(await files('bad/unnamed.csv')))).message).toMatch(
        /column 1 of the header has no name\. Fix:.*index=False/,
      );
    }
  });
});

describe('scan', () => {
  const mixedColumns: ColumnInfo[] = [
    { name: 'id', type: 'int' },
    { name: 'price', type: 'float' },
    { name: 'name', type: 'string' },
    { name: 'flag', type: 'string' },
    { name: 'big', type: 'int' },
  ];

  it('reads missing cells, quoted commas, doubled quotes and line breaks inside quotes (both engines alike)', async () => {
    write('mixed.csv', `${MIXED}\n`);
    const expected: RawBlock = {
      rows: 6,
      columns: {
        id: { type: 'int', values: Int32Array.from([1, 2, 0, -4, 5, 6]), missing: Uint8Array.from([0, 0, 1, 0, 0, 0]) },
        price: { type: 'float', values: Float64Array.from([0.5, NaN, 1000, -0.25, NaN, 7]) },
        name: { type: 'string', values: ['alpha', 'beta, gamma', null, 'say "hi"', 'two\nlines', 'x'] },
        flag: { type: 'string', values: ['true', 'false', 'true', null, 'false', 'true'] },
        big: { type: 'int', values: Int32Array.from([1, 2, 3, 4, 5, 6]) },
      },
      source: { file: join(dir, 'mixed.csv'), firstRow: 0 },
    };
    for (const [, reader] of engines()) expect(await scanAll(reader, await files('mixed.csv'), mixedColumns)).toEqual([expected]);
  });

  it('marks missing cells across DuckDB chunks and uneven block cuts the same way as the light engine', async () => {
    // Dense holes (every word of the validity mask has one) and sparse ones (whole valid words are skipped).
    const lines = ['id,price,tag,rare'];
    for (let i = 0; i < 5000; i++)
      lines.push(`${i % 7 === 3 ? '' : i - 2500},${i % 11 === 5 ? '' : i / 8},${i % 13 === 0 ? '' : `t${i % 5}`},${i % 50 === 0 ? '' : i}`);
    write('holes.csv', `${lines.join('\n')}\n`);
    const columns: ColumnInfo[] = [
      { name: 'id', type: 'int' },
      { name: 'price', type: 'float' },
      { name: 'tag', type: 'string' },
      { name: 'rare', type: 'int' },
    ];
    const results: RawBlock[][] = [];
    for (const [, reader] of engines()) {
      const blocks = await scanAll(reader, await files('holes.csv'), columns, 999);
      const rare = blocks.flatMap((b) => [...((b.columns.rare as { missing?: Uint8Array }).missing ?? new Uint8Array(b.rows))]);
      expect(rare.flatMap((m, i) => (m ? [i] : []))).toEqual(Array.from({ length: 100 }, (_, k) => k * 50));
      expect(blocks.map((b) => b.rows)).toEqual([999, 999, 999, 999, 999, 5]);
      const id = blocks.flatMap((b) => [...b.columns.id.values]);
      const missing = blocks.flatMap((b) => [...((b.columns.id as { missing?: Uint8Array }).missing ?? new Uint8Array(b.rows))]);
      const price = blocks.flatMap((b) => [...b.columns.price.values]);
      const tag = blocks.flatMap((b) => b.columns.tag.values as (string | null)[]);
      for (let i = 0; i < 5000; i++) {
        expect([id[i], missing[i]]).toEqual(i % 7 === 3 ? [0, 1] : [i - 2500, 0]);
        expect(price[i]).toBe(i % 11 === 5 ? NaN : i / 8);
        expect(tag[i]).toBe(i % 13 === 0 ? null : `t${i % 5}`);
      }
      results.push(blocks);
    }
    if (results.length === 2) expect(results[1]).toEqual(results[0]);
  });

  it('streams a file of several megabytes whose quoted cells span the light engine’s read chunks', async () => {
    const lines = ['n,text,x'];
    for (let i = 0; i < 40000; i++) lines.push(`${i},"line one, ${i}\nline ""two""\r\n${'w'.repeat(i % 97)}",${i % 3}`);
    write('long-quoted.csv', `${lines.join('\n')}\n`);
    const columns: ColumnInfo[] = [
      { name: 'n', type: 'int' },
      { name: 'text', type: 'string' },
      { name: 'x', type: 'int' },
    ];
    const results: RawBlock[][] = [];
    for (const [, reader] of engines()) {
      const blocks = await scanAll(reader, await files('long-quoted.csv'), columns, 16384);
      expect(blocks.map((b) => b.rows)).toEqual([16384, 16384, 7232]);
      const text = blocks.flatMap((b) => b.columns.text.values as string[]);
      expect(text[39999]).toBe(`line one, 39999\nline "two"\r\n${'w'.repeat(39999 % 97)}`);
      expect(blocks[2].columns.n.values[7231]).toBe(39999);
      results.push(blocks);
    }
    if (results.length === 2) expect(results[1]).toEqual(results[0]);
  });

  it('reads a byte-order mark, CRLF line ends and a last line without a line break', async () => {
    write('windows.csv', '\uFEFFa,b\r\n1,x\r\n2,"y\r\nz"\r\n3,w');
    const columns: ColumnInfo[] = [
      { name: 'a', type: 'int' },
      { name: 'b', type: 'string' },
    ];
    for (const [, reader] of engines()) {
      expect(await reader.describe(await files('windows.csv'))).toEqual(columns);
      const [block] = await scanAll(reader, await files('windows.csv'), columns);
      expect(block.columns.a.values).toEqual(Int32Array.from([1, 2, 3]));
      expect(block.columns.b.values).toEqual(['x', 'y\r\nz', 'w']);
    }
  });

  it('gives only the asked columns, in the asked order and types (a header order that differs per shard is fine)', async () => {
    write('subset/a.csv', 'x,y,z\n1,2,3\n');
    write('subset/b.csv', 'z,x,y\n6,4,5\n');
    const columns: ColumnInfo[] = [
      { name: 'z', type: 'string' },
      { name: 'x', type: 'float' },
    ];
    for (const [, reader] of engines()) {
      const blocks = await scanAll(reader, await files('subset'), columns);
      expect(blocks.map((b) => Object.keys(b.columns))).toEqual([
        ['z', 'x'],
        ['z', 'x'],
      ]);
      expect(blocks.map((b) => [b.columns.z.values, [...b.columns.x.values]])).toEqual([
        [['3'], [1]],
        [['6'], [4]],
      ]);
    }
  });

  it('cuts blocks of blockRows rows, never across files, with each block’s first row in its file', async () => {
    const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => `${from + i},${(from + i) / 4}`).join('\n');
    write('blocks/part-0.csv', `n,q\n${rows(0, 2500)}\n`);
    write('blocks/part-1.csv', `n,q\n${rows(2500, 700)}`);
    const columns: ColumnInfo[] = [
      { name: 'n', type: 'int' },
      { name: 'q', type: 'float' },
    ];
    const results: RawBlock[][] = [];
    for (const [, reader] of engines()) {
      const blocks = await scanAll(reader, await files('blocks'), columns, 1024);
      expect(blocks.map((b) => [b.source.file.endsWith('part-0.csv') ? 0 : 1, b.source.firstRow, b.rows])).toEqual([
        [0, 0, 1024],
        [0, 1024, 1024],
        [0, 2048, 452],
        [1, 0, 700],
      ]);
      // In file order: the first value of each block is its position in the table.
      expect(blocks.map((b) => b.columns.n.values[0])).toEqual([0, 1024, 2048, 2500]);
      expect(blocks.every((b) => b.columns.n.values instanceof Int32Array && b.columns.q.values instanceof Float64Array)).toBe(true);
      expect(blocks[3].columns.q.values[699]).toBe(3199 / 4);
      results.push(blocks);
    }
    if (results.length === 2) expect(results[1]).toEqual(results[0]);
  });

  it('keeps integers beyond int32 exactly (Float64Array in the blocks that hold them)', async () => {
    const lines = ['id'];
    for (let i = 0; i < 3000; i++) lines.push(String(i === 2500 ? 2 ** 40 + 3 : i));
    write('wide.csv', `${lines.join('\n')}\n`);
    for (const [, reader] of engines()) {
      const blocks = await scanAll(reader, await files('wide.csv'), [{ name: 'id', type: 'int' }], 1024);
      expect(blocks.map((b) => b.columns.id.values.constructor.name)).toEqual(['Int32Array', 'Int32Array', 'Float64Array']);
      expect(blocks[2].columns.id.values[2500 - 2048]).toBe(2 ** 40 + 3);
      expect(blocks[2].columns.id.values[0]).toBe(2048);
    }
  });

  it('reads repeated text (a dictionary in DuckDB) and unique text (cell by cell) the same way in both engines', async () => {
    const kinds = ['plain', 'with, comma', 'say "hi"', 'two\nlines', 'ünï cødé', "it's", ' padded '];
    const quote = (text: string) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
    const lines = ['kind,unique,n'];
    for (let i = 0; i < 3000; i++) lines.push(`${i % 11 === 4 ? (i % 2 ? '""' : '') : quote(kinds[i % kinds.length])},u${i},${i}`);
    write('categories.csv', `${lines.join('\n')}\n`);
    const columns: ColumnInfo[] = [
      { name: 'kind', type: 'string' },
      { name: 'unique', type: 'string' },
      { name: 'n', type: 'int' },
    ];
    const results: RawBlock[][] = [];
    for (const [, reader] of engines()) {
      const blocks = await scanAll(reader, await files('categories.csv'), columns, 1000);
      const kind = blocks.flatMap((b) => b.columns.kind.values as (string | null)[]);
      const unique = blocks.flatMap((b) => b.columns.unique.values as (string | null)[]);
      for (let i = 0; i < 3000; i++) {
        expect(kind[i]).toBe(i % 11 === 4 ? null : kinds[i % kinds.length]);
        expect(unique[i]).toBe(`u${i}`);
      }
      results.push(blocks);
    }
    if (results.length === 2) expect(results[1]).toEqual(results[0]);
  });

  it('reports progress up to every byte', async () => {
    const seen: number[] = [];
    const sources = await files('blocks');
    const total = sources.reduce((n, f) => n + f.bytes, 0);
    for (const [, reader] of engines()) {
      seen.length = 0;
      const events: { bytesDone: number; bytesTotal: number; rows: number }[] = [];
      for await (const _ of reader.scan(sources, [{ name: 'n', type: 'int' }], { blockRows: 1000, onProgress: (p) => events.push(p) }))
        seen.push(0);
      expect(events.at(-1)).toEqual({ bytesDone: total, bytesTotal: total, rows: 3200 });
      expect(events.every((e, i) => i === 0 || e.bytesDone >= events[i - 1].bytesDone)).toBe(true);
      expect(events.length).toBeGreaterThan(2);
    }
  });

  it('samples the first rows with the described types', async () => {
    for (const [, reader] of engines()) {
      const sample = await reader.sample(await files('blocks'), 2600);
      expect(sample.rows).toBe(2600);
      expect(sample.columns.n.values[2599]).toBe(2599);
      expect(sample.columns.q.type).toBe('float');
    }
  });
});

describe('Parquet', () => {
  it('both engines read a Parquet file (written by DuckDB) as they read the same CSV', async () => {
    if (!duck) throw new Error('DuckDB is needed to write the Parquet file');
    const csv = write('pq/source.csv', `${MIXED}\n`);
    const parquet = join(dir, 'pq/data.parquet');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    await con.run(
      `COPY (SELECT * FROM read_csv('${csv}', auto_detect=false, header=true, columns={'id':'INTEGER','price':'DOUBLE','name':'VARCHAR','flag':'VARCHAR','big':'BIGINT'})) TO '${parquet}' (FORMAT parquet, ROW_GROUP_SIZE 4)`,
    );
    con.closeSync();
    db.closeSync();
    const columns: ColumnInfo[] = [
      { name: 'id', type: 'int' },
      { name: 'price', type: 'float' },
      { name: 'name', type: 'string' },
      { name: 'flag', type: 'string' },
      { name: 'big', type: 'int' },
    ];
    const fromCsv = (await scanAll(light, await files('pq/source.csv'), columns, 4)).map((b) => ({
      ...b,
      source: { ...b.source, file: parquet },
    }));
    for (const [, reader] of engines()) {
      const pqFiles = await files('pq/data.parquet');
      expect(pqFiles[0].format).toBe('parquet');
      expect(await reader.describe(pqFiles)).toEqual(columns);
      // Blocks of 4 rows over row groups of 4: [4, 2]; the same cells as the CSV.
      expect(await scanAll(reader, pqFiles, columns, 4)).toEqual(fromCsv);
      // Numbers read as text, text that holds numbers read as numbers.
      const blocks = await scanAll(
        reader,
        pqFiles,
        [
          { name: 'big', type: 'string' },
          { name: 'id', type: 'float' },
        ],
        10,
      );
      expect(blocks[0].columns.big.values).toEqual(['1', '2', '3', '4', '5', '6']);
      expect([...blocks[0].columns.id.values]).toEqual([1, 2, NaN, -4, 5, 6]);
    }
  });

  it('names the Parquet row of a cell that does not fit, and a column a shard lacks', async () => {
    if (!duck) throw new Error('DuckDB is needed to write the Parquet file');
    const parquet = join(dir, 'pq-bad/data.parquet');
    mkdirSync(join(dir, 'pq-bad'), { recursive: true });
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    await con.run(
      `COPY (SELECT * FROM (VALUES ('1', 1, 'a', true), ('2', 2, '', false), ('x7', 3, NULL, NULL)) t(code, n, note, ok)) TO '${parquet}' (FORMAT parquet)`,
    );
    con.closeSync();
    db.closeSync();
    for (const [, reader] of engines()) {
      const error = await failure(() => scanAll(reader, resolvedParquet(parquet), [{ name: 'code', type: 'int' }]));
      expect(error.message).toBe(
        `Column "code" is read as integers but ${parquet} row 3 has "x7", which is not a number. Fix: correct or empty that cell in the file, ` +
          `or change the type of "code" to 'string' in the schema (text columns become categories with role 'sparse').`,
      );
      expect(error).toMatchObject({ column: 'code', value: 'x7', row: 2 });
      const missing = await failure(() => scanAll(reader, resolvedParquet(parquet), [{ name: 'price', type: 'float' }]));
      expect(missing.message).toMatch(
        /Column "price" is missing from .*data\.parquet\. Available columns: "code", "n", "note", "ok"\. Fix:/,
      );
      // Empty text is missing, as in CSV.
      const [notes] = await scanAll(reader, resolvedParquet(parquet), [{ name: 'note', type: 'string' }]);
      expect(notes.columns.note.values).toEqual(['a', null, null]);
      // Parquet booleans are ints 1 / 0.
      expect((await reader.describe(resolvedParquet(parquet))).at(-1)).toEqual({ name: 'ok', type: 'int' });
      const [flags] = await scanAll(reader, resolvedParquet(parquet), [{ name: 'ok', type: 'int' }]);
      expect(flags.columns.ok).toEqual({ type: 'int', values: Int32Array.from([1, 0, 0]), missing: Uint8Array.from([0, 0, 1]) });
    }
  });
});

function resolvedParquet(path: string): SourceFile[] {
  return [{ path, format: 'parquet', bytes: 1, mtimeMs: 0 }];
}

describe('scan errors', () => {
  it('a text cell in a numeric column: file, line, column, value and the fix (same words from both engines)', async () => {
    const lines = ['a,b,c'];
    for (let i = 0; i < 5000; i++) lines.push(`${i},${i / 2},x`);
    lines[4001] = '4000,oops,x';
    write('text-in-float.csv', `${lines.join('\n')}\n`);
    write('text-in-int.csv', 'a,b\n1,2\n\n"three",4\n');
    for (const [, reader] of engines()) {
      const float = await failure(() => scanAll(reader, resolvedCsv('text-in-float.csv'), [{ name: 'b', type: 'float' }]));
      expect(float.message).toBe(
        `Column "b" is read as numbers but ${join(dir, 'text-in-float.csv')} line 4002 has "oops", which is not a number. ` +
          `Fix: correct or empty that cell in the file, or change the type of "b" to 'string' in the schema (text columns become categories with role 'sparse').`,
      );
      expect(float).toMatchObject({ column: 'b', value: 'oops' });
      // Physical lines: the blank line counts.
      const int = await failure(() => scanAll(reader, resolvedCsv('text-in-int.csv'), [{ name: 'a', type: 'int' }]));
      expect(int.message).toContain(`${join(dir, 'text-in-int.csv')} line 4 has "three", which is not a number`);
    }
  });

  it('a fraction in an int column is not rounded: it is an error that suggests the float type', async () => {
    write('fraction.csv', 'a,b\n1,x\n2,y\n2.5,z\n');
    for (const [, reader] of engines()) {
      const error = await failure(() => scanAll(reader, resolvedCsv('fraction.csv'), [{ name: 'a', type: 'int' }]));
      expect(error.message).toBe(
        `Column "a" is read as integers but ${join(dir, 'fraction.csv')} line 4 has "2.5", which is not a whole number. ` +
          `Fix: correct that cell in the file, or change the type of "a" to 'float' in the schema (role 'dense' for a measurement).`,
      );
    }
  });

  it('a fraction or a value beyond int32 far into a file: the same blocks and error as reading it cell by cell', async () => {
    const lines = ['a,b'];
    for (let i = 0; i < 5000; i++) lines.push(`${i},${i % 3}`);
    lines[4001] = '4000.5,1';
    write('late-fraction.csv', `${lines.join('\n')}\n`);
    lines[4001] = `${2 ** 31},1`;
    write('late-wide.csv', `${lines.join('\n')}\n`);
    const columns: ColumnInfo[] = [
      { name: 'a', type: 'int' },
      { name: 'b', type: 'int' },
    ];
    const results: RawBlock[][] = [];
    for (const [, reader] of engines()) {
      const error = await failure(() => scanAll(reader, resolvedCsv('late-fraction.csv'), columns, 1024));
      expect(error.message).toContain(`${join(dir, 'late-fraction.csv')} line 4002 has "4000.5", which is not a whole number`);
      const blocks = await scanAll(reader, resolvedCsv('late-wide.csv'), columns, 1024);
      expect(blocks.map((b) => b.columns.a.values.constructor.name)).toEqual([
        'Int32Array',
        'Int32Array',
        'Int32Array',
        'Float64Array',
        'Int32Array',
      ]);
      expect(blocks[3].columns.a.values[4000 - 3072]).toBe(2 ** 31);
      results.push(blocks);
    }
    if (results.length === 2) expect(results[1]).toEqual(results[0]);
  });

  it('an integer too large for a float64 says to read the column as text', async () => {
    write('huge.csv', 'id\n1\n12345678901234567890\n');
    for (const [, reader] of engines()) {
      const error = await failure(() => scanAll(reader, resolvedCsv('huge.csv'), [{ name: 'id', type: 'int' }]));
      expect(error.message).toContain('line 3 has "12345678901234567890", beyond ±9007199254740991 (2^53 − 1), too large to keep exactly');
      expect(error.message).toContain(`Fix: change the type of "id" to 'string' in the schema`);
    }
  });

  it('a column missing from one shard names the shard, the column and what it has', async () => {
    write('gap/part-0.csv', 'a,b\n1,2\n');
    write('gap/part-1.csv', 'a,c\n3,4\n');
    for (const [, reader] of engines()) {
      const error = await failure(async () => scanAll(reader, await files('gap'), [{ name: 'b', type: 'int' }]));
      expect(error.message).toBe(
        `Column "b" is missing from ${join(dir, 'gap/part-1.csv')}. Available columns: "a", "c". ` +
          `Fix: add the column to that file, remove the file from the table, or set the role of "b" to 'ignore' in the schema.`,
      );
      expect(error.column).toBe('b');
    }
  });

  it('a line with too many fields, an unclosed quote, an empty shard, a bad blockRows', async () => {
    write('fields.csv', 'a,b\n1,2\n3,4,5\n');
    write('quote.csv', 'a,b\n1,"2\n3,4\n');
    write('empty-shard.csv', '');
    for (const [, reader] of engines()) {
      const fields = await failure(() => scanAll(reader, resolvedCsv('fields.csv'), [{ name: 'a', type: 'int' }]));
      expect(fields.message).toBe(
        `${join(dir, 'fields.csv')} line 3 has 3 field(s), but the header has 2. Fix: put double quotes around cells that contain a comma or a line break, or repair the line.`,
      );
      const quote = await failure(() => scanAll(reader, resolvedCsv('quote.csv'), [{ name: 'a', type: 'int' }]));
      expect(quote.message).toMatch(/quote\.csv line 2 .*quote|quote\.csv line \d+ has \d field/);
      const empty = await failure(() => scanAll(reader, resolvedCsv('empty-shard.csv'), [{ name: 'a', type: 'int' }]));
      expect(empty.message).toContain('empty-shard.csv is empty: it has no header line');
      await expect(scanAll(reader, resolvedCsv('fields.csv'), [{ name: 'a', type: 'int' }], 0)).rejects.toThrow(
        /blockRows must be a positive integer/,
      );
      await expect(scanAll(reader, resolvedCsv('fields.csv'), [{ name: 'a', type: 'int' }], { blockRow: 10 } as never)).rejects.toThrow(
        /scan: unknown option 'blockRow' \(did you mean 'blockRows'\?\)/,
      );
    }
  });
});

function resolvedCsv(name: string): SourceFile[] {
  return [{ path: join(dir, name), format: 'csv', bytes: 1, mtimeMs: 0 }];
}
