// The table schema: what each column of the user's files is (a label, a sparse or dense feature, a
// sequence of tokens, or nothing to read) and how the files store it. A JSON file the user can read
// and edit (`webmtl-schema` version 1), proposed from a sample of rows, or built from the CLI's
// column lists. Browser-safe: plain data, no file access.

import { describeUnknown, unknownKeys } from '../options.js';
import { DataError, listNames } from './errors.js';
import { type RawBlock, type RawColumn, SOURCE_TYPES, type SourceType } from './raw.js';

/** What a column is for. */
export type ColumnRole = 'label' | 'sparse' | 'dense' | 'sequence' | 'ignore';
export const COLUMN_ROLES: readonly ColumnRole[] = ['label', 'sparse', 'dense', 'sequence', 'ignore'];

export type TaskType = 'classification' | 'regression';
export type DenseScale = 'standard' | 'minmax' | 'none';
export type FeatureSide = 'user' | 'item';

/**
 * One column of the table.
 *
 * Missing values (an empty cell, null):
 * - label: an error naming the file, line, column and the fix (fill the label or drop the row);
 * - sparse: "missing" is a category of its own, counted in training like any value (id 0 when it was
 *   not seen in training, or seen fewer than `minCount` times);
 * - dense: the training mean (so 0 after standard scaling; the scaled mean with minmax; the mean itself
 *   with 'none');
 * - sequence: an empty sequence (all padding, id 0).
 */
export interface SchemaColumn {
  name: string;
  role: ColumnRole;
  /** How the files store it; readers ask the file engine for exactly this type. */
  type: SourceType;
  /** role 'label': default 'classification' (values 0/1); 'regression' takes any finite number. */
  task?: TaskType;
  /** role 'sparse' / 'sequence': values seen fewer times than this in training map to id 0 (default 1). */
  minCount?: number;
  /** role 'sparse' / 'sequence': the feature's embedding size (default: the model preset's). */
  embedDim?: number;
  /** role 'sparse' / 'sequence': which side of the impression it describes; ESMM embeds 'item' columns in its item tower (default 'user'). */
  side?: FeatureSide;
  /** role 'dense': default 'standard' ((x − mean) / std); 'minmax' to [0, 1]; 'none' keeps x. */
  scale?: DenseScale;
  /** role 'sequence': the token separator inside a cell (default '|'). */
  separator?: string;
  /** role 'sequence': sequences are padded or cut to this length (default: the longest in training). */
  maxLength?: number;
}

export interface TableSchema {
  format: 'webmtl-schema';
  version: 1;
  columns: SchemaColumn[];
}

const SCHEMA_KEYS = ['format', 'version', 'columns'] as const;
/** Every column key, in the order schemaToJSON writes them. */
const COLUMN_KEYS = ['name', 'role', 'type', 'task', 'minCount', 'embedDim', 'side', 'scale', 'separator', 'maxLength'] as const;
/** The optional keys each role takes. */
const ROLE_KEYS: Record<ColumnRole, readonly string[]> = {
  label: ['task'],
  sparse: ['minCount', 'embedDim', 'side'],
  dense: ['scale'],
  sequence: ['minCount', 'embedDim', 'side', 'separator', 'maxLength'],
  ignore: [],
};
/** The source types each role accepts. */
const ROLE_TYPES: Record<ColumnRole, readonly SourceType[]> = {
  label: ['int', 'float'],
  sparse: ['int', 'string'],
  dense: ['int', 'float'],
  sequence: ['string'],
  ignore: ['int', 'float', 'string'],
};
const TASKS: readonly TaskType[] = ['classification', 'regression'];
const SCALES: readonly DenseScale[] = ['standard', 'minmax', 'none'];
const SIDES: readonly FeatureSide[] = ['user', 'item'];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string =>
  v === undefined ? 'undefined' : typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? v);
const choices = (options: readonly string[]): string => options.map((o) => JSON.stringify(o)).join(', ');

function schemaError(where: string, path: string, what: string, fix: string, column?: string, value?: unknown): DataError {
  return new DataError(`${where}: ${path} ${what}. Fix: ${fix}`, { column, value });
}

/** `value` is one of `options`, else an error naming the path, the options and a near miss. */
function checkChoice<T extends string>(where: string, path: string, value: unknown, options: readonly T[], column?: string): T {
  if (typeof value === 'string' && (options as readonly string[]).includes(value)) return value as T;
  const near = typeof value === 'string' ? describeUnknown([value], options) : show(value);
  throw schemaError(where, path, `is ${near}, not one of ${choices(options)}`, `use one of ${choices(options)}.`, column, value);
}

function checkPositiveInteger(where: string, path: string, value: unknown, column: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  throw schemaError(where, path, `is ${show(value)}, not a whole number ≥ 1`, `give a whole number such as 1, 2 or 16.`, column, value);
}

/**
 * Reads and checks a schema: an object, or its JSON text. Every error is a DataError that names the
 * JSON path (`columns[3].role`), the value and the fix; unknown keys are errors, with a near miss.
 * `where` names the source in messages (a file name; default "the schema").
 */
export function parseSchema(json: unknown, where = 'the schema'): TableSchema {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new DataError(
        `${where} is not valid JSON (${(e as Error).message}). Fix: correct the file, or write a new one with "webmtl schema".`,
      );
    }
  }
  if (!isRecord(value)) {
    throw new DataError(
      `${where} is ${show(value)}, not a schema object. Fix: give {"format": "webmtl-schema", "version": 1, "columns": [...]}.`,
    );
  }
  const unknown = unknownKeys(value, SCHEMA_KEYS);
  if (unknown.length) {
    throw new DataError(
      `${where}: unknown key${unknown.length > 1 ? 's' : ''} ${describeUnknown(unknown, SCHEMA_KEYS)} at the top level. ` +
        `Fix: a schema holds only ${choices(SCHEMA_KEYS)}.`,
    );
  }
  if (value.format !== 'webmtl-schema') {
    throw schemaError(
      where,
      'format',
      `is ${show(value.format)}, not "webmtl-schema"`,
      'set "format": "webmtl-schema".',
      undefined,
      value.format,
    );
  }
  if (value.version !== 1) {
    throw schemaError(
      where,
      'version',
      `is ${show(value.version)}; this webmtl reads version 1`,
      'set "version": 1.',
      undefined,
      value.version,
    );
  }
  if (!Array.isArray(value.columns)) {
    throw schemaError(where, 'columns', `is ${show(value.columns)}, not a list`, 'give "columns": [{"name": …, "role": …, "type": …}, …].');
  }
  const columns = value.columns.map((c, i) => parseColumn(c, `columns[${i}]`, where));
  const schema: TableSchema = { format: 'webmtl-schema', version: 1, columns };
  checkSchema(schema, where);
  return schema;
}

function parseColumn(raw: unknown, path: string, where: string): SchemaColumn {
  if (!isRecord(raw)) {
    throw schemaError(where, path, `is ${show(raw)}, not a column object`, 'give {"name": "…", "role": "…", "type": "…"}.');
  }
  const unknown = unknownKeys(raw, COLUMN_KEYS);
  const column = typeof raw.name === 'string' ? raw.name : undefined;
  if (unknown.length) {
    throw schemaError(
      where,
      path,
      `has unknown key${unknown.length > 1 ? 's' : ''} ${describeUnknown(unknown, COLUMN_KEYS)}`,
      `a column takes only ${choices(COLUMN_KEYS)}.`,
      column,
    );
  }
  if (typeof raw.name !== 'string' || raw.name.length === 0) {
    throw schemaError(
      where,
      `${path}.name`,
      `is ${show(raw.name)}, not a column name`,
      "give the column's name as in the file header.",
      column,
      raw.name,
    );
  }
  const name = raw.name;
  const role = checkChoice(where, `${path}.role`, raw.role, COLUMN_ROLES, name);
  const type = checkChoice(where, `${path}.type`, raw.type, SOURCE_TYPES, name);
  const out: SchemaColumn = { name, role, type };
  for (const key of COLUMN_KEYS.slice(3)) {
    if (!(key in raw)) continue;
    const at = `${path}.${key}`;
    const v = raw[key];
    if (!ROLE_KEYS[role].includes(key)) {
      const roles = COLUMN_ROLES.filter((r) => ROLE_KEYS[r].includes(key));
      throw schemaError(
        where,
        at,
        `is set, but "${key}" applies only to ${roles.map((r) => `"${r}"`).join(' and ')} columns and "${name}" is "${role}"`,
        `remove "${key}" from "${name}", or change its role.`,
        name,
        v,
      );
    }
    if (key === 'task') out.task = checkChoice(where, at, v, TASKS, name);
    else if (key === 'scale') out.scale = checkChoice(where, at, v, SCALES, name);
    else if (key === 'side') out.side = checkChoice(where, at, v, SIDES, name);
    else if (key === 'separator') {
      if (typeof v !== 'string' || v.length === 0) {
        throw schemaError(where, at, `is ${show(v)}, not a non-empty text`, 'give the text between tokens, such as "|" or ";".', name, v);
      }
      out.separator = v;
    } else if (key === 'minCount') out.minCount = checkPositiveInteger(where, at, v, name);
    else if (key === 'embedDim') out.embedDim = checkPositiveInteger(where, at, v, name);
    else out.maxLength = checkPositiveInteger(where, at, v, name);
  }
  return out;
}

/** The checks across columns and between a column's role and type (parseSchema, schemaFromLists, proposeSchema). */
function checkSchema(schema: TableSchema, where: string): void {
  const seen = new Map<string, number>();
  schema.columns.forEach((c, i) => {
    const first = seen.get(c.name);
    if (first !== undefined) {
      throw schemaError(
        where,
        `columns[${i}].name`,
        `is "${c.name}", which columns[${first}] already names`,
        'name each column once (remove or rename one of them).',
        c.name,
      );
    }
    seen.set(c.name, i);
    if (!ROLE_TYPES[c.role].includes(c.type)) throw roleTypeError(where, `columns[${i}]`, c);
  });
  const count = (roles: readonly ColumnRole[]) => schema.columns.filter((c) => roles.includes(c.role)).length;
  if (count(['label']) === 0) {
    throw new DataError(`${where} has no label column. Fix: set "role": "label" on the column(s) to predict (e.g. click, purchase).`);
  }
  if (count(['sparse', 'dense', 'sequence']) === 0) {
    throw new DataError(
      `${where} has no feature column (every column is a label or ignored). Fix: set "role" to "sparse", "dense" or "sequence" on the inputs.`,
    );
  }
}

function roleTypeError(where: string, path: string, c: SchemaColumn): DataError {
  const fixes: Record<ColumnRole, string> = {
    label: `a label must be stored as numbers (0/1 for classification): encode "${c.name}" as numbers in the file, or give it another role.`,
    sparse:
      c.type === 'float'
        ? `categories are whole numbers or text: set "type": "int" or "string" for "${c.name}", or "role": "dense".`
        : `set "type" to "int" or "string".`,
    dense: `a dense column must hold numbers: set "role": "sparse" for the text column "${c.name}" (its values become categories).`,
    sequence: `a sequence column holds text cells of tokens ("17|4|230"): set "type": "string" for "${c.name}", or "role": "sparse".`,
    ignore: '',
  };
  return schemaError(
    where,
    path,
    `is "${c.name}" with role "${c.role}" and type "${c.type}", but a ${c.role} column must be ${choices(ROLE_TYPES[c.role])}`,
    fixes[c.role],
    c.name,
    c.type,
  );
}

/**
 * The schema as JSON text: two-space indentation, one column per line, keys in a fixed order (name,
 * role, type, then the role's options), a trailing newline. parseSchema reads it back unchanged.
 */
export function schemaToJSON(s: TableSchema): string {
  const lines = s.columns.map((c) => {
    const entries = COLUMN_KEYS.filter((k) => c[k] !== undefined).map((k) => `${JSON.stringify(k)}: ${JSON.stringify(c[k])}`);
    return `    { ${entries.join(', ')} }`;
  });
  return `{\n  "format": "webmtl-schema",\n  "version": 1,\n  "columns": [\n${lines.join(',\n')}\n  ]\n}\n`;
}

/** The columns with a role, in schema order. */
export function schemaColumns(s: TableSchema, role: ColumnRole): SchemaColumn[] {
  return s.columns.filter((c) => c.role === role);
}

/**
 * A schema from column lists (the CLI's --label / --sparse / --dense / --sequence): each column gets its
 * type from `header`; columns no list names are ignored. Labels come first, in the order given (their
 * order is the task order), then the features in header order. A name not in the header, or in two
 * lists, is an error.
 */
export function schemaFromLists(
  header: readonly { name: string; type: SourceType }[],
  lists: { label: string[]; sparse?: string[]; dense?: string[]; sequence?: string[] },
): TableSchema {
  const unknown = unknownKeys(lists, ['label', 'sparse', 'dense', 'sequence']);
  if (unknown.length) {
    throw new DataError(
      `schemaFromLists: unknown list${unknown.length > 1 ? 's' : ''} ${describeUnknown(unknown, ['label', 'sparse', 'dense', 'sequence'])}. Fix: the lists are label, sparse, dense, sequence.`,
    );
  }
  const names = header.map((h) => h.name);
  const types = new Map(header.map((h) => [h.name, h.type]));
  const roleOf = new Map<string, ColumnRole>();
  const lists4: [ColumnRole, readonly string[]][] = [
    ['label', lists.label ?? []],
    ['sparse', lists.sparse ?? []],
    ['dense', lists.dense ?? []],
    ['sequence', lists.sequence ?? []],
  ];
  for (const [role, list] of lists4) {
    for (const name of list) {
      if (!types.has(name)) {
        throw new DataError(
          `The ${role} column ${describeUnknown([name], names)} is not in the file's header. Columns: ${listNames(names)}. ` +
            `Fix: spell it as the header does.`,
          { column: name },
        );
      }
      const before = roleOf.get(name);
      if (before !== undefined) {
        throw new DataError(`Column "${name}" is listed both as ${before} and as ${role}. Fix: name it in one list only.`, {
          column: name,
        });
      }
      roleOf.set(name, role);
    }
  }
  const columns: SchemaColumn[] = [
    ...(lists.label ?? []).map((name): SchemaColumn => ({ name, role: 'label', type: types.get(name)! })),
    ...header
      .filter((h) => roleOf.get(h.name) !== 'label')
      .map((h): SchemaColumn => ({ name: h.name, role: roleOf.get(h.name) ?? 'ignore', type: h.type })),
  ];
  const schema: TableSchema = { format: 'webmtl-schema', version: 1, columns };
  checkSchema(schema, 'The column lists');
  return schema;
}

// ---------------------------------------------------------------- proposing a schema from a sample

/** Words that make a column a label when they are its name, or one of its two words. */
const LABEL_WORDS = new Set([
  'click',
  'clicks',
  'purchase',
  'purchases',
  'conversion',
  'conversions',
  'label',
  'target',
  'y',
  'ctr',
  'cvr',
  'income',
]);
/** Words that make an integer column a category (sparse) rather than a quantity. */
const ID_WORDS = new Set([
  'id',
  'ids',
  'code',
  'codes',
  'recode',
  'type',
  'types',
  'category',
  'categories',
  'categorical',
  'cat',
  'cats',
  'class',
  'kind',
  'zip',
  'zipcode',
]);

/** "userId", "user_id", "User ID" → ["user", "id"]. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

function looksLikeLabel(name: string): boolean {
  const words = nameWords(name);
  // One word ("click"), or two of which one is a label word ("is_click", "income_50k"); longer names
  // ("clicks_per_day") are usually features about the label's subject.
  return (words.length === 1 || words.length === 2) && words.some((w) => LABEL_WORDS.has(w));
}

function looksLikeId(name: string): boolean {
  // Ali-CCP names its categorical fields by number: "101", "109_14", "150_14".
  if (/^[0-9][0-9_]*$/.test(name)) return true;
  return nameWords(name).some((w) => ID_WORDS.has(w));
}

/** A decimal number as text ("12", "-3.5", "1e3"), but not one with a leading zero ("007": an identifier). */
const NUMBER_TEXT = /^[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$|^[+-]?\.[0-9]+$/;

/** What a sample column holds, as numbers when it can be read as numbers. */
interface ColumnProfile {
  type: SourceType;
  /** Non-missing values (numbers for int/float, text for string). */
  values: (number | string)[];
  missing: number;
  /** Distinct cells, a missing cell counting as one value. */
  distinct: number;
  /** Cells holding the sequence separator '|'. */
  withSeparator: number;
}

function profile(col: RawColumn, rows: number): ColumnProfile {
  const values: (number | string)[] = [];
  let missing = 0;
  let withSeparator = 0;
  if (col.type === 'string') {
    let numeric = true;
    let integral = true;
    for (let i = 0; i < rows; i++) {
      const v = col.values[i];
      if (v === null || v === '') {
        missing++;
        continue;
      }
      values.push(v);
      if (v.includes('|')) withSeparator++;
      if (!numeric) continue;
      const x = Number(v);
      // Not a number, or a whole number beyond 2^53 (a 64-bit hash: only its text is exact).
      if (!NUMBER_TEXT.test(v.trim()) || (Number.isInteger(x) && !Number.isSafeInteger(x))) numeric = false;
      else if (!Number.isInteger(x)) integral = false;
    }
    // Text that is all numbers is treated as the numbers (a CSV reader may hand them over as text).
    if (numeric && values.length > 0 && withSeparator === 0) {
      const numbers = values.map((v) => Number(v));
      return { type: integral ? 'int' : 'float', values: numbers, missing, distinct: distinctCount(numbers, missing), withSeparator };
    }
  } else {
    for (let i = 0; i < rows; i++) {
      const v = col.values[i];
      const isMissing = col.type === 'int' ? col.missing?.[i] === 1 : Number.isNaN(v);
      if (isMissing) missing++;
      else values.push(v);
    }
  }
  return { type: col.type, values, missing, distinct: distinctCount(values, missing), withSeparator };
}

function distinctCount(values: readonly (number | string)[], missing: number): number {
  return new Set(values).size + (missing > 0 ? 1 : 0);
}

/**
 * Proposes a schema from a sample of rows (the start of the files), for the user to check and edit.
 *
 * Labels: the `labels` option (in its order), else every numeric column whose name is a label word
 * (click, purchase, conversion, label, target, y, ctr, cvr, income, plurals too) or two words one of
 * which is, e.g. `click`, `is_click`, `income_50k` (not `clicks_per_day`). A label whose sampled values are all 0 or 1 is a
 * classification task, otherwise regression. Labels come first in the schema (their order is the
 * task order); the other columns follow in file order.
 *
 * Features, column by column (the `ignore` option first):
 * - a column with a single value in the sample (a missing cell counting as a value) → ignore;
 * - text where most non-missing cells (more than half) hold the separator '|' → sequence;
 * - text where every non-missing cell is a decimal number (not "007": a leading zero marks an
 *   identifier; nor a whole number beyond 2^53, such as a 64-bit hash) → treated as those numbers,
 *   by the rules below;
 * - other text → sparse (each distinct text is a category);
 * - real numbers (float) → dense;
 * - whole numbers (int) → sparse when the name looks like an identifier or a category (a word id,
 *   code, recode, type, category, categorical, cat, class, kind, zip; or a name of digits such as Ali-CCP's "101"
 *   or "109_14"), or when the column holds at most 2 distinct values (a flag); else dense (age,
 *   counts, hours, amounts).
 * Text columns that hold numbers get the number type (int or float) in the schema, so the file
 * engine reads them as numbers.
 *
 * `header`: the file's column order. Without it the order is the sample's `Object.keys`, which puts
 * integer-like names ("101", "205") first in numeric order, as JavaScript objects do.
 */
export function proposeSchema(
  sample: RawBlock,
  options: { labels?: readonly string[]; ignore?: readonly string[]; header?: readonly string[] } = {},
): TableSchema {
  const known = ['labels', 'ignore', 'header'];
  const unknown = unknownKeys(options, known);
  if (unknown.length) {
    throw new DataError(
      `proposeSchema: unknown option${unknown.length > 1 ? 's' : ''} ${describeUnknown(unknown, known)}. Fix: the options are ${known.join(', ')}.`,
    );
  }
  const names = options.header !== undefined ? [...options.header] : Object.keys(sample.columns);
  if (options.header !== undefined) {
    const inSample = Object.keys(sample.columns);
    const absent = names.filter((n) => !(n in sample.columns));
    const unlisted = inSample.filter((n) => !names.includes(n));
    if (absent.length || unlisted.length || new Set(names).size !== names.length) {
      throw new DataError(
        `proposeSchema: the header option (${listNames(names)}) must name each column of the sample from ${sample.source.file} once ` +
          `(the sample's columns: ${listNames(inSample)}). Fix: pass the file's header as describe() gives it.`,
      );
    }
  }
  for (const [what, list] of [
    ['label', options.labels ?? []],
    ['ignored', options.ignore ?? []],
  ] as const) {
    for (const name of list) {
      if (!(name in sample.columns)) {
        throw new DataError(
          `The ${what} column ${describeUnknown([name], names)} is not in ${sample.source.file}. Columns: ${listNames(names)}. Fix: spell it as the header does.`,
          { column: name },
        );
      }
    }
  }
  const ignore = new Set(options.ignore ?? []);
  const profiles = new Map(names.map((n) => [n, profile(sample.columns[n], sample.rows)]));
  const labelNames =
    options.labels !== undefined
      ? [...options.labels]
      : names.filter((n) => !ignore.has(n) && profiles.get(n)!.type !== 'string' && looksLikeLabel(n));
  if (labelNames.length === 0) {
    throw new DataError(
      `No label column found in ${sample.source.file} (no numeric column is named like click, purchase, conversion, label, target, y, ctr, cvr or income). ` +
        `Columns: ${listNames(names)}. Fix: name the label columns (CLI: --label click,purchase; API: proposeSchema(sample, { labels: [...] })).`,
    );
  }
  const columns: SchemaColumn[] = labelNames.map((name) => proposeLabel(name, profiles.get(name)!, sample.source.file));
  const isLabel = new Set(labelNames);
  for (const name of names) {
    if (isLabel.has(name)) continue;
    const p = profiles.get(name)!;
    const type = p.type;
    if (ignore.has(name) || p.distinct <= 1) columns.push({ name, role: 'ignore', type });
    else if (type === 'string') {
      const sequence = p.withSeparator * 2 > p.values.length;
      columns.push({ name, role: sequence ? 'sequence' : 'sparse', type });
    } else if (type === 'float') columns.push({ name, role: 'dense', type, scale: 'standard' });
    else if (looksLikeId(name) || p.distinct - (p.missing > 0 ? 1 : 0) <= 2) columns.push({ name, role: 'sparse', type });
    else columns.push({ name, role: 'dense', type, scale: 'standard' });
  }
  const schema: TableSchema = { format: 'webmtl-schema', version: 1, columns };
  checkSchema(schema, `The schema proposed for ${sample.source.file}`);
  return schema;
}

function proposeLabel(name: string, p: ColumnProfile, file: string): SchemaColumn {
  if (p.type === 'string') {
    const examples = [...new Set(p.values)].slice(0, 3).map((v) => JSON.stringify(v));
    throw new DataError(
      `Label column "${name}" in ${file} holds text (${examples.join(', ')}), not numbers. ` +
        `Fix: encode it as numbers in the file (0/1 for a classification task), or choose another label.`,
      { column: name, value: p.values[0] },
    );
  }
  const binary = p.values.every((v) => v === 0 || v === 1);
  return { name, role: 'label', type: p.type, task: binary ? 'classification' : 'regression' };
}
