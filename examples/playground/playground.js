// The playground page: controls, a Web Worker that trains (worker.js), and five views drawn in SVG and
// canvas from the snapshots the worker posts. No framework. The latest state is on window.__playground
// (for the headless test, and for the curious in the console).
import { METHOD_LABELS, MODEL_LABELS, parseOptions } from './session.js';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const COLORS = ['#1f6fd1', '#d4542b', '#2a9d6f', '#8a55c9'];
/** Points kept per curve (older steps are thinned out, the newest are all kept). */
const MAX_POINTS = 600;

const state = {
  ready: false,
  running: false,
  error: null,
  options: parseOptions(query),
  backend: null,
  info: null,
  step: 0,
  slices: 0,
  history: { step: [], loss: [[], []], cosine: [], weights: [[], []], applied: [], plain: [] },
  gateHistory: [],
  last: null,
  groups: [],
  totals: null,
  weightsNow: null,
  views: {},
};
window.__playground = state;

const speed = () => Number($('speed').value);
let worker = null;

function readControls() {
  const o = { ...state.options };
  o.rho = Number($('rho').value);
  o.model = $('model').value;
  o.method = $('method').value;
  o.backend = $('backend').value;
  return o;
}

function writeControls(o) {
  $('rho').value = String(o.rho);
  $('rho-out').textContent = String(o.rho);
  $('model').value = o.model;
  $('method').value = o.method;
  $('backend').value = ['auto', 'wasm', 'webgpu'].includes(o.backend) ? o.backend : 'auto';
}

/** Keeps the address bar in step with the controls, so a link reproduces what is on screen. */
function updateUrl(o) {
  const q = new URLSearchParams(location.search);
  for (const key of ['rho', 'model', 'method', 'backend', 'seed']) q.set(key, String(o[key]));
  history.replaceState(null, '', `${location.pathname}?${q}`);
}

function resetHistory() {
  state.history = { step: [], loss: [[], []], cosine: [], weights: [[], []], applied: [], plain: [] };
  state.gateHistory = [];
  state.step = 0;
  state.slices = 0;
  state.last = null;
  state.groups = [];
  state.totals = null;
  state.weightsNow = null;
}

/** A fresh worker and run with the controls' settings; trains at once when `run` is set. */
function restart(run) {
  worker?.terminate();
  state.options = readControls();
  updateUrl(state.options);
  resetHistory();
  state.ready = false;
  state.running = false;
  state.error = null;
  setButton();
  $('status').textContent = 'Starting the worker…';
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (e) => onMessage(e.data);
  worker.onerror = (e) => fail(e.message || 'the worker failed to load');
  const maxSteps = Number(query.get('steps')) || 0;
  worker.postMessage({ type: 'start', options: state.options, autostart: run, sliceSteps: speed(), maxSteps });
  state.running = run;
  setButton();
  render();
}

function fail(message) {
  state.error = message;
  state.running = false;
  $('status').textContent = `Error: ${message}`;
  setButton();
}

function onMessage(msg) {
  if (msg.type === 'ready') {
    state.ready = true;
    state.backend = msg.backend;
    state.info = msg.info;
    renderStatus();
    render();
  } else if (msg.type === 'slice') {
    addSlice(msg.snapshot);
    scheduleRender();
  } else if (msg.type === 'paused') {
    state.running = false;
    setButton();
    renderStatus();
  } else if (msg.type === 'error') {
    fail(msg.message);
  }
}

function push(arr, v) {
  arr.push(v);
}

function addSlice(s) {
  state.slices++;
  state.step = s.step;
  for (const r of s.steps) {
    const h = state.history;
    push(h.step, r.step);
    r.losses.forEach((v, k) => push(h.loss[k], v));
    push(h.cosine, r.cosine);
    r.weights.forEach((v, k) => push(h.weights[k], v));
    push(h.applied, r.balance.appliedNorm);
    push(h.plain, r.balance.plainNorm);
    state.gateHistory.push(r.gates);
  }
  if (state.history.step.length > 4 * MAX_POINTS) thin();
  state.last = s.last;
  state.groups = s.groups;
  state.totals = s.totals;
  state.weightsNow = s.weightsNow;
}

/** Halves the older half of every curve. */
function thin() {
  const h = state.history;
  const n = h.step.length;
  const keep = (_, i) => i >= n / 2 || i % 2 === 0;
  h.step = h.step.filter(keep);
  h.loss = h.loss.map((a) => a.filter(keep));
  h.cosine = h.cosine.filter(keep);
  h.weights = h.weights.map((a) => a.filter(keep));
  h.applied = h.applied.filter(keep);
  h.plain = h.plain.filter(keep);
  state.gateHistory = state.gateHistory.filter(keep);
}

let frame = 0;
function scheduleRender() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    render();
  });
}

function setButton() {
  $('start').textContent = state.running ? 'Pause' : state.step > 0 ? 'Resume' : 'Start';
}

function renderStatus() {
  if (state.error) return;
  const b = state.backend;
  const o = state.options;
  const parts = [
    `${MODEL_LABELS[o.model]}, ${METHOD_LABELS[o.method]}, ρ = ${o.rho}`,
    state.info ? `${state.info.parameters} parameters` : '',
    b ? `backend ${b.label} (${b.adapter})${b.fallbackReason ? `; asked for ${o.backend}, fell back: ${b.fallbackReason}` : ''}` : '',
    `step ${state.step}${state.running ? '' : state.step ? ' (paused)' : ''}`,
  ];
  $('status').textContent = parts.filter(Boolean).join(' · ');
}

// ---- drawing -------------------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';
function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmt = (v, d = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(d) : v.toExponential(1);

/** A line chart of `series` [{ values, color, label }] over `xs` into an <svg>; `band` fixes the y range. */
function lineChart(svg, xs, series, opts = {}) {
  svg.replaceChildren();
  const [W, H] = [420, Number(svg.getAttribute('viewBox').split(' ')[3])];
  const pad = { l: 44, r: 8, t: 8, b: 20 };
  const all = series.flatMap((s) => s.values.filter((v) => v !== null && Number.isFinite(v)));
  if (xs.length === 0 || all.length === 0) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: '#8a93a3', 'font-size': 12 }, 'no steps yet'));
    return;
  }
  let [lo, hi] = opts.range ?? [Math.min(...all), Math.max(...all)];
  if (opts.zero) lo = Math.min(lo, 0);
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const [x0, x1] = [xs[0], xs[xs.length - 1] === xs[0] ? xs[0] + 1 : xs[xs.length - 1]];
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const Y = (y) => pad.t + (1 - (y - lo) / (hi - lo)) * (H - pad.t - pad.b);
  svg.append(el('rect', { x: pad.l, y: pad.t, width: W - pad.l - pad.r, height: H - pad.t - pad.b, fill: '#fbfcfe', stroke: '#e1e5ec' }));
  for (const t of [lo, (lo + hi) / 2, hi]) {
    svg.append(el('text', { x: pad.l - 4, y: Y(t) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#5a6272' }, fmt(t, 2)));
    svg.append(el('line', { x1: pad.l, x2: W - pad.r, y1: Y(t), y2: Y(t), stroke: '#eef0f4' }));
  }
  if (lo < 0 && hi > 0)
    svg.append(el('line', { x1: pad.l, x2: W - pad.r, y1: Y(0), y2: Y(0), stroke: '#9aa3b2', 'stroke-dasharray': '3 3' }));
  svg.append(el('text', { x: W - pad.r, y: H - 5, 'text-anchor': 'end', 'font-size': 10, fill: '#5a6272' }, `step ${x1}`));
  svg.append(el('text', { x: pad.l, y: H - 5, 'font-size': 10, fill: '#5a6272' }, `step ${x0}`));
  const stride = Math.max(1, Math.ceil(xs.length / MAX_POINTS));
  series.forEach((s, si) => {
    let d = '';
    let pen = false;
    for (let i = 0; i < xs.length; i += stride) {
      const v = s.values[i];
      if (v === null || !Number.isFinite(v)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${X(xs[i]).toFixed(1)},${Y(Math.min(hi, Math.max(lo, v))).toFixed(1)}`;
      pen = true;
    }
    svg.append(el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': s.width ?? 1.3, opacity: s.opacity ?? 1 }));
    svg.append(el('text', { x: pad.l + 6 + si * 175, y: pad.t + 12, 'font-size': 11, fill: s.color }, s.label));
  });
}

/** Moving average over `k` points (null-aware). */
function smooth(values, k) {
  const out = [];
  let sum = 0;
  let n = 0;
  const q = [];
  for (const v of values) {
    q.push(v);
    if (v !== null) {
      sum += v;
      n++;
    }
    if (q.length > k) {
      const old = q.shift();
      if (old !== null) {
        sum -= old;
        n--;
      }
    }
    out.push(n ? sum / n : null);
  }
  return out;
}

const mean = (a) => {
  const v = a.filter((x) => x !== null && Number.isFinite(x));
  return v.length ? v.reduce((s, x) => s + x, 0) / v.length : null;
};

function renderLoss() {
  const h = state.history;
  const tasks = state.info?.tasks ?? ['y1', 'y2'];
  lineChart(
    $('loss-chart'),
    h.step,
    tasks.map((t, k) => ({ values: smooth(h.loss[k], 10), color: COLORS[k], label: `${t} (mean of 10)` })),
    { zero: true },
  );
  const first = h.loss.map((a) => mean(a.slice(0, 10)));
  const now = h.loss.map((a) => mean(a.slice(-10)));
  $('loss-numbers').textContent = h.step.length
    ? tasks.map((t, k) => `${t}: ${fmt(first[k])} → ${fmt(now[k])}`).join('   ')
    : 'Press Start to train.';
  state.views.loss = { first, now };
}

/** A canvas heat strip: rows = experts, columns = steps, darker = more weight. */
function heatStrip(canvas, columns, nRows) {
  const cols = Math.min(columns.length, 300);
  const from = columns.length - cols;
  canvas.width = Math.max(cols, 1);
  canvas.height = nRows;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(canvas.width, nRows);
  for (let c = 0; c < cols; c++) {
    const col = columns[from + c];
    for (let r = 0; r < nRows; r++) {
      const v = col ? Math.min(1, (col[r] * nRows) / 2.5) : 0; // 1/n (uniform) is 40 % of full colour
      const i = (r * canvas.width + c) * 4;
      img.data[i] = 255 - v * 230;
      img.data[i + 1] = 255 - v * 150;
      img.data[i + 2] = 255 - v * 40;
      img.data[i + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

function bars(values, labels, color) {
  const t = document.createElement('table');
  t.className = 'grid';
  const head = t.insertRow();
  const body = t.insertRow();
  values.forEach((v, i) => {
    const th = document.createElement('th');
    th.textContent = labels[i];
    head.append(th);
    const td = body.insertCell();
    td.className = 'cell';
    td.textContent = fmt(v, 2);
    td.style.background = `linear-gradient(to top, ${color}55 ${Math.round(Math.min(1, v) * 100)}%, transparent 0)`;
  });
  return t;
}

function renderGates() {
  const box = $('gates');
  box.replaceChildren();
  const info = state.info;
  if (!info) return;
  if (info.gates.length === 0) {
    const p = document.createElement('p');
    p.className = 'none';
    p.id = 'no-gates';
    p.textContent =
      'Shared-Bottom has no gates and no experts: both towers read the whole bottom, so every task reaches every shared unit in full.';
    box.append(p);
    state.views.gates = { kind: 'none', count: 0 };
    return;
  }
  const last = state.last;
  info.gates.forEach((g, gi) => {
    const div = document.createElement('div');
    div.className = 'gate';
    const labels = g.experts.map((e) => info.experts[e]?.label ?? '?');
    const title = document.createElement('div');
    title.className = 'legend';
    title.textContent = `gate '${g.key}' (read by ${g.tasks.join(', ')}), over ${labels.length} experts: weights over the last ${Math.min(state.gateHistory.length, 300)} steps (rows ${labels[0]}…${labels[labels.length - 1]}), then the mean on the last batch`;
    const canvas = document.createElement('canvas');
    heatStrip(
      canvas,
      state.gateHistory.map((gs) => gs[gi]),
      labels.length,
    );
    div.append(title, canvas, bars(last?.gates[gi] ?? labels.map(() => 1 / labels.length), labels, COLORS[gi % COLORS.length]));
    box.append(div);
  });
  state.views.gates = { kind: 'gates', count: info.gates.length, last: last?.gates ?? null };
}

function renderShare() {
  const box = $('share');
  box.replaceChildren();
  const info = state.info;
  if (!info) return;
  if (info.experts.length === 0) {
    const p = document.createElement('p');
    p.className = 'none';
    p.id = 'no-experts';
    p.textContent =
      'No experts to route to: in Shared-Bottom each task sends its whole gradient into the one shared bottom (see the cosine below for how much the two agree).';
    box.append(p);
    state.views.share = { kind: 'none' };
    return;
  }
  const last = state.last;
  const t = document.createElement('table');
  t.className = 'grid';
  const head = t.insertRow();
  head.append(Object.assign(document.createElement('th'), { textContent: '' }));
  for (const e of info.experts) {
    const th = document.createElement('th');
    th.textContent = e.label;
    th.title = e.owner ? `${e.owner}'s own expert` : 'shared expert';
    head.append(th);
  }
  info.tasks.forEach((task, k) => {
    const gateRow = t.insertRow();
    gateRow.append(Object.assign(document.createElement('th'), { textContent: `gate of ${task}` }));
    // The weight task k's gate gives each expert (blank where its gate does not mix that expert).
    const gi = info.gates.findIndex((g) => g.tasks.includes(task));
    const gw = info.experts.map(() => null);
    if (gi >= 0 && last?.gates[gi]) info.gates[gi].experts.forEach((e, j) => (gw[e] = last.gates[gi][j]));
    gw.forEach((v) => {
      const td = gateRow.insertCell();
      td.textContent = v === null ? '' : fmt(v, 2);
      td.style.color = '#5a6272';
    });
    const row = t.insertRow();
    row.append(Object.assign(document.createElement('th'), { textContent: `share of ∇L(${task})` }));
    info.experts.forEach((_, i) => {
      const v = last?.share[k][i] ?? null;
      const td = row.insertCell();
      td.className = 'cell';
      td.textContent = fmt(v, 2);
      if (v !== null)
        td.style.background = `linear-gradient(to top, ${COLORS[k]}66 ${Math.round(Math.min(1, v * 3) * 100)}%, transparent 0)`;
    });
  });
  box.append(t);
  const note = document.createElement('p');
  note.className = 'legend';
  note.textContent = info.experts.some((e) => e.owner)
    ? 'Share = ‖∂L_k/∂θ_Ei‖ over all experts (S = shared, y1·i and y2·i = a task’s own experts): a task’s gradient never reaches the other task’s own experts.'
    : 'Share = ‖∂L_k/∂θ_Ei‖ / Σ_j ‖∂L_k/∂θ_Ej‖ on the last step; the gate rows show g_i^(k) for comparison.';
  box.append(note);
  state.views.share = { kind: 'experts', experts: info.experts, share: last?.share ?? null };
}

/** 'experts[3]' → 'E3', 'levels.0.sharedExperts[1]' → 'S1', 'levels.0.sharedGate' → 'gate'. */
function shortGroup(name) {
  return name
    .replace(/^levels\.\d+\./, '')
    .replace(/^sharedExperts\[(\d+)\]$/, 'S$1')
    .replace(/^experts\[(\d+)\]$/, 'E$1')
    .replace(/^sharedGate$/, 'gate');
}

function renderConflict() {
  const h = state.history;
  lineChart(
    $('cosine-chart'),
    h.step,
    [
      { values: h.cosine, color: '#9aa3b2', label: 'cosine per step', width: 0.8, opacity: 0.7 },
      { values: smooth(h.cosine, 20), color: '#1d2330', label: 'mean of 20 steps', width: 1.8 },
    ],
    { range: [-1, 1] },
  );
  const avg = mean(h.cosine);
  const recent = mean(h.cosine.slice(-50));
  $('cosine-numbers').textContent = h.step.length
    ? `cos(∇L1, ∇L2) on all shared parameters: last ${fmt(state.last?.cosine)}, mean of the last 50 steps ${fmt(recent)}, of all ${fmt(avg)}; conflicting steps (cos < 0): ${h.cosine.filter((c) => c !== null && c < 0).length} of ${h.cosine.length}`
    : '';
  const box = $('groups');
  box.replaceChildren();
  if (state.groups.length) {
    const t = document.createElement('table');
    t.className = 'grid';
    const head = t.insertRow();
    const row = t.insertRow();
    head.append(Object.assign(document.createElement('th'), { textContent: 'per shared group (inspector)' }));
    row.append(Object.assign(document.createElement('th'), { textContent: 'cosine' }));
    for (const g of state.groups) {
      head.append(Object.assign(document.createElement('th'), { textContent: shortGroup(g.name), title: g.name }));
      row.insertCell().textContent = fmt(g.cosine, 2);
    }
    box.append(t);
  }
  state.views.conflict = { mean: avg, recent, last: state.last?.cosine ?? null };
}

function renderBalance() {
  const h = state.history;
  const last = state.last;
  $('balance-text').textContent = last ? `${METHOD_LABELS[state.options.method]}, step ${state.step}: ${last.balance.text}` : '';
  const method = state.options.method;
  const series =
    method === 'pcgrad'
      ? [
          {
            values: h.applied.map((a, i) => (h.plain[i] > 0 ? (100 * (a - h.plain[i])) / h.plain[i] : null)),
            color: COLORS[2],
            label: '% longer update than ‖g1 + g2‖ (0: no projection)',
          },
        ]
      : [
          { values: h.weights[0], color: COLORS[0], label: method === 'metabalance' ? 'scale of y1 (target)' : 'w(y1)' },
          { values: h.weights[1], color: COLORS[1], label: method === 'metabalance' ? 'scale of y2' : 'w(y2)' },
        ];
  const top = Math.max(1, ...series[0].values.filter((v) => v !== null && Number.isFinite(v)));
  lineChart($('balance-chart'), h.step, series, method === 'pcgrad' ? { range: [0, top] } : { zero: true });
  const t = state.totals;
  $('balance-totals').textContent =
    method === 'pcgrad' && t
      ? `PCGrad so far: ${t.conflicts} conflicting steps of ${state.step}, ${t.projections} projections.`
      : state.weightsNow
        ? `Weights now: ${state.weightsNow.map((v) => fmt(v)).join(', ')}`
        : '';
  state.views.balance = last ? { ...last.balance, totals: t } : null;
}

function render() {
  const t0 = performance.now();
  renderStatus();
  setButton();
  renderLoss();
  renderGates();
  renderShare();
  renderConflict();
  renderBalance();
  state.rendered = (state.rendered ?? 0) + 1;
  state.renderMs = Math.max(state.renderMs ?? 0, performance.now() - t0);
}

// ---- controls ------------------------------------------------------------------------------------

writeControls(state.options);
$('rho').addEventListener('input', () => ($('rho-out').textContent = $('rho').value));
for (const id of ['rho', 'model', 'method', 'backend']) $(id).addEventListener('change', () => restart(state.running || state.step > 0));
$('speed').addEventListener('change', () => worker?.postMessage({ type: 'speed', steps: speed() }));
$('start').addEventListener('click', () => {
  if (!worker || state.error) return restart(true);
  if (state.running) {
    worker.postMessage({ type: 'pause' });
    state.running = false;
  } else {
    worker.postMessage({ type: 'resume' });
    state.running = true;
  }
  setButton();
  renderStatus();
});
$('reset').addEventListener('click', () => restart(false));
restart(query.get('autostart') === '1');
