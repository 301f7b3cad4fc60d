// Small SVG chart helpers for the self-contained HTML reports: a line chart, a heatmap and grouped bars,
// each with axes, ticks and labels, returned as markup (no DOM, no network, no dependencies).

export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#59a14f',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#9c755f',
  '#ff9da7',
  '#bab0ac',
  '#1f3b5c',
  '#8c564b',
];

export const colorAt = (i: number) => PALETTE[i % PALETTE.length];

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A number for a label: few digits, no exponent for ordinary magnitudes. */
export function formatNumber(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(digits)));
}

/** Evenly spaced "nice" ticks (steps of 1, 2 or 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(count, 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** A padded domain around finite values, widened to nice ticks. */
export function niceDomain(values: number[], opts: { includeZero?: boolean; pad?: number } = {}): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (opts.includeZero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (hi === lo) {
    const d = Math.abs(hi) * 0.1 || 1;
    lo -= d;
    hi += d;
  }
  const pad = (hi - lo) * (opts.pad ?? 0.05);
  if (!(opts.includeZero && lo === 0)) lo -= pad;
  hi += pad;
  const ticks = niceTicks(lo, hi);
  return [Math.min(lo, ticks[0] ?? lo), Math.max(hi, ticks[ticks.length - 1] ?? hi)];
}

const n2 = (v: number) => (Math.round(v * 10) / 10).toString();

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const plotWidth = (f: Frame) => f.width - f.left - f.right;
const plotHeight = (f: Frame) => f.height - f.top - f.bottom;

function svgOpen(f: Frame, label: string): string {
  return `<svg class="chart" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${escapeHtml(label)}">`;
}

function axisLabels(f: Frame, xLabel: string, yLabel: string): string {
  const cx = f.left + plotWidth(f) / 2;
  const cy = f.top + plotHeight(f) / 2;
  return (
    `<text class="axis-label" x="${n2(cx)}" y="${f.height - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>` +
    `<text class="axis-label" transform="translate(14 ${n2(cy)}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`
  );
}

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
  dashed?: boolean;
  /** Draw a dot at each point (default: when there are few points). */
  markers?: boolean;
  /** Thin and faint: context lines such as single seeds. */
  faint?: boolean;
  /** Stroke width (default 2; 1 when faint). */
  width?: number;
  /** A shaded band around the line, [x, lo, hi] per point (e.g. a 95% confidence band); non-finite points are dropped. */
  band?: [number, number, number][];
}

export interface LineChartOptions {
  series: Series[];
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  yDomain?: [number, number];
  xDomain?: [number, number];
  /** Horizontal reference lines, e.g. 0 for cosines. */
  refLines?: number[];
  /** Vertical reference lines at these x values, e.g. where a measured window starts. */
  refX?: number[];
  /** Ticks of the x axis are integers (epochs, steps). */
  integerX?: boolean;
  /** A logarithmic y axis (non-positive values are dropped): for losses that fall by orders of magnitude. */
  logY?: boolean;
  label?: string;
}

/** Ticks 1, 2, 5 × 10^k inside [lo, hi] (lo > 0), thinned to powers of ten when there are many. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 2, 5]) {
      const t = Number((m * 10 ** k).toPrecision(6));
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push(t);
    }
  }
  return ticks.length > 7 ? ticks.filter((t) => Number.isInteger(Math.round(Math.log10(t) * 1e6) / 1e6)) : ticks;
}

/** Lines over a shared x axis. Non-finite points are dropped (a gap, never a NaN in the markup). */
export function lineChart(o: LineChartOptions): string {
  const f: Frame = { width: o.width ?? 460, height: o.height ?? 250, left: 58, right: 14, top: 12, bottom: 42 };
  const keep = ([x, y]: [number, number]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0);
  const keepBand = ([x, lo, hi]: [number, number, number]) => keep([x, lo]) && keep([x, hi]);
  const series = o.series.map((s) => ({ ...s, points: s.points.filter(keep), band: s.band?.filter(keepBand) }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.band ?? []).flatMap((b) => [b[1], b[2]])]);
  if (xs.length === 0) return emptyChart(f, o.label ?? o.yLabel);
  const [x0, x1] =
    o.xDomain ?? (Math.min(...xs) === Math.max(...xs) ? [Math.min(...xs) - 1, Math.max(...xs) + 1] : [Math.min(...xs), Math.max(...xs)]);
  let y0: number;
  let y1: number;
  let yTicks: number[];
  let ty = (y: number) => y;
  if (o.logY) {
    const lo = Math.min(...ys);
    const hi = Math.max(...ys);
    // Pad by a twentieth of the range in log space, and reach the next 1-2-5 tick when it is close.
    const pad = Math.max(Math.log10(hi / lo), 0.3) / 20;
    [y0, y1] = o.yDomain ?? [lo / 10 ** pad, hi * 10 ** pad];
    yTicks = logTicks(y0, y1);
    if (yTicks.length < 2) yTicks = [y0, y1].map((v) => Number(v.toPrecision(2)));
    ty = Math.log10;
  } else {
    [y0, y1] = o.yDomain ?? niceDomain([...ys, ...(o.refLines ?? [])]);
    yTicks = niceTicks(y0, y1, 5);
  }
  const [t0, t1] = [ty(y0), ty(y1)];
  const px = (x: number) => f.left + ((x - x0) / (x1 - x0 || 1)) * plotWidth(f);
  const py = (y: number) => f.top + (1 - (ty(y) - t0) / (t1 - t0 || 1)) * plotHeight(f);

  let xTicks = niceTicks(x0, x1, 6);
  if (o.integerX) xTicks = xTicks.filter((t) => Number.isInteger(t));
  const parts: string[] = [svgOpen(f, o.label ?? o.yLabel)];
  parts.push(`<rect class="plot-bg" x="${f.left}" y="${f.top}" width="${plotWidth(f)}" height="${plotHeight(f)}"/>`);
  for (const t of yTicks) {
    const y = n2(py(t));
    parts.push(`<line class="grid" x1="${f.left}" x2="${f.width - f.right}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="tick" x="${f.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatNumber(t)}</text>`);
  }
  for (const t of xTicks) {
    const x = n2(px(t));
    parts.push(`<line class="axis" x1="${x}" x2="${x}" y1="${f.top + plotHeight(f)}" y2="${f.top + plotHeight(f) + 4}"/>`);
    parts.push(`<text class="tick" x="${x}" y="${f.top + plotHeight(f) + 16}" text-anchor="middle">${formatNumber(t)}</text>`);
  }
  for (const r of o.refLines ?? []) {
    if (r < y0 || r > y1) continue;
    parts.push(`<line class="ref" x1="${f.left}" x2="${f.width - f.right}" y1="${n2(py(r))}" y2="${n2(py(r))}"/>`);
  }
  for (const r of o.refX ?? []) {
    if (r < x0 || r > x1) continue;
    parts.push(`<line class="ref" x1="${n2(px(r))}" x2="${n2(px(r))}" y1="${f.top}" y2="${f.top + plotHeight(f)}"/>`);
  }
  parts.push(`<line class="axis" x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.top + plotHeight(f)}"/>`);
  parts.push(`<line class="axis" x1="${f.left}" x2="${f.width - f.right}" y1="${f.top + plotHeight(f)}" y2="${f.top + plotHeight(f)}"/>`);
  series.forEach((s, i) => {
    if (!s.band || s.band.length < 2) return;
    const upper = s.band.map(([x, , hi], j) => `${j === 0 ? 'M' : 'L'}${n2(px(x))} ${n2(py(hi))}`).join(' ');
    const lower = [...s.band]
      .reverse()
      .map(([x, lo]) => `L${n2(px(x))} ${n2(py(lo))}`)
      .join(' ');
    parts.push(`<path d="${upper} ${lower} Z" fill="${s.color ?? colorAt(i)}" fill-opacity="0.18" stroke="none"/>`);
  });
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const color = s.color ?? colorAt(i);
    const d = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${n2(px(x))} ${n2(py(y))}`).join(' ');
    const width = s.width ?? (s.faint ? 1 : 2);
    const opacity = s.faint ? ' stroke-opacity="0.35"' : '';
    parts.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"${opacity}${s.dashed ? ' stroke-dasharray="5 4"' : ''}><title>${escapeHtml(s.name)}</title></path>`,
    );
    if (s.markers ?? (s.points.length <= 12 && !s.faint)) {
      for (const [x, y] of s.points) {
        parts.push(
          `<circle cx="${n2(px(x))}" cy="${n2(py(y))}" r="3" fill="${color}"><title>${escapeHtml(`${s.name}: ${formatNumber(x)}, ${formatNumber(y, 4)}`)}</title></circle>`,
        );
      }
    }
  });
  parts.push(axisLabels(f, o.xLabel, o.yLabel));
  parts.push('</svg>');
  return parts.join('');
}

function emptyChart(f: Frame, label: string): string {
  return `${svgOpen(f, label)}<rect class="plot-bg" x="${f.left}" y="${f.top}" width="${plotWidth(f)}" height="${plotHeight(f)}"/><text class="tick" x="${f.width / 2}" y="${f.height / 2}" text-anchor="middle">no data</text></svg>`;
}

/** Sequential colour scale (light yellow → green → dark blue), t in [0, 1]. */
const SEQUENTIAL = ['#ffffd9', '#edf8b1', '#c7e9b4', '#7fcdbb', '#41b6c4', '#1d91c0', '#225ea8', '#253494', '#081d58'];
/** Diverging scale for values in [−1, 1]: red (−1) → light grey (0) → blue (+1). */
const DIVERGING = ['#b2182b', '#d6604d', '#f4a582', '#fddbc7', '#f7f7f7', '#d1e5f0', '#92c5de', '#4393c3', '#2166ac'];

function hex(c: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];
}

function interpolate(stops: string[], t: number): string {
  const u = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(Math.floor(u), stops.length - 2);
  const [a, b] = [hex(stops[i]), hex(stops[i + 1])];
  const w = u - i;
  return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * w)).join(',')})`;
}

export interface HeatmapOptions {
  rows: string[];
  cols: string[];
  /** values[r][c]; null is drawn as an empty (hatched grey) cell. */
  values: (number | null)[][];
  /** 'sequential' for weights and shares, 'diverging' for cosines in [−1, 1]. */
  scale: 'sequential' | 'diverging';
  domain?: [number, number];
  xLabel: string;
  yLabel: string;
  /** Print each value in its cell (default: when the cells are large enough). */
  showValues?: boolean;
  /** Show every n-th column label (default: as many as fit). */
  width?: number;
  label?: string;
}

/** A grid of coloured cells with row and column labels and a colour bar. */
export function heatmap(o: HeatmapOptions): string {
  const nr = o.rows.length;
  const nc = o.cols.length;
  const rowLabelWidth = Math.min(150, 12 + 6.5 * Math.max(1, ...o.rows.map((r) => r.length)));
  const width = o.width ?? 460;
  const f: Frame = { width, height: 0, left: 22 + rowLabelWidth, right: 58, top: 10, bottom: 44 };
  const cellW = plotWidth(f) / Math.max(nc, 1);
  const cellH = Math.max(10, Math.min(30, 260 / Math.max(nr, 1)));
  f.height = f.top + cellH * nr + f.bottom;
  if (nr === 0 || nc === 0) return emptyChart({ ...f, height: 120 }, o.label ?? o.yLabel);
  const finite = o.values.flat().filter((v): v is number => v !== null && Number.isFinite(v));
  const [d0, d1] = o.domain ?? (o.scale === 'diverging' ? [-1, 1] : [0, Math.max(1e-12, ...finite)]);
  const color = (v: number) => interpolate(o.scale === 'diverging' ? DIVERGING : SEQUENTIAL, (v - d0) / (d1 - d0 || 1));
  const showValues = o.showValues ?? (cellW >= 34 && cellH >= 16);

  const parts: string[] = [svgOpen(f, o.label ?? o.yLabel)];
  o.values.forEach((row, r) =>
    row.forEach((v, c) => {
      const x = f.left + c * cellW;
      const y = f.top + r * cellH;
      const finiteV = v !== null && Number.isFinite(v);
      const fill = finiteV ? color(v) : '#e0e0e0';
      const tip = `${o.rows[r]} · ${o.cols[c]}: ${finiteV ? formatNumber(v, 4) : 'n/a'}`;
      parts.push(
        `<rect x="${n2(x)}" y="${n2(y)}" width="${n2(cellW + 0.4)}" height="${n2(cellH + 0.4)}" fill="${fill}"><title>${escapeHtml(tip)}</title></rect>`,
      );
      if (showValues && finiteV) {
        const t = (v - d0) / (d1 - d0 || 1);
        const dark = o.scale === 'sequential' ? t > 0.55 : Math.abs(t - 0.5) > 0.3;
        parts.push(
          `<text class="cell" x="${n2(x + cellW / 2)}" y="${n2(y + cellH / 2)}" text-anchor="middle" dominant-baseline="middle" fill="${dark ? '#fff' : '#222'}">${formatNumber(v, 2)}</text>`,
        );
      }
    }),
  );
  parts.push(`<rect x="${f.left}" y="${f.top}" width="${n2(cellW * nc)}" height="${n2(cellH * nr)}" fill="none" stroke="#999"/>`);
  const rowStep = Math.ceil(11 / cellH);
  o.rows.forEach((name, r) => {
    if (r % rowStep !== 0) return;
    parts.push(
      `<text class="tick" x="${f.left - 5}" y="${n2(f.top + (r + 0.5) * cellH)}" text-anchor="end" dominant-baseline="middle">${escapeHtml(name)}</text>`,
    );
  });
  const longest = Math.max(1, ...o.cols.map((c) => c.length));
  const colStep = Math.ceil((longest * 6.5 + 6) / cellW);
  o.cols.forEach((name, c) => {
    if (c % colStep !== 0) return;
    parts.push(
      `<text class="tick" x="${n2(f.left + (c + 0.5) * cellW)}" y="${n2(f.top + nr * cellH + 14)}" text-anchor="middle">${escapeHtml(name)}</text>`,
    );
  });
  // Colour bar.
  const barX = f.width - f.right + 12;
  const barH = cellH * nr;
  const steps = 24;
  for (let i = 0; i < steps; i++) {
    const t = 1 - (i + 0.5) / steps;
    parts.push(
      `<rect x="${barX}" y="${n2(f.top + (i * barH) / steps)}" width="10" height="${n2(barH / steps + 0.4)}" fill="${color(d0 + t * (d1 - d0))}"/>`,
    );
  }
  for (const [v, y] of [
    [d1, f.top],
    [d0, f.top + barH],
  ] as const) {
    parts.push(`<text class="tick" x="${barX + 14}" y="${n2(y)}" dominant-baseline="middle">${formatNumber(v, 2)}</text>`);
  }
  if (o.scale === 'diverging' && d0 < 0 && d1 > 0)
    parts.push(`<text class="tick" x="${barX + 14}" y="${n2(f.top + barH * (d1 / (d1 - d0)))}" dominant-baseline="middle">0</text>`);
  parts.push(
    `<text class="axis-label" x="${n2(f.left + plotWidth(f) / 2)}" y="${f.height - 8}" text-anchor="middle">${escapeHtml(o.xLabel)}</text>`,
  );
  parts.push(
    `<text class="axis-label" transform="translate(12 ${n2(f.top + barH / 2)}) rotate(-90)" text-anchor="middle">${escapeHtml(o.yLabel)}</text>`,
  );
  parts.push('</svg>');
  return parts.join('');
}

export interface BarSeries {
  name: string;
  values: number[];
  color?: string;
  /** Error bar half-lengths (e.g. a standard deviation), one per category. */
  errors?: number[];
}

export interface BarChartOptions {
  categories: string[];
  series: BarSeries[];
  /** Points drawn over the bars of the same series index (e.g. gate weights over gradient shares). */
  markers?: { name: string; values: (number | null)[] }[];
  xLabel: string;
  yLabel: string;
  yDomain?: [number, number];
  width?: number;
  height?: number;
  label?: string;
}

/** Bars grouped by category, one bar per series, optional error bars and overlaid markers. */
export function barChart(o: BarChartOptions): string {
  const f: Frame = { width: o.width ?? 460, height: o.height ?? 250, left: 58, right: 14, top: 12, bottom: 42 };
  const nc = o.categories.length;
  const ns = o.series.length;
  if (nc === 0 || ns === 0) return emptyChart(f, o.label ?? o.yLabel);
  const tops = o.series.flatMap((s) => s.values.map((v, i) => v + (s.errors?.[i] ?? 0)));
  const markerValues = (o.markers ?? []).flatMap((m) => m.values.filter((v): v is number => v !== null));
  const [y0, y1] = o.yDomain ?? niceDomain([...tops, ...markerValues], { includeZero: true });
  const py = (y: number) => f.top + (1 - (y - y0) / (y1 - y0 || 1)) * plotHeight(f);
  const groupW = plotWidth(f) / nc;
  const barW = (groupW * 0.8) / ns;
  const bx = (c: number, s: number) => f.left + c * groupW + groupW * 0.1 + s * barW;

  const parts: string[] = [svgOpen(f, o.label ?? o.yLabel)];
  parts.push(`<rect class="plot-bg" x="${f.left}" y="${f.top}" width="${plotWidth(f)}" height="${plotHeight(f)}"/>`);
  for (const t of niceTicks(y0, y1, 5)) {
    const y = n2(py(t));
    parts.push(`<line class="grid" x1="${f.left}" x2="${f.width - f.right}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="tick" x="${f.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatNumber(t)}</text>`);
  }
  o.series.forEach((s, si) => {
    const color = s.color ?? colorAt(si);
    s.values.forEach((v, c) => {
      if (!Number.isFinite(v)) return;
      const [ya, yb] = [py(Math.max(v, y0)), py(Math.max(Math.min(0, y1), y0))];
      parts.push(
        `<rect x="${n2(bx(c, si))}" y="${n2(Math.min(ya, yb))}" width="${n2(barW * 0.92)}" height="${n2(Math.abs(yb - ya))}" fill="${color}"><title>${escapeHtml(`${s.name} · ${o.categories[c]}: ${formatNumber(v, 4)}${s.errors ? ` ± ${formatNumber(s.errors[c], 3)}` : ''}`)}</title></rect>`,
      );
      const e = s.errors?.[c];
      if (e !== undefined && Number.isFinite(e) && e > 0) {
        const cx = n2(bx(c, si) + barW * 0.46);
        parts.push(`<line class="err" x1="${cx}" x2="${cx}" y1="${n2(py(v - e))}" y2="${n2(py(v + e))}"/>`);
        parts.push(
          `<line class="err" x1="${n2(bx(c, si) + barW * 0.2)}" x2="${n2(bx(c, si) + barW * 0.72)}" y1="${n2(py(v + e))}" y2="${n2(py(v + e))}"/>`,
        );
        parts.push(
          `<line class="err" x1="${n2(bx(c, si) + barW * 0.2)}" x2="${n2(bx(c, si) + barW * 0.72)}" y1="${n2(py(v - e))}" y2="${n2(py(v - e))}"/>`,
        );
      }
    });
  });
  (o.markers ?? []).forEach((m, si) => {
    m.values.forEach((v, c) => {
      if (v === null || !Number.isFinite(v)) return;
      const cx = n2(bx(c, si) + barW * 0.46);
      parts.push(
        `<path d="M${cx} ${n2(py(v) - 5)} l5 5 l-5 5 l-5 -5 z" fill="#fff" stroke="#222" stroke-width="1.5"><title>${escapeHtml(`${m.name} · ${o.categories[c]}: ${formatNumber(v, 4)}`)}</title></path>`,
      );
    });
  });
  const longest = Math.max(1, ...o.categories.map((c) => c.length));
  const step = Math.ceil((longest * 6.5 + 6) / groupW);
  o.categories.forEach((name, c) => {
    if (c % step !== 0) return;
    parts.push(
      `<text class="tick" x="${n2(f.left + (c + 0.5) * groupW)}" y="${f.top + plotHeight(f) + 16}" text-anchor="middle">${escapeHtml(name)}</text>`,
    );
  });
  parts.push(`<line class="axis" x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.top + plotHeight(f)}"/>`);
  parts.push(
    `<line class="axis" x1="${f.left}" x2="${f.width - f.right}" y1="${n2(py(Math.max(y0, Math.min(0, y1))))}" y2="${n2(py(Math.max(y0, Math.min(0, y1))))}"/>`,
  );
  parts.push(axisLabels(f, o.xLabel, o.yLabel));
  parts.push('</svg>');
  return parts.join('');
}

/** Counts of xs in `bins` equal bins over [lo, hi] (a value equal to hi falls in the last bin; outside values are dropped). */
export function histogram(xs: number[], bins: number, lo: number, hi: number): { edges: number[]; counts: number[] } {
  const width = (hi - lo) / bins || 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  const counts = new Array<number>(bins).fill(0);
  for (const x of xs) {
    if (!(x >= lo && x <= hi)) continue;
    counts[Math.min(bins - 1, Math.floor((x - lo) / width))]++;
  }
  return { edges, counts };
}

/** An HTML legend: a swatch and a name per series (dashed series get a dashed swatch). */
export function legend(items: { name: string; color: string; dashed?: boolean; marker?: boolean }[]): string {
  const swatch = (i: { color: string; dashed?: boolean; marker?: boolean }) =>
    i.marker
      ? '<svg width="14" height="14" aria-hidden="true"><path d="M7 2 l5 5 l-5 5 l-5 -5 z" fill="#fff" stroke="#222" stroke-width="1.5"/></svg>'
      : `<svg width="22" height="10" aria-hidden="true"><line x1="1" x2="21" y1="5" y2="5" stroke="${i.color}" stroke-width="3"${i.dashed ? ' stroke-dasharray="4 3"' : ''}/></svg>`;
  return `<div class="legend">${items.map((i) => `<span>${swatch(i)} ${escapeHtml(i.name)}</span>`).join('')}</div>`;
}
