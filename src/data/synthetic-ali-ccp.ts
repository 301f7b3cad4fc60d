// A deterministic generator of Ali-CCP-schema impressions with a planted CTR/CVR signal.
//
// The "world" (who the users are, what the items are, and how they behave) depends only on
// `worldSeed` and `vocabScale`; `seed` draws the impressions. So train/val/test drawn with different
// seeds (and the default world) come from the same world, like the splits of a real dataset.
//
// Structure, loosely following the real Ali-CCP fields:
// - users (field 101) have fixed profile fields (121–128), 14-day behaviour fields (109_14 … 150_14)
//   and dense user statistics (D109_14 … D150_14);
// - items (field 205) have a category (206), shop (207), intention node (210), brand (216) and 129;
// - the scene (301) is drawn per impression;
// - cross fields 508/509/702/853 hash a user attribute with an item attribute;
// - D702 is the item's price; D508/D509/D853 are noisy, often absent (0) readings of the user's
//   affinity for the item's group (field 129), like historical user × item statistics.
// Ids are drawn with Zipf-like popularity, so embeddings see repeats (and a long tail stays rare).
//
// Planted signal (every term scaled by `signal`; z_price, z_sens are the standard-normal latents behind
// D702 and D109_14, the user's price sensitivity):
//   logit_ctr = b_ctr + user + item + category + scene + brand + <taste_user, style_group>
//               + 0.2·z_price − 0.4·z_price·z_sens
//   logit_cvr = b_cvr + (½·user + user') + (½·item + item') + shop + (category' − 0.3·category)
//               + <taste_user, style'_group> − 0.4·z_price − 0.6·z_price·z_sens
// Primes are independent effects; style' = 0.6·1.2·style + 0.8·independent. Effect sizes are in EFFECTS.
// So CTR and CVR share structure (pCTR/pCVR correlate ≈ 0.3) but differ (shop, price, category sign).
// The user × group dot product and the price × sensitivity product are interactions an additive
// model cannot express: on 200k rows a logistic regression reaches ≈ 0.75 click AUC, a small
// embedding MLP ≈ 0.77, the oracle ≈ 0.79.
// click ~ Bernoulli(σ(logit_ctr)); purchase = click ∧ Bernoulli(σ(logit_cvr)), so purchase ⇒ click.
// The intercepts are calibrated on a pilot sample to hit `clickRate` and `purchaseRate`.

import { rocAuc } from './auc.js';
import { ColumnarDataset, type Columns } from './columns.js';
import { toCsvText, writeCsv } from './csv.js';
import { aliCcpSchema, type SplitDatasets } from './datasets.js';
import { DataError } from './errors.js';
import { deriveSeed, Rng, ZipfSampler } from './random.js';

export interface AliCcpGeneratorOptions {
  rows: number;
  /** Draws the impressions. */
  seed: number;
  /** Draws the world (users, items, effects). Default 2024: every call shares one world. */
  worldSeed?: number;
  /** Multiplies every vocabulary size (min 2 ids per field). Default 1: the sizes of aliCcpSchema. */
  vocabScale?: number;
  /** Target share of impressions clicked (default 0.3). */
  clickRate?: number;
  /** Target share of impressions purchased (default 0.04). */
  purchaseRate?: number;
  /** Multiplies every planted effect (default 1): larger → easier, higher AUC. */
  signal?: number;
}

export interface AliCcpOracle {
  /** AUC of the true click probability against the click labels. */
  clickAuc: number;
  /** AUC of the true purchase probability (pCTR·pCVR) against the purchase labels, over all impressions. */
  purchaseAuc: number;
  /** AUC of the true pCVR against purchase, over clicked impressions only. */
  cvrAucOnClicked: number;
  clickRate: number;
  purchaseRate: number;
}

export interface SyntheticAliCcp {
  /** 23 sparse + 8 dense feature columns; labels [click, purchase]. */
  dataset: ColumnarDataset;
  oracle: AliCcpOracle;
  /** The true probabilities behind the labels. */
  truth: { pCtr: Float32Array; pCvr: Float32Array };
  sparseColumns: string[];
  denseColumns: string[];
  labelColumns: string[];
  /** The (scaled) schema vocabulary sizes: every id is below them. */
  vocabSizes: Record<string, number>;
}

const TASTE_DIM = 4;
const USER_FIELDS = ['121', '122', '124', '125', '126', '127', '128', '109_14', '110_14', '127_14', '150_14'] as const;
const ITEM_FIELDS = ['206', '207', '210', '216', '129'] as const;

/** Effect sizes (standard deviations of the per-id effects), before the `signal` multiplier. */
const EFFECTS = {
  ctrUser: 0.7,
  ctrItem: 0.35,
  ctrCategory: 0.5,
  ctrScene: 0.5,
  ctrBrand: 0.15,
  ctrTaste: 0.5,
  ctrPriceSensitivity: 0.4,
  cvrPriceSensitivity: 0.6,
  cvrUser: 0.4,
  cvrItem: 0.5,
  cvrShop: 0.4,
  cvrCategory: 0.3,
  cvrTaste: 0.6,
};

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function normals(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}

function quantize(v: number): number {
  return Math.round(Math.min(1, Math.max(0, v)) * 1e4) / 1e4;
}

/** Hashes two ids into [0, n). */
function crossId(a: number, b: number, salt: number, n: number): number {
  let h = Math.imul(a + 0x9e3779b9 * salt, 0x85ebca6b) ^ Math.imul(b + 1, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % n;
}

export function scaledAliCcpVocab(vocabScale = 1): Record<string, number> {
  if (!(vocabScale > 0)) throw new DataError(`vocabScale must be positive, got ${vocabScale}.`);
  const out: Record<string, number> = {};
  for (const [name, size] of Object.entries(aliCcpSchema.vocabSizes)) out[name] = Math.max(2, Math.round(size * vocabScale));
  return out;
}

/** Everything fixed about the world: entity attributes, effects, samplers. */
class World {
  readonly vocab: Record<string, number>;
  readonly users: ZipfSampler;
  readonly items: ZipfSampler;
  readonly scenes: ZipfSampler;
  readonly userAttr: Record<string, Int32Array> = {};
  readonly itemAttr: Record<string, Int32Array> = {};
  /** Standard-normal latents behind the user dense fields; [0] is the user's price sensitivity. */
  readonly userLatent: Float32Array[];
  readonly userDense: Float32Array[];
  /** Standard-normal latent behind the item price (D702). */
  readonly priceLatent: Float32Array;
  readonly itemPrice: Float32Array;
  readonly signal: number;
  readonly taste: Float32Array; // [users, TASTE_DIM]
  readonly style: Float32Array; // [item groups (field 129), TASTE_DIM]
  readonly styleCvr: Float32Array;
  readonly ctr: { user: Float32Array; item: Float32Array; category: Float32Array; scene: Float32Array; brand: Float32Array };
  readonly cvr: { user: Float32Array; item: Float32Array; shop: Float32Array; category: Float32Array };
  ctrBias = 0;
  cvrBias = 0;

  constructor(worldSeed: number, vocabScale: number, signal: number) {
    const rng = new Rng(worldSeed);
    this.signal = signal;
    const v = (this.vocab = scaledAliCcpVocab(vocabScale));
    const nUser = v['101'];
    const nItem = v['205'];
    const nCategory = v['206'];
    this.users = new ZipfSampler(nUser, rng.fork('users'), 0.7, 5);
    this.items = new ZipfSampler(nItem, rng.fork('items'), 1.15, 3);
    this.scenes = new ZipfSampler(v['301'], rng.fork('scenes'), 1.2, 1);

    for (const field of USER_FIELDS) {
      const sampler = new ZipfSampler(v[field], rng.fork(`sampler:${field}`), 1.0, 2);
      const attrRng = rng.fork(`attr:${field}`);
      this.userAttr[field] = Int32Array.from({ length: nUser }, () => sampler.sample(attrRng));
    }
    for (const field of ITEM_FIELDS) {
      const sampler = new ZipfSampler(v[field], rng.fork(`sampler:${field}`), 1.0, 2);
      const attrRng = rng.fork(`attr:${field}`);
      this.itemAttr[field] = Int32Array.from({ length: nItem }, () => sampler.sample(attrRng));
    }
    const denseRng = rng.fork('user-dense');
    this.userLatent = [0, 1, 2, 3].map(() => normals(denseRng, nUser, 1));
    this.userDense = this.userLatent.map((z) => z.map((x) => quantize(sigmoid(x))));
    const priceRng = rng.fork('price');
    this.priceLatent = normals(priceRng, nItem, 1);
    this.itemPrice = this.priceLatent.map((x) => quantize(sigmoid(1.2 * x)));

    const taste = rng.fork('taste');
    const norm = 1 / Math.sqrt(TASTE_DIM);
    this.taste = normals(taste, nUser * TASTE_DIM, norm);
    const nGroup = v['129'];
    this.style = normals(taste, nGroup * TASTE_DIM, signal * EFFECTS.ctrTaste);
    const extra = normals(taste, nGroup * TASTE_DIM, signal * EFFECTS.cvrTaste);
    this.styleCvr = new Float32Array(nGroup * TASTE_DIM);
    const mix = EFFECTS.cvrTaste / EFFECTS.ctrTaste;
    for (let k = 0; k < this.styleCvr.length; k++) this.styleCvr[k] = 0.6 * mix * this.style[k] + 0.8 * extra[k];

    const e = rng.fork('effects');
    const s = signal;
    this.ctr = {
      user: normals(e, nUser, s * EFFECTS.ctrUser),
      item: normals(e, nItem, s * EFFECTS.ctrItem),
      category: normals(e, nCategory, s * EFFECTS.ctrCategory),
      scene: normals(e, v['301'], s * EFFECTS.ctrScene),
      brand: normals(e, v['216'], s * EFFECTS.ctrBrand),
    };
    const cvrUser = normals(e, nUser, s * EFFECTS.cvrUser);
    const cvrItem = normals(e, nItem, s * EFFECTS.cvrItem);
    const cvrCategory = normals(e, nCategory, s * EFFECTS.cvrCategory);
    for (let u = 0; u < nUser; u++) cvrUser[u] += 0.5 * this.ctr.user[u];
    for (let i = 0; i < nItem; i++) cvrItem[i] += 0.5 * this.ctr.item[i];
    for (let c = 0; c < nCategory; c++) cvrCategory[c] -= 0.3 * this.ctr.category[c];
    this.cvr = { user: cvrUser, item: cvrItem, shop: normals(e, v['207'], s * EFFECTS.cvrShop), category: cvrCategory };
  }

  /** <taste_user, style_group> for the CTR (cvr = false) or CVR (cvr = true) styles. */
  affinity(user: number, group: number, cvr: boolean): number {
    const style = cvr ? this.styleCvr : this.style;
    let dot = 0;
    for (let k = 0; k < TASTE_DIM; k++) dot += this.taste[user * TASTE_DIM + k] * style[group * TASTE_DIM + k];
    return dot;
  }
}

/** Destination arrays for a batch of impressions (only logits when `columns` is null: pilot runs). */
interface Impressions {
  columns: Record<string, Float32Array | Int32Array> | null;
  ctrLogit: Float64Array;
  cvrLogit: Float64Array;
}

function drawImpressions(world: World, rows: number, rng: Rng, withColumns: boolean): Impressions {
  const v = world.vocab;
  const columns: Record<string, Float32Array | Int32Array> | null = withColumns ? {} : null;
  if (columns) {
    for (const name of aliCcpSchema.sparseColumns) columns[name] = new Int32Array(rows);
    for (const name of aliCcpSchema.denseColumns) columns[name] = new Float32Array(rows);
  }
  const ctrLogit = new Float64Array(rows);
  const cvrLogit = new Float64Array(rows);
  const { ctr, cvr, userAttr, itemAttr } = world;
  const cat = itemAttr['206'];
  const shop = itemAttr['207'];
  const brand = itemAttr['216'];
  const tasteScale = Math.max(1e-9, world.signal * EFFECTS.ctrTaste);

  for (let r = 0; r < rows; r++) {
    const u = world.users.sample(rng);
    const i = world.items.sample(rng);
    const scene = world.scenes.sample(rng);
    const c = cat[i];
    const group = itemAttr['129'][i];
    const affinity = world.affinity(u, group, false);
    const affinityCvr = world.affinity(u, group, true);
    const zPrice = world.priceLatent[i];
    const priceTerm = world.signal * zPrice * world.userLatent[0][u]; // price × the user's price sensitivity

    ctrLogit[r] =
      ctr.user[u] +
      ctr.item[i] +
      ctr.category[c] +
      ctr.scene[scene] +
      ctr.brand[brand[i]] +
      affinity +
      world.signal * (0.2 * zPrice - EFFECTS.ctrPriceSensitivity * priceTerm);
    cvrLogit[r] =
      cvr.user[u] +
      cvr.item[i] +
      cvr.shop[shop[i]] +
      cvr.category[c] +
      affinityCvr +
      world.signal * (-0.4 * zPrice - EFFECTS.cvrPriceSensitivity * priceTerm);

    if (!columns) continue;
    columns['101'][r] = u;
    for (const field of USER_FIELDS) columns[field][r] = userAttr[field][u];
    columns['205'][r] = i;
    for (const field of ITEM_FIELDS) columns[field][r] = itemAttr[field][i];
    columns['301'][r] = scene;
    columns['508'][r] = crossId(userAttr['121'][u], c, 1, v['508']);
    columns['509'][r] = crossId(u, brand[i], 2, v['509']);
    columns['702'][r] = crossId(userAttr['122'][u], shop[i], 3, v['702']);
    columns['853'][r] = crossId(u, c, 4, v['853']);
    for (let k = 0; k < 4; k++) columns[aliCcpSchema.denseColumns[k]][r] = world.userDense[k][u];
    // Noisy readings of the user's affinity for the item group (historical statistics); often absent (0).
    const unitAffinity = affinity / tasteScale;
    const reading = (noise: number, present: number) =>
      rng.uniform() < present ? quantize(sigmoid(unitAffinity + noise * rng.normal())) : 0;
    columns.D508[r] = reading(0.6, 0.8);
    columns.D509[r] = reading(1.0, 0.6);
    columns.D702[r] = world.itemPrice[i];
    columns.D853[r] = reading(0.8, 0.5);
  }
  return { columns, ctrLogit, cvrLogit };
}

/** Finds b such that mean(weights · σ(b + logits)) / mean(weights) = target, by bisection. */
function calibrateBias(logits: Float64Array, target: number, weights?: Float64Array): number {
  let lo = -20;
  let hi = 20;
  for (let iter = 0; iter < 60; iter++) {
    const mid = (lo + hi) / 2;
    let num = 0;
    let den = 0;
    for (let r = 0; r < logits.length; r++) {
      const w = weights ? weights[r] : 1;
      num += w * sigmoid(mid + logits[r]);
      den += w;
    }
    if (num / den < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

const worldCache = new Map<string, World>();

function buildWorld(worldSeed: number, vocabScale: number, signal: number, clickRate: number, purchaseRate: number): World {
  const key = [worldSeed, vocabScale, signal, clickRate, purchaseRate].join('|');
  const cached = worldCache.get(key);
  if (cached) return cached;
  const world = new World(worldSeed, vocabScale, signal);
  const pilot = drawImpressions(world, 20_000, new Rng(deriveSeed(worldSeed, 'pilot')), false);
  world.ctrBias = calibrateBias(pilot.ctrLogit, clickRate);
  const pClick = pilot.ctrLogit.map((l) => sigmoid(world.ctrBias + l));
  world.cvrBias = calibrateBias(pilot.cvrLogit, purchaseRate / clickRate, pClick);
  if (worldCache.size > 8) worldCache.clear();
  worldCache.set(key, world);
  return world;
}

function checkRate(name: string, value: number, max = 1): void {
  if (!(value > 0 && value < max)) throw new DataError(`${name} must be in (0, ${max}), got ${value}.`);
}

/** Draws `rows` Ali-CCP-schema impressions (deterministic for given options). 200k rows take well under a second or two. */
export function generateAliCcp(options: AliCcpGeneratorOptions): SyntheticAliCcp {
  const { rows, seed, worldSeed = 2024, vocabScale = 1, clickRate = 0.3, purchaseRate = 0.04, signal = 1 } = options;
  if (!Number.isInteger(rows) || rows < 0) throw new DataError(`rows must be a non-negative integer, got ${rows}.`);
  checkRate('clickRate', clickRate);
  checkRate('purchaseRate', purchaseRate, clickRate);
  const world = buildWorld(worldSeed, vocabScale, signal, clickRate, purchaseRate);
  const rng = new Rng(deriveSeed(seed, 'impressions'));
  const draw = drawImpressions(world, rows, rng, true);
  const columns = draw.columns as Columns;

  const labels = new Float32Array(rows * 2);
  const pCtr = new Float32Array(rows);
  const pCvr = new Float32Array(rows);
  const pPurchase = new Float32Array(rows);
  const labelRng = rng.fork('labels');
  const clicked: number[] = [];
  let clicks = 0;
  let purchases = 0;
  for (let r = 0; r < rows; r++) {
    const pc = sigmoid(world.ctrBias + draw.ctrLogit[r]);
    const pv = sigmoid(world.cvrBias + draw.cvrLogit[r]);
    pCtr[r] = pc;
    pCvr[r] = pv;
    pPurchase[r] = pc * pv;
    const click = labelRng.uniform() < pc;
    const converts = labelRng.uniform() < pv;
    if (click) {
      labels[2 * r] = 1;
      clicked.push(r);
      clicks++;
      if (converts) {
        labels[2 * r + 1] = 1;
        purchases++;
      }
    }
  }
  const dataset = new ColumnarDataset(columns, labels, ['click', 'purchase'], rows);
  const clickLabels = dataset.label(0);
  const purchaseLabels = dataset.label(1);
  return {
    dataset,
    oracle: {
      clickAuc: rocAuc(clickLabels, pCtr),
      purchaseAuc: rocAuc(purchaseLabels, pPurchase),
      cvrAucOnClicked: rocAuc(purchaseLabels, pCvr, clicked),
      clickRate: rows > 0 ? clicks / rows : NaN,
      purchaseRate: rows > 0 ? purchases / rows : NaN,
    },
    truth: { pCtr, pCvr },
    sparseColumns: [...aliCcpSchema.sparseColumns],
    denseColumns: [...aliCcpSchema.denseColumns],
    labelColumns: ['click', 'purchase'],
    vocabSizes: { ...world.vocab },
  };
}

export interface AliCcpSplitOptions extends Omit<AliCcpGeneratorOptions, 'rows'> {
  train: number;
  val: number;
  test: number;
}

/**
 * Train / val / test drawn from one world, shaped like `loadAliCcp`'s result, plus each split's oracle.
 * `vocabSizes` are the schema sizes (not max + 1), so model sizes match the benchmark's.
 */
export function generateAliCcpSplits(
  options: AliCcpSplitOptions,
): SplitDatasets & { oracle: Record<'train' | 'val' | 'test', AliCcpOracle> } {
  const { train, val, test, seed, ...rest } = options;
  const part = (rows: number, name: string) => generateAliCcp({ ...rest, rows, seed: deriveSeed(seed, name) });
  const tr = part(train, 'train');
  const va = part(val, 'val');
  const te = part(test, 'test');
  return {
    train: tr.dataset,
    val: va.dataset,
    test: te.dataset,
    sparseColumns: tr.sparseColumns,
    denseColumns: tr.denseColumns,
    labelColumns: tr.labelColumns,
    vocabSizes: tr.vocabSizes,
    itemColumns: [...aliCcpSchema.itemColumns],
    oracle: { train: tr.oracle, val: va.oracle, test: te.oracle },
  };
}

function aliCcpCsvColumns(dataset: ColumnarDataset) {
  for (const name of [...aliCcpSchema.sparseColumns, ...aliCcpSchema.denseColumns]) dataset.column(name);
  const clickIndex = dataset.labelNames.indexOf('click');
  const purchaseIndex = dataset.labelNames.indexOf('purchase');
  if (clickIndex < 0 || purchaseIndex < 0) {
    throw new DataError(`An Ali-CCP dataset needs labels "click" and "purchase"; it has: ${dataset.labelNames.join(', ')}.`);
  }
  return {
    ...dataset.columns,
    click: Int32Array.from(dataset.label(clickIndex)),
    purchase: Int32Array.from(dataset.label(purchaseIndex)),
  };
}

/** The dataset as CSV text with the sample files' header. */
export function aliCcpCsvText(dataset: ColumnarDataset): string {
  return toCsvText(aliCcpCsvColumns(dataset), aliCcpSchema.header);
}

/** Writes the dataset as CSV with the sample files' header (Node). */
export async function writeAliCcpCsv(dataset: ColumnarDataset, path: string): Promise<void> {
  await writeCsv(path, aliCcpCsvColumns(dataset), aliCcpSchema.header);
}
