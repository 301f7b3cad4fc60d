// The browser example's page: reads its settings from the query string, trains MMoE with webmtl
// (experiment.js does the training; this file only draws), and leaves the results on window.__webmtl
// for the end-to-end test.
import * as wm from '../../dist/browser/webmtl.js';
import { initBackend, loadData, parseOptions, runExperiment } from './experiment.js';

const $ = (id) => document.getElementById(id);
const SVG_NS = 'http://www.w3.org/2000/svg';
const COLORS = { click: '#1f6feb', purchase: '#d9480f' };
const PALETTE = ['#1f6feb', '#d9480f', '#2f9e44', '#9c36b5'];
const colorOf = (task, i) => COLORS[task] ?? PALETTE[i % PALETTE.length];
const fmt = (x, digits = 4) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits));

/** Adds an SVG element with attributes (and text) to a parent. */
function el(parent, name, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  parent.appendChild(node);
  return node;
}

function setStatus(text, kind = '') {
  $('status').textContent = text;
  $('status').className = kind;
}

// --- charts -------------------------------------------------------------------------------------

/** Loss per step as one line per task; dashed lines mark epoch boundaries. */
function drawLosses(svg, losses, epochStarts) {
  svg.replaceChildren();
  const W = 400,
    H = 220,
    L = 40,
    R = 10,
    T = 22,
    B = 26;
  const tasks = Object.keys(losses);
  const n = Math.max(0, ...tasks.map((t) => losses[t].length));
  const all = tasks.flatMap((t) => losses[t]);
  const yMax = all.length ? Math.max(...all) * 1.05 : 1;
  const x = (i) => L + (n > 1 ? (i / (n - 1)) * (W - L - R) : 0);
  const y = (v) => T + (1 - v / yMax) * (H - T - B);

  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    el(svg, 'line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#eceef2' });
    el(svg, 'text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end', 'font-size': 10, fill: '#5d6677' }, v.toFixed(2));
  }
  for (const s of epochStarts.filter((s) => s > 0 && s < n)) {
    el(svg, 'line', { x1: x(s - 0.5), x2: x(s - 0.5), y1: T, y2: H - B, stroke: '#aab1bd', 'stroke-dasharray': '3 3' });
  }
  el(svg, 'line', { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: '#5d6677' });
  el(svg, 'text', { x: L, y: H - 8, 'font-size': 10, fill: '#5d6677' }, '1');
  el(svg, 'text', { x: W - R, y: H - 8, 'font-size': 10, fill: '#5d6677', 'text-anchor': 'end' }, n ? `step ${n}` : 'step');

  tasks.forEach((t, i) => {
    const pts = losses[t].map((v, j) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    if (pts) el(svg, 'polyline', { points: pts, fill: 'none', stroke: colorOf(t, i), 'stroke-width': 1.8, 'stroke-linejoin': 'round' });
    const last = losses[t].at(-1);
    el(svg, 'rect', { x: L + 8 + i * 120, y: 6, width: 10, height: 10, fill: colorOf(t, i) });
    el(
      svg,
      'text',
      { x: L + 22 + i * 120, y: 15, 'font-size': 11, fill: '#1d2330' },
      `${t}${last !== undefined ? ` ${last.toFixed(3)}` : ''}`,
    );
  });
}

/**
 * Gate weights as a tasks × experts heatmap. White is the uniform share 1/E; blue cells get more than
 * that share, orange cells less. Each cell prints its weight.
 */
function drawGates(svg, gates) {
  svg.replaceChildren();
  const tasks = Object.keys(gates ?? {});
  if (!tasks.length) {
    el(svg, 'text', { x: 200, y: 110, 'text-anchor': 'middle', 'font-size': 12, fill: '#5d6677' }, 'waiting for the first step…');
    return;
  }
  const E = gates[tasks[0]].length;
  const uniform = 1 / E;
  const spread = Math.max(0.02, ...tasks.flatMap((t) => gates[t].map((w) => Math.abs(w - uniform))));
  const W = 400,
    L = 70,
    T = 18,
    B = 40;
  const cw = (W - L - 6) / E;
  const ch = Math.min(60, (220 - T - B) / tasks.length);
  const color = (w) => {
    const a = Math.min(1, Math.abs(w - uniform) / spread);
    const [r, g, b] = w >= uniform ? [31, 111, 235] : [217, 72, 15];
    const mix = (c) => Math.round(255 + (c - 255) * a * 0.85);
    return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
  };
  for (let e = 0; e < E; e++) {
    el(svg, 'text', { x: L + (e + 0.5) * cw, y: T - 5, 'text-anchor': 'middle', 'font-size': 10, fill: '#5d6677' }, `E${e + 1}`);
  }
  tasks.forEach((t, i) => {
    const y0 = T + i * ch;
    el(svg, 'text', { x: L - 6, y: y0 + ch / 2 + 4, 'text-anchor': 'end', 'font-size': 12, fill: colorOf(t, i) }, t);
    gates[t].forEach((w, e) => {
      el(svg, 'rect', { x: L + e * cw, y: y0, width: cw - 2, height: ch - 2, fill: color(w), rx: 2 });
      el(
        svg,
        'text',
        { x: L + (e + 0.5) * cw - 1, y: y0 + ch / 2 + 3, 'text-anchor': 'middle', 'font-size': Math.min(10, cw / 3.6), fill: '#1d2330' },
        w.toFixed(3).slice(1),
      );
    });
  });
  // legend: orange (less than 1/E) → white (1/E) → blue (more)
  const ly = T + tasks.length * ch + 12;
  const steps = 9;
  for (let k = 0; k < steps; k++) {
    const w = uniform + spread * ((k / (steps - 1)) * 2 - 1);
    el(svg, 'rect', { x: L + k * 14, y: ly, width: 14, height: 10, fill: color(w) });
  }
  el(
    svg,
    'text',
    { x: L + steps * 14 + 8, y: ly + 9, 'font-size': 10, fill: '#5d6677' },
    `${fmt(uniform - spread, 3)} … 1/${E} = ${fmt(uniform, 3)} … ${fmt(uniform + spread, 3)}`,
  );
}

function drawAucTable(taskNames, val, trainLoss, oracle) {
  const head = $('auc-table').tHead;
  head.innerHTML = '';
  const hr = head.insertRow();
  for (const h of ['epoch', ...taskNames.map((t) => `${t} AUC`), ...taskNames.map((t) => `${t} train loss`)]) {
    const th = document.createElement('th');
    th.textContent = h;
    hr.appendChild(th);
  }
  const body = $('auc-table').tBodies[0];
  body.innerHTML = '';
  val.forEach((v, e) => {
    const row = body.insertRow();
    row.insertCell().textContent = String(e + 1);
    for (const t of taskNames) row.insertCell().textContent = fmt(v[t]?.auc);
    for (const t of taskNames) row.insertCell().textContent = fmt(trainLoss[e]?.[t]);
  });
  if (oracle) {
    const row = body.insertRow();
    row.insertCell().textContent = 'oracle';
    row.insertCell().textContent = fmt(oracle.clickAuc);
    row.insertCell().textContent = fmt(oracle.purchaseAuc);
    for (const _ of taskNames) row.insertCell().textContent = '';
  }
}

// --- the run ------------------------------------------------------------------------------------

function fillForm(opts) {
  const form = $('settings');
  for (const [k, v] of Object.entries(opts)) if (form.elements[k]) form.elements[k].value = String(v);
  form.elements.rows.disabled = opts.data === 'sample';
  form.elements.data.addEventListener('change', () => (form.elements.rows.disabled = form.elements.data.value === 'sample'));
}

async function main() {
  const opts = parseOptions(location.search);
  fillForm(opts);
  window.__webmtl = { done: false, options: opts };

  setStatus(`Starting the ${opts.backend} backend…`);
  const hasGpu = 'gpu' in navigator;
  const be = await initBackend(wm, opts.backend);
  const label = be.label;
  if (be.fallbackReason) {
    const why = hasGpu
      ? 'navigator.gpu found no adapter (is WebGPU blocked for this GPU or driver?)'
      : 'this browser has no navigator.gpu (WebGPU needs a browser that ships it, such as Chrome or Edge 113+, and a page from https or http://localhost)';
    setStatus(`Backend: ${label} · ${be.adapter}. WebGPU is not available here: ${why}.`, 'warn');
    console.warn(`webmtl: WebGPU unavailable, training with ${label} on the CPU instead: ${be.fallbackReason}`);
  } else {
    setStatus(`Backend: ${label} · ${be.adapter}`);
  }
  Object.assign(window.__webmtl, {
    backend: be.backend,
    label,
    adapter: be.adapter,
    fallbackReason: be.fallbackReason,
    navigatorGpu: hasGpu,
  });

  $('progress').textContent = opts.data === 'sample' ? 'Fetching the Ali-CCP sample…' : `Generating ${opts.rows} training rows…`;
  const data = await loadData(wm, opts);
  const oracle = data.oracle?.val ?? null;

  const losses = {};
  const epochStarts = [];
  const val = [];
  const trainLoss = [];
  let pendingDraw = false;
  const redraw = (gates) => {
    if (gates) drawGates($('gate-map'), gates);
    if (pendingDraw) return;
    pendingDraw = true;
    requestAnimationFrame(() => {
      pendingDraw = false;
      drawLosses($('loss-chart'), losses, epochStarts);
    });
  };
  drawGates($('gate-map'), null);

  const result = await runExperiment(wm, opts, data, {
    onStep(e) {
      if (e.step === 1) epochStarts.push(e.globalStep - 1);
      for (const [t, v] of Object.entries(e.losses)) (losses[t] ??= []).push(v);
      $('progress').textContent =
        `epoch ${e.epoch + 1}/${opts.epochs} · step ${e.step}/${e.steps} · ` +
        Object.entries(e.losses)
          .map(([t, v]) => `${t} ${v.toFixed(4)}`)
          .join(' · ') +
        ` · ${Math.round(e.samplesPerSecond)} rows/s`;
      redraw(e.gates);
    },
    onEpoch(record) {
      val.push(record.val);
      trainLoss.push(record.trainLoss);
      drawAucTable(Object.keys(record.trainLoss), val, trainLoss, oracle);
      $('progress').textContent = `epoch ${record.epoch + 1}/${opts.epochs} done in ${record.seconds.toFixed(1)} s`;
    },
  });

  drawLosses($('loss-chart'), result.losses, epochStarts);
  drawGates($('gate-map'), result.gates);
  drawAucTable(result.taskNames, result.val, trainLoss, oracle);
  $('test').innerHTML =
    '<b>Test set</b> (weights of the best validation epoch): ' +
    result.taskNames
      .map(
        (t) =>
          `<span style="color:${colorOf(t, result.taskNames.indexOf(t))}">${t}</span> AUC ${fmt(result.test[t].auc)}, logloss ${fmt(result.test[t].logloss)}`,
      )
      .join(' · ');
  $('progress').textContent = `Done: ${result.losses[result.taskNames[0]].length} steps in ${result.seconds.toFixed(1)} s on ${label}.`;

  const metrics = (reports) => Object.fromEntries(Object.entries(reports).map(([t, r]) => [t, { auc: r.auc, logloss: r.logloss }]));
  Object.assign(window.__webmtl, {
    done: true,
    taskNames: result.taskNames,
    losses: result.losses,
    val: result.val.map(metrics),
    test: metrics(result.test),
    gates: result.gates,
    oracle,
    seconds: result.seconds,
  });
}

main().catch((e) => {
  console.error(e);
  setStatus(`Error: ${e instanceof Error ? e.message : String(e)}`, 'error');
  window.__webmtl = { ...(window.__webmtl ?? {}), done: true, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) };
});
