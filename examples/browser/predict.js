// The scoring page: loads a model bundle (file picker, URL field, or ?model=<url>), shows what the
// model reads, and scores rows given as CSV text with bundle.predict. The CSV is read by webmtl's own
// light reader (the one prepareTable uses in a page), typed as the bundle's schema says, so a cell
// reaches predict exactly as the same cell of a training file did. Leaves its state on
// window.__predict for the end-to-end test (test/browser-predict.test.ts).
import * as wm from '../../dist/browser/webmtl.js';
import { initBackend } from './experiment.js';

const $ = (id) => document.getElementById(id);
/** Rows read and scored at a time; the page draws its progress in between. */
const BLOCK_ROWS = 4096;
/** Rows drawn in the results table (all of them are scored, and in the CSV download). */
const SHOWN_ROWS = 200;

/** What the test reads: phase 'loading' | 'ready' | 'scoring' | 'scored' | 'error'. */
const state = { phase: 'loading', backend: null, model: null, rows: null, scores: null, error: null };
window.__predict = state;

let bundle = null;
let busy = false;
/** The backend as the status line names it, with the reason when WebGPU was asked for and is missing. */
let backendText = '';
let backendKind = '';
let downloadUrl = null;

function setStatus(text, kind = '') {
  $('status').textContent = text;
  $('status').className = kind;
}

/** Shows an error as webmtl worded it (name: message), and records it for the test. */
function showError(e) {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  setStatus(text, 'error');
  $('progress').textContent = '';
  Object.assign(state, { phase: 'error', error: text });
}

/** A CSV cell: quoted when it holds a comma, a quote or a line break. */
function csvCell(v) {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// --- what the bundle reads ----------------------------------------------------------------------

/**
 * The columns a row must have, with the type the reader gives each: with preprocessing, the schema's
 * feature columns (raw values); without it, the model's features (ids, numbers, '|'-separated ids).
 */
function inputColumns(b) {
  if (b.preprocessor) {
    return b.preprocessor.schema.columns
      .filter((c) => c.role === 'sparse' || c.role === 'dense' || c.role === 'sequence')
      .map((c) => ({ name: c.name, role: c.role, type: c.type, separator: c.separator ?? '|' }));
  }
  const types = { sparse: 'int', dense: 'float', sequence: 'string' };
  return b.model.features.map((f) => ({ name: f.name, role: f.kind, type: types[f.kind], separator: '|' }));
}

/** One example value per input column: the most common training category, the training mean. */
function exampleValues(b) {
  if (!b.preprocessor) {
    return b.model.features.map((f) => (f.kind === 'dense' ? 0 : f.kind === 'sparse' ? 1 : '1|2'));
  }
  const fitted = new Map(b.preprocessor.toJSON().columns.map((s) => [s.name, s]));
  return inputColumns(b).map((c) => {
    const s = fitted.get(c.name);
    if (s.role === 'sparse') return s.vocabulary[0] ?? null; // ids go by descending training count
    if (s.role === 'sequence') return s.vocabulary.slice(0, 2).join(c.separator);
    if (!(s.count > 0)) return null;
    return c.type === 'int' ? Math.round(s.mean) : Number(s.mean.toPrecision(4));
  });
}

function parameterCount(model) {
  let n = 0;
  for (const t of Object.values(model.stateDict())) n += t.shape.reduce((a, d) => a * d, 1);
  return n;
}

function showModel(b, source) {
  const config = b.model.config();
  const cols = inputColumns(b);
  const scalars = Object.entries(config.options)
    .filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
    .map(([k, v]) => `${k} ${v}`);
  const facts = [
    ['model', `${config.model}${scalars.length ? ` (${scalars.join(', ')})` : ''}`],
    ['tasks', b.tasks.map((t) => `${t.name} (${t.type})`).join(', ')],
    ['parameters', parameterCount(b.model).toLocaleString('en-US')],
    ['written by', `webmtl ${b.version}`],
    ['from', source],
  ];
  for (const [k, v] of Object.entries(b.metadata)) facts.push([k, v]);
  const dl = $('model-facts');
  dl.replaceChildren();
  for (const [k, v] of facts) {
    dl.append(Object.assign(document.createElement('dt'), { textContent: k }));
    dl.append(Object.assign(document.createElement('dd'), { textContent: v }));
  }

  // Input columns by role; labels and ignored columns of the training table are listed but not needed.
  const box = $('model-columns');
  box.replaceChildren();
  const vocab = b.preprocessor?.vocabSizes ?? Object.fromEntries(b.model.features.map((f) => [f.name, f.vocabSize]));
  const schema = b.preprocessor?.schema.columns ?? [];
  const groups = [
    ['categorical', cols.filter((c) => c.role === 'sparse'), (c) => `${vocab[c.name] - 1} values`],
    ['numeric', cols.filter((c) => c.role === 'dense'), (c) => c.type],
    ['sequence', cols.filter((c) => c.role === 'sequence'), (c) => `${vocab[c.name] - 1} tokens, "${c.separator}"`],
    ['labels, not needed', schema.filter((c) => c.role === 'label'), () => ''],
    ['ignored', schema.filter((c) => c.role === 'ignore'), () => ''],
  ];
  for (const [title, list, note] of groups) {
    if (!list.length) continue;
    const line = document.createElement('div');
    line.className = 'role';
    line.append(Object.assign(document.createElement('b'), { textContent: `${title} (${list.length})` }));
    for (const c of list) {
      const chip = Object.assign(document.createElement('span'), { className: 'chip', textContent: c.name });
      const n = note(c);
      if (n) chip.append(' ', Object.assign(document.createElement('small'), { textContent: n }));
      line.append(chip);
    }
    box.append(line);
  }
  if (!b.preprocessor) {
    box.append(
      Object.assign(document.createElement('p'), {
        className: 'caption',
        textContent:
          'This bundle has no preprocessing: rows hold the model inputs themselves (an id per categorical column, a number per numeric one, ids separated by "|" for a sequence).',
      }),
    );
  }
  $('model').hidden = false;
}

// --- loading ------------------------------------------------------------------------------------

async function load(source, label) {
  if (busy) return;
  busy = true;
  try {
    setStatus(`Loading ${label}…`);
    Object.assign(state, { phase: 'loading', error: null, model: null, rows: null, scores: null });
    const next = await wm.loadModel(source);
    bundle?.dispose();
    bundle = next;
    showModel(bundle, label);
    const cols = inputColumns(bundle);
    $('csv').value = `${cols.map((c) => csvCell(c.name)).join(',')}\n${exampleValues(bundle).map(csvCell).join(',')}\n`;
    $('rows').hidden = false;
    $('results').hidden = true;
    $('warning').textContent = '';
    setStatus(
      `Loaded ${bundle.model.config().model} with tasks ${bundle.tasks.map((t) => t.name).join(', ')} · ${backendText}`,
      backendKind,
    );
    Object.assign(state, {
      phase: 'ready',
      model: { name: bundle.model.config().model, tasks: bundle.tasks, version: bundle.version, columns: cols.map((c) => c.name) },
    });
  } catch (e) {
    showError(e);
  } finally {
    busy = false;
  }
}

// --- reading and scoring rows -------------------------------------------------------------------

/** A raw column's cell as predict takes it: a number, a text, or null for an empty cell. */
function cellOf(column, i) {
  if (column.type === 'string') return column.values[i];
  if (column.type === 'int') return column.missing?.[i] === 1 ? null : column.values[i];
  return Number.isNaN(column.values[i]) ? null : column.values[i];
}

/** A sequence cell of a bundle without preprocessing: '|'-separated ids → a list of ids. */
function idList(text, column, place) {
  if (text === null) return [];
  return text
    .split(column.separator)
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map((t) => {
      if (!/^\d+$/.test(t))
        throw new wm.DataError(
          `Column "${column.name}" at ${place}: "${t}" is not an id. Fix: give whole-number ids separated by "${column.separator}".`,
        );
      return Number(t);
    });
}

/**
 * Reads the CSV text with webmtl's light reader, the input columns typed as the schema says (a cell
 * that does not fit is a DataError naming line and column; a missing column is one too), and yields
 * blocks of rows for predict. Returns the header's columns that are not inputs.
 */
async function* readRows(b, text) {
  const cols = inputColumns(b);
  const files = await wm.resolveSources({ name: 'the rows', text });
  const reader = await wm.openReader('light', files);
  try {
    for await (const block of reader.scan(files, cols, { blockRows: BLOCK_ROWS })) {
      const rows = new Array(block.rows);
      for (let i = 0; i < block.rows; i++) {
        const row = {};
        for (const c of cols) {
          const v = cellOf(block.columns[c.name], i);
          row[c.name] = !b.preprocessor && c.role === 'sequence' ? idList(v, c, wm.rowPlace(block.source, i)) : v;
        }
        rows[i] = row;
      }
      yield rows;
    }
  } finally {
    await reader.close();
  }
}

async function score() {
  if (busy || !bundle) return;
  busy = true;
  const text = $('csv').value;
  const started = performance.now();
  try {
    Object.assign(state, { phase: 'scoring', error: null, rows: null, scores: null });
    setStatus('Scoring…');
    const header = wm.csvHeaderOfText(text);
    const inputs = new Set(inputColumns(bundle).map((c) => c.name));
    const known = new Set(bundle.preprocessor?.schema.columns.map((c) => c.name) ?? []);
    const unknown = header.filter((h) => !inputs.has(h) && !known.has(h));
    $('warning').textContent = unknown.length ? `Not an input of this model, left out: ${unknown.map((h) => `"${h}"`).join(', ')}.` : '';

    const rows = [];
    const scores = Object.fromEntries(bundle.tasks.map((t) => [t.name, []]));
    for await (const block of readRows(bundle, text)) {
      const out = await bundle.predict(block);
      for (const t of bundle.tasks) for (const v of out[t.name]) scores[t.name].push(v);
      for (const r of block) rows.push(r);
      $('progress').textContent = `${rows.length.toLocaleString('en-US')} rows scored…`;
      await new Promise((done) => setTimeout(done, 0)); // let the page draw between blocks
    }
    const seconds = (performance.now() - started) / 1000;
    showScores(rows, scores);
    setStatus(`Scored ${rows.length.toLocaleString('en-US')} row${rows.length === 1 ? '' : 's'} · ${backendText}`, backendKind);
    $('progress').textContent = `${seconds.toFixed(2)} s, reading the CSV included.`;
    Object.assign(state, { phase: 'scored', rows, scores });
  } catch (e) {
    showError(e);
  } finally {
    busy = false;
  }
}

function showScores(rows, scores) {
  const tasks = bundle.tasks;
  const cols = inputColumns(bundle).map((c) => c.name);
  const head = $('scores').tHead;
  head.replaceChildren();
  const hr = head.insertRow();
  const th = (text, className = '') => hr.append(Object.assign(document.createElement('th'), { textContent: text, className }));
  th('row');
  for (const t of tasks) th(t.type === 'classification' ? `P(${t.name})` : t.name, 'score');
  for (const c of cols) th(c);

  const body = $('scores').tBodies[0];
  body.replaceChildren();
  for (let i = 0; i < Math.min(rows.length, SHOWN_ROWS); i++) {
    const tr = body.insertRow();
    tr.insertCell().textContent = String(i + 1);
    for (const t of tasks) {
      const v = scores[t.name][i];
      const td = tr.insertCell();
      td.className = 'score';
      if (t.type === 'classification') {
        const bar = Object.assign(document.createElement('span'), { className: 'bar' });
        bar.style.width = `${Math.round(v * 40)}px`;
        td.append(bar, v.toFixed(4));
      } else td.textContent = v.toPrecision(5);
    }
    for (const c of cols) {
      const v = rows[i][c];
      const td = tr.insertCell();
      if (v === null) {
        td.textContent = 'missing';
        td.className = 'missing';
      } else td.textContent = Array.isArray(v) ? v.join('|') : String(v);
    }
  }

  // Every row with its scores, as CSV.
  const lines = [[...tasks.map((t) => t.name), ...cols].map(csvCell).join(',')];
  rows.forEach((r, i) => {
    const cells = [...tasks.map((t) => scores[t.name][i]), ...cols.map((c) => (Array.isArray(r[c]) ? r[c].join('|') : r[c]))];
    lines.push(cells.map(csvCell).join(','));
  });
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([`${lines.join('\n')}\n`], { type: 'text/csv' }));
  const caption = $('results-caption');
  caption.replaceChildren(
    rows.length > SHOWN_ROWS ? `The first ${SHOWN_ROWS} of ${rows.length.toLocaleString('en-US')} rows. ` : '',
    Object.assign(document.createElement('a'), {
      href: downloadUrl,
      download: 'scores.csv',
      textContent: 'Download every row with its scores (CSV)',
    }),
  );
  $('results').hidden = false;
}

// --- the page -----------------------------------------------------------------------------------

async function main() {
  const params = new URLSearchParams(location.search);
  const want = params.get('backend') ?? 'wasm';
  const be = await initBackend(wm, want);
  state.backend = be.label;
  backendText = be.fallbackReason ? `${be.label} (${want} is not available here: ${be.fallbackReason})` : be.label;
  backendKind = be.fallbackReason ? 'warn' : '';
  setStatus(`Backend: ${be.fallbackReason ? backendText : `${be.label} · ${be.adapter}`}. Choose a model bundle.`, backendKind);
  Object.assign(state, { phase: 'idle', backendName: be.backend, fallbackReason: be.fallbackReason });

  $('model-file').addEventListener('change', (e) => {
    const file = e.target.files?.[0];
    if (file) load(file, file.name);
  });
  $('load').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $('model-url').value.trim();
    if (url) load(new URL(url, location.href).href, url);
  });
  $('csv-file').addEventListener('change', async (e) => {
    const file = e.target.files?.[0];
    if (!file) return;
    $('csv').value = await file.text();
    e.target.value = ''; // the same file again fires 'change'
    await score();
  });
  $('score').addEventListener('click', score);

  const model = params.get('model');
  if (model) {
    $('model-url').value = model;
    await load(new URL(model, location.href).href, model);
  }
}

window.addEventListener('unhandledrejection', (e) => showError(e.reason));
main().catch(showError);
