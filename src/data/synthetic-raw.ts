// A deterministic generator of raw, census-income-shaped rows: the text a user's own CSV would hold
// before any preprocessing (category names, "?" for unknown, whole-number counts), with two 0/1
// labels whose signal is planted, so a model trained on the table learns something measurable.
//
// Shape (41 columns): 32 string categorical columns named and valued after the UCI census-income
// (KDD 1994/1995 CPS) file, 7 numeric columns (age, weeks worked, capital gains, capital losses,
// dividends and employer size as integers; wage per hour in dollars with cents, a float), and the
// labels `income_50k` and `never_married`. The census file's marital status becomes the
// `never_married` label, so it is not a column; its year (94/95) is the string column "survey year"
// ("CPS March 1994"), because every categorical column here must hold text, never numbers.
//
// How a row is drawn (column values depend on one another the way they do in the census):
// - age: a quarter are children (0–17), adults 18–90 skewed young;
// - education from age (children "Children" or a grade), an adult's school years z-scored (z_edu);
// - work: whether the person works depends on age and z_edu; class of worker, major occupation
//   (tilted by z_edu), detailed occupation, major and detailed industry, weeks worked, employer size,
//   union, wage per hour, full/part time and "reason for unemployment" follow from it;
// - family: a latent "ever married" (rising with age) and "married now" decide the household summary
//   and detailed household/family status (pairs, e.g. "Child 18 or older" / "Child 18+ never marr Not
//   in a subfamily") and the tax filer status (joint filers are married);
// - capital gains, losses and dividends: mostly 0, lognormal amounts for some adults (more with z_edu);
// - migration, origin, citizenship, veterans: census-like frequencies; countries, states, detailed
//   occupations and industries have Zipf-like long tails (a few values are very rare).
// Each string cell is then replaced by "?" with probability `missingRate` (the census marks unknown
// values with "?"), and each numeric cell other than age is left empty (null) with probability
// `numericMissingRate`.
//
// Labels are drawn from the OBSERVED cells only (after "?" and nulls), so `truth` is the Bayes-optimal
// score given the row and its AUC (`oracle`) is the ceiling for any model:
//   logit(income_50k)   = b + 0.85·z_edu(education) − 0.0015·(age − 48)² + 2·weeks/52 + sex + class of
//                         worker + major occupation + capital gains (> 0, > 7000) + dividends (> 0)
//                         + capital losses (> 1500) + joint tax filer + full-time schedule; children −9
//   logit(never_married) = b + age (children +4, adults −0.09·(min(age, 60) − 25)) + the detailed
//                         household/family status (never/ever married, spouse, householder…) + tax
//                         filer status + sex + college enrolment
// The intercepts b are calibrated once on a pilot sample to the census rates (income_50k ≈ 6.2%,
// never_married ≈ 43%). On 200k rows the oracle AUCs are about 0.93 (income_50k) and 0.99 (never_married).
//
// Rows are an endless stream per seed: row i depends only on (seed, i, the rates), so a file written
// chunk by chunk (writeRawTableCsv) equals rawTableCsvText(generateRawTable(…)) with the same options,
// and `firstRow` draws any window of the stream.

import { checkOptionNames } from '../options.js';
import { rocAuc } from './auc.js';
import { DataError } from './errors.js';
import { deriveSeed, mix32 } from './random.js';
import type { SourceType } from './raw.js';

export interface RawTableOptions {
  rows: number;
  seed: number;
  /** Share of string cells replaced by "?" (unknown), in [0, 1). Default 0.02. */
  missingRate?: number;
  /** Share of numeric cells (all but age) left empty (null), in [0, 1). Default 0. */
  numericMissingRate?: number;
  /** Index of the first row in the seed's stream (default 0): windows of one stream join seamlessly. */
  firstRow?: number;
}

export interface RawTable {
  /** Column names in file order: the 39 features, then income_50k and never_married. */
  header: string[];
  /** One array per column: strings for the categorical columns, numbers (or null when missing) for the others. */
  columns: Record<string, (string | number | null)[]>;
  rows: number;
  /** How a file stores each column: 'string' for the 32 categorical, 'int' / 'float' for the numbers, 'int' for the labels. */
  types: Record<string, SourceType>;
  stringColumns: string[];
  numericColumns: string[];
  labelColumns: string[];
  /** The true probabilities behind the labels. */
  truth: { income_50k: Float64Array; never_married: Float64Array };
  oracle: RawTableOracle;
}

export interface RawTableOracle {
  /** AUC of the true probability against the drawn labels (NaN when a label has one class only). */
  income50kAuc: number;
  neverMarriedAuc: number;
  income50kRate: number;
  neverMarriedRate: number;
  /** Share of string cells that are "?". */
  missingShare: number;
}

/** The census marks unknown values with "?". */
export const RAW_MISSING = '?';

// ---------------------------------------------------------------------------------------------------
// Randomness: one splitmix32 stream per row, reset in place (no allocation per row).

class RowRandom {
  private state = 0;
  private spare: number | null = null;

  reset(seed: number): void {
    this.state = seed | 0;
    this.spare = null;
  }

  uniform(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  chance(p: number): boolean {
    return this.uniform() < p;
  }
}

/** A weighted choice among values. */
class Choice<T = string> {
  readonly values: T[];
  private readonly cdf: Float64Array;

  constructor(pairs: readonly (readonly [T, number])[]) {
    this.values = pairs.map((p) => p[0]);
    this.cdf = new Float64Array(pairs.length);
    let total = 0;
    pairs.forEach(([, w], i) => {
      total += w;
      this.cdf[i] = total;
    });
    for (let i = 0; i < pairs.length; i++) this.cdf[i] /= total;
  }

  pick(rng: RowRandom): T {
    const u = rng.uniform();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return this.values[lo];
  }
}

/** Zipf-like weights 1/(rank + offset)^exponent in list order: the first values are common, the last rare. */
function zipf(values: readonly string[], exponent = 1.2, offset = 1): Choice {
  return new Choice(values.map((v, k) => [v, 1 / (k + offset) ** exponent] as const));
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

// ---------------------------------------------------------------------------------------------------
// Columns and value sets

const NIU = 'Not in universe';

const STRING_COLUMNS = [
  'class of worker',
  'detailed industry',
  'detailed occupation',
  'education',
  'enrolled in edu inst last wk',
  'major industry code',
  'major occupation code',
  'race',
  'hispanic origin',
  'sex',
  'member of a labor union',
  'reason for unemployment',
  'full or part time employment stat',
  'tax filer status',
  'region of previous residence',
  'state of previous residence',
  'detailed household and family stat',
  'detailed household summary in household',
  'migration code-change in msa',
  'migration code-change in reg',
  'migration code-move within reg',
  'live in this house 1 year ago',
  'migration prev res in sunbelt',
  'family members under 18',
  'country of birth father',
  'country of birth mother',
  'country of birth self',
  'citizenship',
  'own business or self employed',
  'fill inc questionnaire for veterans admin',
  'veterans benefits',
  'survey year',
] as const;

const INT_COLUMNS = [
  'age',
  'capital gains',
  'capital losses',
  'dividends from stocks',
  'num persons worked for employer',
  'weeks worked in year',
] as const;
const FLOAT_COLUMNS = ['wage per hour'] as const;
const LABEL_COLUMNS = ['income_50k', 'never_married'] as const;
/** Numeric columns that `numericMissingRate` may leave empty (age is always known). */
const MISSABLE_NUMBERS: readonly string[] = [...INT_COLUMNS, ...FLOAT_COLUMNS].filter((n) => n !== 'age');

/** File order, census-like: features interleaved as in census-income, labels last. */
const HEADER: readonly string[] = [
  'age',
  'class of worker',
  'detailed industry',
  'detailed occupation',
  'education',
  'wage per hour',
  'enrolled in edu inst last wk',
  'major industry code',
  'major occupation code',
  'race',
  'hispanic origin',
  'sex',
  'member of a labor union',
  'reason for unemployment',
  'full or part time employment stat',
  'capital gains',
  'capital losses',
  'dividends from stocks',
  'tax filer status',
  'region of previous residence',
  'state of previous residence',
  'detailed household and family stat',
  'detailed household summary in household',
  'migration code-change in msa',
  'migration code-change in reg',
  'migration code-move within reg',
  'live in this house 1 year ago',
  'migration prev res in sunbelt',
  'num persons worked for employer',
  'family members under 18',
  'country of birth father',
  'country of birth mother',
  'country of birth self',
  'citizenship',
  'own business or self employed',
  'fill inc questionnaire for veterans admin',
  'veterans benefits',
  'weeks worked in year',
  'survey year',
  'income_50k',
  'never_married',
];

/** [name, years of school, share among adults]. Commas in names exercise CSV quoting. */
const EDUCATION: readonly (readonly [string, number, number])[] = [
  ['Less than 1st grade', 0, 0.005],
  ['1st 2nd 3rd or 4th grade', 3, 0.01],
  ['5th or 6th grade', 5.5, 0.02],
  ['7th and 8th grade', 7.5, 0.04],
  ['9th grade', 9, 0.03],
  ['10th grade', 10, 0.035],
  ['11th grade', 11, 0.035],
  ['12th grade no diploma', 11.5, 0.015],
  ['High school graduate', 12, 0.33],
  ['Some college but no degree', 13, 0.2],
  ['Associates degree-occup /vocational', 14, 0.04],
  ['Associates degree-academic program', 14, 0.03],
  ['Bachelors degree (BA, AB, BS)', 16, 0.14],
  ['Masters degree (MA, MS, MEng, MEd, MSW, MBA)', 18, 0.045],
  ['Prof school degree (MD, DDS, DVM, LLB, JD)', 19, 0.013],
  ['Doctorate degree (PhD, EdD)', 20, 0.009],
];
const SCHOOL_MEAN = 12.9;
const SCHOOL_STD = 2.7;
/** z-scored school years per education value; "Children" and "?" (unknown) count as 0. */
const EDUCATION_Z = new Map<string, number>(EDUCATION.map(([name, years]) => [name, (years - SCHOOL_MEAN) / SCHOOL_STD]));
const ADULT_EDUCATION = new Choice(EDUCATION.map(([name, , w]) => [name, w] as const));
const BACHELOR_OR_MORE = new Set(EDUCATION.filter(([, years]) => years >= 16).map(([name]) => name));

/** Major occupation: [name, share among workers, tilt per unit of z_edu, detailed occupations (common first)]. */
const OCCUPATIONS: readonly (readonly [string, number, number, readonly string[]])[] = [
  [
    'Professional specialty',
    0.13,
    1.0,
    [
      'Teachers, except college',
      'Registered nurses',
      'Engineers, architects and surveyors',
      'Writers, artists, entertainers and athletes',
      'Health diagnosing occupations',
      'Lawyers and judges',
      'Teachers, college and university',
      'Natural scientists',
      'Social scientists and urban planners',
      'Librarians, archivists and curators',
    ],
  ],
  [
    'Executive admin and managerial',
    0.13,
    0.8,
    [
      'Management related occupations',
      'Managers, marketing and advertising',
      'Accountants and auditors',
      'Financial managers',
      'Managers, public administration',
    ],
  ],
  [
    'Technicians and related support',
    0.035,
    0.4,
    [
      'Health technologists and technicians',
      'Engineering and science technicians',
      'Computer programmers',
      'Airplane pilots and navigators',
    ],
  ],
  [
    'Sales',
    0.12,
    0,
    [
      'Sales workers, retail and personal services',
      'Cashiers',
      'Sales supervisors and proprietors',
      'Sales representatives, finance and business services',
      'Sales related occupations',
    ],
  ],
  [
    'Adm support including clerical',
    0.15,
    0.1,
    [
      'Secretaries, stenographers and typists',
      'General office clerks',
      'Financial records processing',
      'Information clerks',
      'Records processing clerks',
      'Mail and message distributing',
      'Computer equipment operators',
    ],
  ],
  ['Private household services', 0.005, -0.6, ['Cleaners and servants, private household', 'Child care workers, private household']],
  ['Protective services', 0.02, 0, ['Guards', 'Police and detectives', 'Firefighting and fire prevention']],
  [
    'Other service',
    0.13,
    -0.6,
    ['Food preparation and service', 'Cleaning and building service', 'Health service occupations', 'Personal service occupations'],
  ],
  [
    'Farming forestry and fishing',
    0.03,
    -0.5,
    ['Farm workers', 'Farm operators and managers', 'Forestry and logging', 'Fishers, hunters and trappers'],
  ],
  [
    'Precision production craft & repair',
    0.11,
    -0.3,
    [
      'Construction trades',
      'Mechanics and repairers',
      'Precision production occupations',
      'Supervisors, "working foremen"',
      'Extractive occupations',
    ],
  ],
  [
    'Machine operators assmblrs & inspctrs',
    0.065,
    -0.7,
    ['Machine operators and tenders', 'Fabricators, assemblers and hand working', 'Production inspectors, testers, samplers and weighers'],
  ],
  [
    'Transportation and material moving',
    0.04,
    -0.5,
    ['Motor vehicle operators', 'Material moving equipment operators', 'Rail and water transportation'],
  ],
  [
    'Handlers equip cleaners etc',
    0.045,
    -0.7,
    ['Helpers, equipment cleaners and laborers', 'Freight, stock and material handlers', 'Construction laborers'],
  ],
  ['Armed Forces', 0.001, 0, ['Armed Forces']],
];
const DETAILED_OCCUPATION = new Map(OCCUPATIONS.map(([name, , , details]) => [name, zipf(details, 1.0)]));

/** Major industry: [name, share among workers, detailed industries (common first)]. */
const INDUSTRIES: readonly (readonly [string, number, readonly string[]])[] = [
  [
    'Retail trade',
    0.17,
    [
      'Eating and drinking places',
      'Other retail trade',
      'Food stores',
      'General merchandise stores',
      'Automotive dealers and gasoline stations',
    ],
  ],
  [
    'Manufacturing-durable goods',
    0.09,
    [
      'Machinery, except electrical',
      'Electrical machinery, equipment and supplies',
      'Motor vehicles and equipment',
      'Fabricated metal products',
      'Primary metals',
      'Lumber and wood products',
      'Aircraft and parts',
      'Furniture and fixtures',
      'Professional and photographic equipment',
    ],
  ],
  [
    'Manufacturing-nondurable goods',
    0.07,
    [
      'Food and kindred products',
      'Printing, publishing and allied industries',
      'Chemicals and allied products',
      'Apparel and other finished textile products',
      'Paper and allied products',
      'Rubber and miscellaneous plastics products',
      'Textile mill products',
    ],
  ],
  ['Education', 0.08, ['Educational services']],
  ['Finance insurance and real estate', 0.06, ['Banking and other finance', 'Insurance and real estate']],
  ['Construction', 0.06, ['Construction']],
  ['Medical except hospital', 0.05, ['Health services, except hospitals']],
  ['Business and repair services', 0.05, ['Business services', 'Repair services']],
  ['Hospital services', 0.045, ['Hospitals']],
  [
    'Public administration',
    0.045,
    [
      'Justice, public order and safety',
      'Administration of human resources',
      'Other public administration',
      'National security and internal affairs',
    ],
  ],
  ['Other professional services', 0.045, ['Other professional services', 'Legal services']],
  ['Transportation', 0.04, ['Trucking service', 'Other transportation', 'Air transportation', 'Railroads']],
  ['Wholesale trade', 0.035, ['Wholesale trade, durable goods', 'Wholesale trade, nondurable goods']],
  ['Personal services except private HH', 0.03, ['Personal services except private households']],
  ['Agriculture', 0.03, ['Agricultural production, crops', 'Agricultural production, livestock', 'Agriculture services']],
  ['Social services', 0.025, ['Social services']],
  ['Entertainment', 0.02, ['Entertainment and recreation services']],
  ['Communications', 0.015, ['Communications']],
  ['Utilities and sanitary services', 0.012, ['Utilities and sanitary services']],
  ['Private household services', 0.008, ['Private households']],
  ['Mining', 0.006, ['Oil and gas extraction', 'Coal mining', 'Metal mining']],
  ['Forestry and fisheries', 0.002, ['Forestry and fisheries']],
  ['Armed Forces', 0.001, ['Armed Forces']],
];
const MAJOR_INDUSTRY = new Choice(INDUSTRIES.map(([name, w]) => [name, w] as const));
const DETAILED_INDUSTRY = new Map(INDUSTRIES.map(([name, , details]) => [name, zipf(details, 1.0)]));

const CLASS_OF_WORKER = new Choice([
  ['Private', 0.72],
  ['Self-employed-not incorporated', 0.08],
  ['Local government', 0.065],
  ['State government', 0.045],
  ['Self-employed-incorporated', 0.035],
  ['Federal government', 0.035],
  ['Without pay', 0.005],
] as const);

const RACE = new Choice([
  ['White', 0.84],
  ['Black', 0.1],
  ['Asian or Pacific Islander', 0.03],
  ['Other', 0.02],
  ['Amer Indian Aleut or Eskimo', 0.01],
] as const);

const HISPANIC = new Choice([
  ['All other', 0.86],
  ['Mexican-American', 0.04],
  ['Mexican (Mexicano)', 0.035],
  ['Central or South American', 0.02],
  ['Puerto Rican', 0.015],
  ['Other Spanish', 0.012],
  ['Cuban', 0.006],
  ['NA', 0.004],
  ['Chicano', 0.002],
  ['Do not know', 0.002],
] as const);

/** Foreign countries of birth, most common first (the census spellings, "Holand-Netherlands" included). */
const FOREIGN_COUNTRIES = zipf(
  [
    'Mexico',
    'Puerto-Rico',
    'Philippines',
    'Germany',
    'Canada',
    'El-Salvador',
    'Cuba',
    'Dominican-Republic',
    'China',
    'Italy',
    'India',
    'Poland',
    'England',
    'South Korea',
    'Jamaica',
    'Columbia',
    'Vietnam',
    'Japan',
    'Guatemala',
    'Ireland',
    'Haiti',
    'Ecuador',
    'Portugal',
    'Peru',
    'Nicaragua',
    'Greece',
    'Iran',
    'Taiwan',
    'Yugoslavia',
    'Honduras',
    'Hungary',
    'Scotland',
    'Trinadad&Tobago',
    'Thailand',
    'France',
    'Outlying-U S (Guam USVI etc)',
    'Cambodia',
    'Hong Kong',
    'Laos',
    'Panama',
    'Holand-Netherlands',
  ],
  1.3,
  1,
);
const US = 'United-States';

const STATES_BY_REGION: Record<string, Choice> = {
  Northeast: zipf(
    ['New York', 'Pennsylvania', 'New Jersey', 'Massachusetts', 'Connecticut', 'Maine', 'New Hampshire', 'Rhode Island', 'Vermont'],
    1.0,
  ),
  Midwest: zipf(
    [
      'Illinois',
      'Ohio',
      'Michigan',
      'Indiana',
      'Missouri',
      'Wisconsin',
      'Minnesota',
      'Iowa',
      'Kansas',
      'Nebraska',
      'South Dakota',
      'North Dakota',
    ],
    1.0,
  ),
  South: zipf(
    [
      'Florida',
      'Texas',
      'North Carolina',
      'Georgia',
      'Virginia',
      'Tennessee',
      'Alabama',
      'Kentucky',
      'South Carolina',
      'Louisiana',
      'Oklahoma',
      'Maryland',
      'Mississippi',
      'Arkansas',
      'West Virginia',
      'District of Columbia',
      'Delaware',
    ],
    1.0,
  ),
  West: zipf(
    [
      'California',
      'Arizona',
      'Colorado',
      'Oregon',
      'Utah',
      'Nevada',
      'New Mexico',
      'Idaho',
      'Montana',
      'Alaska',
      'Wyoming',
      'Hawaii',
      'Washington',
    ],
    1.0,
  ),
  Abroad: new Choice([['Abroad', 1]] as const),
};

/** [household summary, detailed household/family status, weight] for each kind of person. */
type HouseholdPair = readonly [string, string, number];
const household = (pairs: readonly HouseholdPair[]) => new Choice(pairs.map(([s, d, w]) => [[s, d] as const, w] as const));

const HOUSEHOLD_CHILD = household([
  ['Child under 18 never married', 'Child <18 never marr not in subfamily', 0.86],
  ['Other relative of householder', 'Grandchild <18 never marr not in subfamily', 0.03],
  ['Other relative of householder', 'Grandchild <18 never marr child of subfamily RP', 0.03],
  ['Other relative of householder', 'Other Rel <18 never marr not in subfamily', 0.03],
  ['Other relative of householder', 'Other Rel <18 never marr child of subfamily RP', 0.02],
  ['Nonrelative of householder', 'Child under 18 of RP of unrelated subfamily', 0.02],
  ['Child under 18 never married', 'Child <18 never marr RP of subfamily', 0.002],
  ['Group Quarters- Secondary individual', 'In group quarters', 0.002],
  ['Other relative of householder', 'Other Rel <18 never married RP of subfamily', 0.001],
]);
const HOUSEHOLD_CHILD_EVER_MARRIED = household([
  ['Child under 18 ever married', 'Child <18 ever marr not in subfamily', 0.5],
  ['Child under 18 ever married', 'Child <18 spouse of subfamily RP', 0.2],
  ['Child under 18 ever married', 'Child <18 ever marr RP of subfamily', 0.1],
  ['Other relative of householder', 'Grandchild <18 ever marr not in subfamily', 0.1],
  ['Other relative of householder', 'Other Rel <18 ever marr RP of subfamily', 0.05],
  ['Other relative of householder', 'Other Rel <18 spouse of subfamily RP', 0.05],
]);
const HOUSEHOLD_MARRIED = household([
  ['Householder', 'Householder', 0.5],
  ['Spouse of householder', 'Spouse of householder', 0.44],
  ['Other relative of householder', 'Other Rel 18+ spouse of subfamily RP', 0.015],
  ['Nonrelative of householder', 'Spouse of RP of unrelated subfamily', 0.015],
  ['Nonrelative of householder', 'RP of unrelated subfamily', 0.013],
  ['Child 18 or older', 'Child 18+ spouse of subfamily RP', 0.01],
  ['Child 18 or older', 'Child 18+ ever marr RP of subfamily', 0.005],
  ['Other relative of householder', 'Grandchild 18+ spouse of subfamily RP', 0.002],
]);
const HOUSEHOLD_FORMERLY_MARRIED = household([
  ['Householder', 'Householder', 0.35],
  ['Householder', 'Nonfamily householder', 0.35],
  ['Other relative of householder', 'Other Rel 18+ ever marr not in subfamily', 0.1],
  ['Nonrelative of householder', 'Secondary individual', 0.06],
  ['Child 18 or older', 'Child 18+ ever marr Not in a subfamily', 0.05],
  ['Other relative of householder', 'Other Rel 18+ ever marr RP of subfamily', 0.03],
  ['Child 18 or older', 'Child 18+ ever marr RP of subfamily', 0.03],
  ['Nonrelative of householder', 'RP of unrelated subfamily', 0.02],
  ['Other relative of householder', 'Grandchild 18+ ever marr not in subfamily', 0.005],
  ['Group Quarters- Secondary individual', 'In group quarters', 0.005],
]);
const neverMarriedAdult = (child: number, householder: number) =>
  household([
    ['Child 18 or older', 'Child 18+ never marr Not in a subfamily', child],
    ['Householder', 'Nonfamily householder', householder],
    ['Nonrelative of householder', 'Secondary individual', 0.18],
    ['Other relative of householder', 'Other Rel 18+ never marr not in subfamily', 0.1],
    ['Householder', 'Householder', householder / 4],
    ['Other relative of householder', 'Grandchild 18+ never marr not in subfamily', 0.03],
    ['Group Quarters- Secondary individual', 'In group quarters', 0.03],
    ['Child 18 or older', 'Child 18+ never marr RP of subfamily', 0.02],
    ['Other relative of householder', 'Other Rel 18+ never marr RP of subfamily', 0.01],
  ]);
const HOUSEHOLD_NEVER_MARRIED_YOUNG = neverMarriedAdult(0.42, 0.16);
const HOUSEHOLD_NEVER_MARRIED_OLDER = neverMarriedAdult(0.15, 0.4);

const PARENTS = new Choice([
  ['Both parents present', 0.68],
  ['Mother only present', 0.22],
  ['Neither parent present', 0.06],
  ['Father only present', 0.04],
] as const);

const UNEMPLOYMENT_REASON = new Choice([
  ['Re-entrant', 0.3],
  ['Other job loser', 0.25],
  ['Job loser - on layoff', 0.2],
  ['New entrant', 0.15],
  ['Job leaver', 0.1],
] as const);

const PART_TIME = new Choice([
  ['PT for non-econ reasons usually FT', 0.5],
  ['PT for econ reasons usually PT', 0.3],
  ['PT for econ reasons usually FT', 0.2],
] as const);

const MSA_MOVE = new Choice([
  ['MSA to MSA', 0.6],
  ['NonMSA to nonMSA', 0.15],
  ['MSA to nonMSA', 0.07],
  ['NonMSA to MSA', 0.07],
  ['Not identifiable', 0.03],
  ['Abroad to MSA', 0.025],
  ['Abroad to nonMSA', 0.005],
] as const);

/** [change in region, move within region, region of previous residence (null: "Not in universe")]. */
const REGION_MOVE = new Choice<readonly [string, string, string | null]>([
  [['Same county', 'Same county', null], 0.6],
  [['Different county same state', 'Different county same state', null], 0.2],
  [['Different region', 'Different state in South', 'South'], 0.035],
  [['Different region', 'Different state in West', 'West'], 0.025],
  [['Different division same region', 'Different state in Midwest', 'Midwest'], 0.03],
  [['Different state same division', 'Different state in Northeast', 'Northeast'], 0.02],
  [['Different state same division', 'Different state in South', 'South'], 0.03],
  [['Abroad', 'Abroad', 'Abroad'], 0.03],
]);

// Label effects, looked up on the observed cells ("?" has no entry: no effect).
const INCOME_CLASS: Record<string, number> = {
  'Self-employed-incorporated': 1.1,
  'Federal government': 0.5,
  'Self-employed-not incorporated': 0.2,
  'State government': 0.1,
  'Local government': 0.1,
  'Without pay': -1,
  'Never worked': -1.5,
  [NIU]: -0.5,
};
const INCOME_OCCUPATION: Record<string, number> = {
  'Executive admin and managerial': 1.0,
  'Professional specialty': 0.9,
  Sales: 0.3,
  'Technicians and related support': 0.3,
  'Protective services': 0.3,
  'Precision production craft & repair': 0.1,
  'Transportation and material moving': -0.2,
  'Adm support including clerical': -0.4,
  'Machine operators assmblrs & inspctrs': -0.5,
  'Handlers equip cleaners etc': -0.8,
  'Farming forestry and fishing': -0.8,
  'Other service': -1.0,
  'Private household services': -1.5,
};
const NEVER_MARRIED_TAX: Record<string, number> = {
  'Joint both under 65': -2.5,
  'Joint one under 65 & one 65+': -2.5,
  'Joint both 65+': -2.5,
  Single: 0.8,
  'Head of household': -0.3,
};

function familyEffect(status: string): number {
  if (status === RAW_MISSING) return 0;
  if (status.includes('never marr')) return 2;
  if (status.includes('ever marr') || status.includes('spouse') || status.includes('Spouse')) return -3;
  if (status === 'Nonfamily householder') return 0.8;
  if (status === 'Secondary individual' || status === 'In group quarters') return 1;
  if (status === 'Householder') return -0.5;
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// Drawing rows

/** Column arrays being filled, plus the label logits (before the calibrated intercepts). */
interface Draw {
  columns: Record<string, (string | number | null)[]>;
  incomeLogit: Float64Array;
  neverMarriedLogit: Float64Array;
}

function checkRate(name: string, value: number): void {
  if (!(value >= 0 && value < 1)) throw new DataError(`${name} must be in [0, 1), got ${value}. Fix: pass a share such as 0.02.`);
}

function drawRows(seed: number, firstRow: number, rows: number, missingRate: number, numericMissingRate: number): Draw {
  const columns: Record<string, (string | number | null)[]> = {};
  for (const name of HEADER) columns[name] = new Array(rows);
  const incomeLogit = new Float64Array(rows);
  const neverMarriedLogit = new Float64Array(rows);
  const rng = new RowRandom();
  const streamSeed = deriveSeed(seed, 'census-raw-rows');
  const row: Record<string, string | number | null> = {};
  const targets = HEADER.map((name) => columns[name]);

  for (let r = 0; r < rows; r++) {
    const index = firstRow + r;
    // Two mixes of (seed, row index) so rows up to 2^53 get distinct, well-spread streams.
    rng.reset(mix32(streamSeed ^ mix32(index >>> 0) ^ mix32(Math.floor(index / 4294967296) + 0x632be5ab)));
    drawPerson(rng, row);

    for (const name of STRING_COLUMNS) if (missingRate > 0 && rng.uniform() < missingRate) row[name] = RAW_MISSING;
    for (const name of MISSABLE_NUMBERS) if (numericMissingRate > 0 && rng.uniform() < numericMissingRate) row[name] = null;

    incomeLogit[r] = incomeScore(row);
    neverMarriedLogit[r] = neverMarriedScore(row);
    for (let c = 0; c < HEADER.length; c++) targets[c][r] = row[HEADER[c]] ?? null;
  }
  return { columns, incomeLogit, neverMarriedLogit };
}

/** Draws one person's true cells into `row` (every feature column; labels come later). */
function drawPerson(rng: RowRandom, row: Record<string, string | number | null>): void {
  const child = rng.chance(0.25);
  const age = child ? Math.floor(rng.uniform() * 18) : Math.min(90, 18 + Math.floor(73 * rng.uniform() ** 1.25));
  row.age = age;
  const female = rng.chance(0.52);
  row.sex = female ? 'Female' : 'Male';

  // Education.
  let education: string;
  if (age < 15) education = 'Children';
  else if (age < 18)
    education = age === 15 ? '9th grade' : age === 16 ? '10th grade' : rng.chance(0.9) ? '11th grade' : '12th grade no diploma';
  else education = ADULT_EDUCATION.pick(rng);
  row.education = education;
  const zEdu = EDUCATION_Z.get(education) ?? 0;
  row['enrolled in edu inst last wk'] =
    age >= 15 && age < 18 && rng.chance(0.92)
      ? 'High school'
      : age >= 18 && age < 25 && rng.chance(Math.min(0.8, Math.max(0.05, 0.35 + 0.2 * zEdu)))
        ? 'College or university'
        : NIU;

  // Work.
  let pWork = 0;
  if (age >= 15 && age < 18) pWork = 0.25;
  else if (age >= 18) pWork = age < 25 ? 0.65 : age < 55 ? 0.82 : age < 65 ? 0.6 : 0.15;
  if (age >= 18) pWork = Math.min(0.97, Math.max(0.02, pWork + 0.05 * zEdu));
  const works = rng.chance(pWork);
  let weeks = 0;
  if (works) weeks = rng.chance(0.72) ? 52 : 1 + Math.floor(51 * rng.uniform());
  else if (age >= 16 && rng.chance(0.08)) weeks = 1 + Math.floor(20 * rng.uniform());
  row['weeks worked in year'] = weeks;

  if (works) {
    const workerClass = CLASS_OF_WORKER.pick(rng);
    row['class of worker'] = workerClass;
    const occupation = pickOccupation(rng, zEdu);
    row['major occupation code'] = occupation;
    row['detailed occupation'] = (DETAILED_OCCUPATION.get(occupation) as Choice).pick(rng);
    let industry: string;
    if (occupation === 'Armed Forces') industry = 'Armed Forces';
    else if (occupation === 'Private household services') industry = 'Private household services';
    else if (occupation === 'Farming forestry and fishing' && rng.chance(0.7)) industry = 'Agriculture';
    else industry = MAJOR_INDUSTRY.pick(rng);
    row['major industry code'] = industry;
    row['detailed industry'] = (DETAILED_INDUSTRY.get(industry) as Choice).pick(rng);
    row['num persons worked for employer'] = 1 + Math.min(5, Math.floor(-Math.log(1 - rng.uniform()) * 2.2));
    row['member of a labor union'] = rng.chance(0.75) ? NIU : rng.chance(0.8) ? 'No' : 'Yes';
    const selfEmployed = workerClass.startsWith('Self-employed');
    row['own business or self employed'] = selfEmployed ? 'Yes' : 'No';
    const hourly = !selfEmployed && workerClass !== 'Without pay' && rng.chance(0.25);
    row['wage per hour'] = hourly ? Math.round(100 * Math.exp(2.4 + 0.25 * zEdu + 0.3 * rng.normal())) / 100 : 0;
    row['full or part time employment stat'] = rng.chance(0.8) ? 'Full-time schedules' : PART_TIME.pick(rng);
    row['reason for unemployment'] = NIU;
  } else {
    const neverWorked = age >= 16 && age < 25 && rng.chance(0.05);
    row['class of worker'] = neverWorked ? 'Never worked' : NIU;
    row['major occupation code'] = NIU;
    row['detailed occupation'] = NIU;
    row['major industry code'] = 'Not in universe or children';
    row['detailed industry'] = NIU;
    row['num persons worked for employer'] = weeks > 0 ? 1 + Math.floor(3 * rng.uniform()) : 0;
    row['member of a labor union'] = NIU;
    row['own business or self employed'] = NIU;
    row['wage per hour'] = 0;
    const looking = age >= 16 && age < 65 && rng.chance(0.12);
    row['full or part time employment stat'] =
      age < 15
        ? 'Children or Armed Forces'
        : looking
          ? rng.chance(0.8)
            ? 'Unemployed full-time'
            : 'Unemployed part- time'
          : 'Not in labor force';
    row['reason for unemployment'] = looking ? UNEMPLOYMENT_REASON.pick(rng) : NIU;
  }

  // Family: ever married rises with age; some of the ever married are no longer married.
  const everMarried = child ? age >= 16 && rng.chance(0.003) : rng.chance(0.95 * sigmoid(-2.2 + 0.22 * (Math.min(age, 45) - 18)));
  const marriedNow = everMarried && !child && rng.chance(age < 65 ? 0.8 : 0.6);
  const pair = child
    ? (everMarried ? HOUSEHOLD_CHILD_EVER_MARRIED : HOUSEHOLD_CHILD).pick(rng)
    : marriedNow
      ? HOUSEHOLD_MARRIED.pick(rng)
      : everMarried
        ? HOUSEHOLD_FORMERLY_MARRIED.pick(rng)
        : (age < 30 ? HOUSEHOLD_NEVER_MARRIED_YOUNG : HOUSEHOLD_NEVER_MARRIED_OLDER).pick(rng);
  row['detailed household summary in household'] = pair[0];
  row['detailed household and family stat'] = pair[1];
  row['family members under 18'] = child ? PARENTS.pick(rng) : NIU;
  let tax: string;
  if (child) tax = age >= 16 && works && rng.chance(0.4) ? 'Single' : 'Nonfiler';
  else if (marriedNow && rng.chance(0.92))
    tax = age < 60 ? 'Joint both under 65' : age < 70 ? 'Joint one under 65 & one 65+' : 'Joint both 65+';
  else if (everMarried) tax = rng.chance(0.35) ? 'Head of household' : rng.chance(0.7) ? 'Single' : 'Nonfiler';
  else tax = rng.chance(0.6) ? 'Single' : rng.chance(0.75) ? 'Nonfiler' : 'Head of household';
  row['tax filer status'] = tax;

  // Investments: mostly zero; amounts lognormal, more with education and age.
  const adult = age >= 18;
  row['capital gains'] =
    adult && rng.chance(sigmoid(-3.4 + 0.5 * zEdu + 0.02 * (age - 40)))
      ? Math.min(99999, Math.max(100, Math.round(Math.exp(7.8 + 1.1 * rng.normal()))))
      : 0;
  row['capital losses'] =
    adult && rng.chance(sigmoid(-3.8 + 0.3 * zEdu)) ? Math.min(4356, Math.max(200, Math.round(1400 + 400 * rng.normal()))) : 0;
  row['dividends from stocks'] =
    adult && rng.chance(sigmoid(-2.0 + 0.6 * zEdu + 0.025 * (age - 40)))
      ? Math.min(99999, Math.max(1, Math.round(Math.exp(5.5 + 1.4 * rng.normal()))))
      : 0;

  // Origin.
  const hispanic = HISPANIC.pick(rng);
  row['hispanic origin'] = hispanic;
  row.race = RACE.pick(rng);
  const mexican = hispanic.startsWith('Mexican') || hispanic === 'Chicano';
  const self = mexican && rng.chance(0.45) ? 'Mexico' : rng.chance(0.9) ? US : FOREIGN_COUNTRIES.pick(rng);
  row['country of birth self'] = self;
  const parentCountry = () => (self !== US && rng.chance(0.9) ? self : rng.chance(mexican ? 0.5 : 0.87) ? US : FOREIGN_COUNTRIES.pick(rng));
  row['country of birth father'] = parentCountry();
  row['country of birth mother'] = parentCountry();
  row.citizenship =
    self === US
      ? rng.chance(0.01)
        ? 'Native- Born abroad of American Parent(s)'
        : 'Native- Born in the United States'
      : self === 'Puerto-Rico' || self.startsWith('Outlying')
        ? 'Native- Born in Puerto Rico or U S Outlying'
        : rng.chance(0.4 + 0.01 * Math.min(age, 40))
          ? 'Foreign born- U S citizen by naturalization'
          : 'Foreign born- Not a citizen of U S';

  // Migration in the last year.
  if (age < 1) {
    row['live in this house 1 year ago'] = 'Not in universe under 1 year old';
    setMigration(row, NIU, NIU, NIU, NIU, NIU, NIU);
  } else if (rng.chance(age >= 20 && age < 35 ? 0.3 : 0.13)) {
    row['live in this house 1 year ago'] = 'No';
    const [reg, within, region] = REGION_MOVE.pick(rng);
    const state = region === null ? NIU : STATES_BY_REGION[region].pick(rng);
    const sunbelt = region === 'South' || region === 'West' ? 'Yes' : 'No';
    setMigration(row, MSA_MOVE.pick(rng), reg, within, region ?? NIU, state, sunbelt);
  } else {
    row['live in this house 1 year ago'] = 'Yes';
    setMigration(row, 'Nonmover', 'Nonmover', 'Nonmover', NIU, NIU, NIU);
  }

  // Veterans.
  const veteranAge = !female && age >= 25;
  row['veterans benefits'] = child ? NIU : veteranAge && rng.chance(0.25) ? 'Yes' : 'No';
  row['fill inc questionnaire for veterans admin'] = rng.chance(0.99) ? NIU : veteranAge ? 'Yes' : 'No';
  row['survey year'] = rng.chance(0.5) ? 'CPS March 1994' : 'CPS March 1995';
}

function setMigration(
  row: Record<string, string | number | null>,
  msa: string,
  reg: string,
  within: string,
  region: string,
  state: string,
  sunbelt: string,
): void {
  row['migration code-change in msa'] = msa;
  row['migration code-change in reg'] = reg;
  row['migration code-move within reg'] = within;
  row['region of previous residence'] = region;
  row['state of previous residence'] = state;
  row['migration prev res in sunbelt'] = sunbelt;
}

const OCCUPATION_WEIGHTS = new Float64Array(OCCUPATIONS.length);
function pickOccupation(rng: RowRandom, zEdu: number): string {
  let total = 0;
  for (let k = 0; k < OCCUPATIONS.length; k++) {
    const [, share, tilt] = OCCUPATIONS[k];
    OCCUPATION_WEIGHTS[k] = share * Math.exp(tilt * zEdu);
    total += OCCUPATION_WEIGHTS[k];
  }
  let u = rng.uniform() * total;
  for (let k = 0; k < OCCUPATIONS.length; k++) {
    u -= OCCUPATION_WEIGHTS[k];
    if (u < 0) return OCCUPATIONS[k][0];
  }
  return OCCUPATIONS[OCCUPATIONS.length - 1][0];
}

const num = (v: string | number | null): number | null => (typeof v === 'number' ? v : null);

/** logit(income_50k) without the intercept, from the observed cells. */
function incomeScore(row: Record<string, string | number | null>): number {
  const age = row.age as number;
  if (age < 16) return -9;
  const education = row.education as string;
  const weeks = num(row['weeks worked in year']) ?? 26;
  const gains = num(row['capital gains']) ?? 0;
  const dividends = num(row['dividends from stocks']) ?? 0;
  const losses = num(row['capital losses']) ?? 0;
  const tax = row['tax filer status'] as string;
  return (
    0.85 * (EDUCATION_Z.get(education) ?? 0) -
    0.0015 * (age - 48) ** 2 +
    (2 * weeks) / 52 +
    (row.sex === 'Male' ? 0.7 : 0) +
    (INCOME_CLASS[row['class of worker'] as string] ?? 0) +
    (INCOME_OCCUPATION[row['major occupation code'] as string] ?? 0) +
    (gains > 0 ? 1.2 : 0) +
    (gains > 7000 ? 1.5 : 0) +
    (dividends > 0 ? 0.7 : 0) +
    (losses > 1500 ? 0.8 : 0) +
    (tax.startsWith('Joint') ? 0.5 : 0) +
    (row['full or part time employment stat'] === 'Full-time schedules' ? 0.2 : 0)
  );
}

/** logit(never_married) without the intercept, from the observed cells. */
function neverMarriedScore(row: Record<string, string | number | null>): number {
  const age = row.age as number;
  const ageTerm = age < 18 ? 4 : -0.09 * (Math.min(age, 60) - 25);
  return (
    ageTerm +
    familyEffect(row['detailed household and family stat'] as string) +
    (NEVER_MARRIED_TAX[row['tax filer status'] as string] ?? 0) +
    (row.sex === 'Female' ? -0.2 : 0) +
    (BACHELOR_OR_MORE.has(row.education as string) ? 0.2 : 0) +
    (row['enrolled in edu inst last wk'] === 'College or university' ? 0.8 : 0)
  );
}

// ---------------------------------------------------------------------------------------------------
// Intercepts: calibrated once per (missing rates) on a fixed pilot sample, so every seed shares them.

const INCOME_RATE = 0.062;
const NEVER_MARRIED_RATE = 0.43;
const interceptCache = new Map<string, { income: number; neverMarried: number }>();

function calibrate(logits: Float64Array, target: number): number {
  let lo = -20;
  let hi = 20;
  for (let iter = 0; iter < 50; iter++) {
    const mid = (lo + hi) / 2;
    let sum = 0;
    for (let r = 0; r < logits.length; r++) sum += sigmoid(mid + logits[r]);
    if (sum / logits.length < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function intercepts(missingRate: number, numericMissingRate: number): { income: number; neverMarried: number } {
  const key = `${missingRate}|${numericMissingRate}`;
  let found = interceptCache.get(key);
  if (!found) {
    const pilot = drawRows(20240601, 0, 20_000, missingRate, numericMissingRate);
    found = { income: calibrate(pilot.incomeLogit, INCOME_RATE), neverMarried: calibrate(pilot.neverMarriedLogit, NEVER_MARRIED_RATE) };
    if (interceptCache.size > 16) interceptCache.clear();
    interceptCache.set(key, found);
  }
  return found;
}

interface ResolvedOptions {
  rows: number;
  seed: number;
  missingRate: number;
  numericMissingRate: number;
  firstRow: number;
}

const OPTION_NAMES = ['rows', 'seed', 'missingRate', 'numericMissingRate', 'firstRow'];

function resolveOptions(options: RawTableOptions, where: string, extra: readonly string[] = []): ResolvedOptions {
  checkOptionNames(where, options, [...OPTION_NAMES, ...extra], (message) => new DataError(`${message}. Fix: correct or remove it.`));
  const { rows, seed, missingRate = 0.02, numericMissingRate = 0, firstRow = 0 } = options;
  if (!Number.isSafeInteger(rows) || rows < 0) throw new DataError(`${where}: rows must be a non-negative integer, got ${rows}.`);
  if (!Number.isFinite(seed)) throw new DataError(`${where}: seed must be a finite number, got ${seed}.`);
  if (!Number.isSafeInteger(firstRow) || firstRow < 0)
    throw new DataError(`${where}: firstRow must be a non-negative integer, got ${firstRow}.`);
  checkRate('missingRate', missingRate);
  checkRate('numericMissingRate', numericMissingRate);
  return { rows, seed, missingRate, numericMissingRate, firstRow };
}

/** Draws rows, then their labels from the calibrated probabilities (one more stream per row). */
function drawLabelled(o: ResolvedOptions, firstRow: number, rows: number) {
  const b = intercepts(o.missingRate, o.numericMissingRate);
  const draw = drawRows(o.seed, firstRow, rows, o.missingRate, o.numericMissingRate);
  const pIncome = new Float64Array(rows);
  const pNever = new Float64Array(rows);
  const labelSeed = deriveSeed(o.seed, 'census-raw-labels');
  const income = draw.columns.income_50k;
  const never = draw.columns.never_married;
  const rng = new RowRandom();
  for (let r = 0; r < rows; r++) {
    const index = firstRow + r;
    rng.reset(mix32(labelSeed ^ mix32(index >>> 0) ^ mix32(Math.floor(index / 4294967296) + 0x632be5ab)));
    pIncome[r] = sigmoid(b.income + draw.incomeLogit[r]);
    pNever[r] = sigmoid(b.neverMarried + draw.neverMarriedLogit[r]);
    income[r] = rng.uniform() < pIncome[r] ? 1 : 0;
    never[r] = rng.uniform() < pNever[r] ? 1 : 0;
  }
  return { columns: draw.columns, pIncome, pNever };
}

const TYPES: Record<string, SourceType> = Object.fromEntries([
  ...STRING_COLUMNS.map((n) => [n, 'string'] as const),
  ...INT_COLUMNS.map((n) => [n, 'int'] as const),
  ...FLOAT_COLUMNS.map((n) => [n, 'float'] as const),
  ...LABEL_COLUMNS.map((n) => [n, 'int'] as const),
]);

/** The column names and how a file stores each, without drawing rows. */
export function rawTableLayout(): {
  header: string[];
  types: Record<string, SourceType>;
  stringColumns: string[];
  numericColumns: string[];
  labelColumns: string[];
} {
  return {
    header: [...HEADER],
    types: { ...TYPES },
    stringColumns: [...STRING_COLUMNS],
    numericColumns: HEADER.filter((n) => TYPES[n] !== 'string' && !(LABEL_COLUMNS as readonly string[]).includes(n)),
    labelColumns: [...LABEL_COLUMNS],
  };
}

/**
 * Draws `rows` census-income-shaped raw rows (deterministic for the options): 32 string columns, 7
 * numeric, labels income_50k and never_married (0/1). 200k rows take about a second.
 */
export function generateRawTable(options: RawTableOptions): RawTable {
  const o = resolveOptions(options, 'generateRawTable');
  const { columns, pIncome, pNever } = drawLabelled(o, o.firstRow, o.rows);
  let missing = 0;
  for (const name of STRING_COLUMNS) for (const v of columns[name]) if (v === RAW_MISSING) missing++;
  const income = Float64Array.from(columns.income_50k as number[]);
  const never = Float64Array.from(columns.never_married as number[]);
  const mean = (a: Float64Array) => (a.length > 0 ? a.reduce((s, v) => s + v, 0) / a.length : NaN);
  return {
    ...rawTableLayout(),
    columns,
    rows: o.rows,
    truth: { income_50k: pIncome, never_married: pNever },
    oracle: {
      income50kAuc: rocAuc(income, pIncome),
      neverMarriedAuc: rocAuc(never, pNever),
      income50kRate: mean(income),
      neverMarriedRate: mean(never),
      missingShare: o.rows > 0 ? missing / (o.rows * STRING_COLUMNS.length) : NaN,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// CSV

/** The CSV form of a text: in double quotes ("" for a quote) when it holds a comma, quote or line break. */
function quoteText(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const utf8 = new TextEncoder();
/** UTF-8 bytes of each text's CSV form. The value sets are small and fixed; bounded in case of other tables. */
const cellBytesCache = new Map<string, Uint8Array>();

function textBytes(value: string): Uint8Array {
  let bytes = cellBytesCache.get(value);
  if (bytes === undefined) {
    bytes = utf8.encode(quoteText(value));
    if (cellBytesCache.size < 4096) cellBytesCache.set(value, bytes);
  }
  return bytes;
}

/**
 * Rows as CSV bytes ("\n" line ends): texts quoted as needed, null → empty cell, numbers in their
 * shortest decimal form with ".0" added to whole numbers of float columns (so a reader sees a float).
 * Written straight into bytes: no string per cell or line.
 */
function csvBytes(header: readonly string[], columns: Record<string, (string | number | null)[]>, rows: number): Uint8Array {
  const floats = header.map((n) => TYPES[n] === 'float');
  const cols = header.map((n) => {
    const values = columns[n];
    if (values === undefined)
      throw new DataError(`rawTableCsvText: column "${n}" of the header has no values. Fix: pass a table from generateRawTable.`);
    return values;
  });
  let out = new Uint8Array(Math.max(1024, rows * 640));
  let pos = 0;
  const reserve = (n: number) => {
    if (pos + n <= out.length) return;
    const grown = new Uint8Array(Math.max(out.length * 2, pos + n));
    grown.set(out.subarray(0, pos));
    out = grown;
  };
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols.length; c++) {
      reserve(32);
      if (c > 0) out[pos++] = 44; // ','
      const value = cols[c][r];
      if (value === null || value === undefined) continue;
      if (typeof value === 'string') {
        const bytes = textBytes(value);
        reserve(bytes.length);
        for (let k = 0; k < bytes.length; k++) out[pos + k] = bytes[k];
        pos += bytes.length;
      } else if (Number.isSafeInteger(value) && value >= 0) {
        // Digits of a whole number, right to left.
        let digits = 1;
        for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
        for (let k = digits - 1, v = value; k >= 0; k--, v = Math.floor(v / 10)) out[pos + k] = 48 + (v % 10);
        pos += digits;
        if (floats[c]) {
          out[pos++] = 46; // '.'
          out[pos++] = 48; // '0'
        }
      } else {
        const text = floats[c] && Number.isInteger(value) ? `${value}.0` : String(value);
        reserve(text.length);
        for (let k = 0; k < text.length; k++) out[pos + k] = text.charCodeAt(k);
        pos += text.length;
      }
    }
    reserve(1);
    out[pos++] = 10; // '\n'
  }
  return out.subarray(0, pos);
}

const headerLine = (header: readonly string[]) => `${header.map(quoteText).join(',')}\n`;

/** The table as CSV text: header line, then one line per row ("\n" line ends). */
export function rawTableCsvText(table: Pick<RawTable, 'header' | 'columns' | 'rows'>): string {
  return headerLine(table.header) + new TextDecoder().decode(csvBytes(table.header, table.columns, table.rows));
}

/**
 * Writes `options.rows` rows as CSV (Node), drawing and writing `chunkRows` rows at a time (default
 * 65536), so memory stays bounded however many rows are asked. The bytes equal
 * rawTableCsvText(generateRawTable(options)).
 */
export async function writeRawTableCsv(
  path: string,
  options: RawTableOptions & { chunkRows?: number },
): Promise<{ rows: number; bytes: number }> {
  const { chunkRows = 65536 } = options;
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1)
    throw new DataError(`writeRawTableCsv: chunkRows must be a positive integer, got ${chunkRows}.`);
  const o = resolveOptions(options, 'writeRawTableCsv', ['chunkRows']);
  const { open } = await import('node:fs/promises');
  const file = await open(path, 'w');
  let bytes = 0;
  try {
    const write = async (buffer: Uint8Array) => {
      bytes += buffer.length;
      await file.write(buffer);
    };
    await write(utf8.encode(headerLine(HEADER)));
    for (let start = 0; start < o.rows; start += chunkRows) {
      const n = Math.min(chunkRows, o.rows - start);
      const { columns } = drawLabelled(o, o.firstRow + start, n);
      await write(csvBytes(HEADER, columns, n));
    }
  } finally {
    await file.close();
  }
  return { rows: o.rows, bytes };
}
