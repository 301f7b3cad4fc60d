// The registries of balancing methods and models are the one list that the API, the CLI and the docs
// follow: a registered method or model missing from docs/balancing.md, docs/models.md or the CLI's
// help fails here, and so does a doc that names one that is not registered. A method added in a
// throwaway entry is usable through createStrategy and listed by the CLI without any other edit.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliHelp } from '../src/cli.js';
import { MODEL_ENTRIES, MODEL_NAMES } from '../src/models/registry.js';
import {
  BALANCE_METHODS,
  type BalanceMethod,
  type BalanceStrategy,
  balanceMethod,
  createStrategy,
  STRATEGY_METHODS,
} from '../src/mtl/index.js';

const balancingDoc = readFileSync(new URL('../docs/balancing.md', import.meta.url), 'utf8');
const modelsDoc = readFileSync(new URL('../docs/models.md', import.meta.url), 'utf8');
/** The help with every run of spaces and line breaks as one space, so that a wrapped summary reads as one line. */
const flatHelp = (help: string) => help.replace(/\s+/g, ' ');
const key = (name: string) => name.toLowerCase().replace(/[-_\s]/g, '');

/** The rows of the first markdown table after `heading`, each as its trimmed cells. */
function tableAfter(doc: string, heading: string): string[][] {
  const start = doc.indexOf(`\n${heading}\n`);
  expect(start, `the docs have a '${heading}' section`).toBeGreaterThanOrEqual(0);
  const lines = doc.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const methodRow = (m: BalanceMethod) => [
  `\`${m.name}\``,
  m.options.map((o) => `\`${o}\``).join(', '),
  m.summary,
  m.paper ? `${m.paper.authors}, ${m.paper.venue}: *${m.paper.title}*` : '—',
];

describe('docs/balancing.md follows the registry', () => {
  it('lists exactly the registered methods, in order, with their options, summaries and papers', () => {
    expect(tableAfter(balancingDoc, '## The methods')).toEqual(BALANCE_METHODS.map(methodRow));
  });

  it('has a section per registered method, and every method it names is registered', () => {
    const sections = [...balancingDoc.matchAll(/^### .*`\{ method: '(\w+)'(.*)\}`$/gm)];
    expect(sections.map((s) => s[1])).toEqual(STRATEGY_METHODS);
    for (const [, method, rest] of sections) {
      const documented = [...rest.matchAll(/, (\w+)/g)].map((o) => o[1]);
      const entry = BALANCE_METHODS.find((m) => m.name === method)!;
      for (const o of documented) expect(entry.options, `${method}'s documented option ${o}`).toContain(o);
    }
    // Every spec in the page names a registered method ('Adding a method' writes a new one).
    const example = balancingDoc.slice(
      balancingDoc.indexOf('\n## Adding a method\n'),
      balancingDoc.indexOf('\n## Your own training loop\n'),
    );
    const named = new Set([...balancingDoc.replace(example, '').matchAll(/method: '(\w+)'/g)].map((m) => m[1]));
    expect(named.size).toBeGreaterThan(STRATEGY_METHODS.length / 2);
    for (const method of named) expect(STRATEGY_METHODS, `docs/balancing.md names method '${method}'`).toContain(method);
  });
});

describe('docs/models.md follows the registry', () => {
  it('lists exactly the registered models, in order, with their summaries', () => {
    expect(tableAfter(modelsDoc, '## The models')).toEqual(MODEL_ENTRIES.map((e) => [`\`${e.name}\``, e.summary]));
  });

  it('has a section per registered model, and no section for a model that is not registered', () => {
    // Every other '## ' section is a model's, named first ('## PLE (and CGC)').
    const otherSections = ['The models', 'Experts'];
    const models = [...modelsDoc.matchAll(/^## (.+)$/gm)].map((m) => m[1]).filter((h) => !otherSections.includes(h));
    const isSectionOf = (heading: string, e: (typeof MODEL_ENTRIES)[number]) =>
      [e.name, ...e.aliases].some((n) => key(n) === key(heading.split(' ')[0]));
    for (const e of MODEL_ENTRIES)
      expect(
        models.some((h) => isSectionOf(h, e)),
        `a '## ' section for ${e.name}`,
      ).toBe(true);
    for (const h of models)
      expect(
        MODEL_ENTRIES.some((e) => isSectionOf(h, e)),
        `docs/models.md has a section '${h}'`,
      ).toBe(true);
  });
});

describe('the CLI help follows the registries', () => {
  const help = flatHelp(cliHelp());

  it('lists every balancing method and model with its summary', () => {
    expect(help).toContain(`--balance <method> ${STRATEGY_METHODS.join(' | ')} `);
    expect(help).toContain(`--model <name> ${MODEL_NAMES.join(' | ')} `);
    for (const m of BALANCE_METHODS) expect(help).toContain(`${m.name} ${m.summary}`);
    for (const e of MODEL_ENTRIES) expect(help).toContain(`${e.name} ${e.summary}`);
  });

  it('names no method or model that is not registered', () => {
    const section = (title: string) => {
      const lines = cliHelp().split('\n');
      const start = lines.findIndex((l) => l.startsWith(title));
      const end = lines.findIndex((l, i) => i > start && l.trim() === '');
      return lines
        .slice(start + 1, end === -1 ? undefined : end)
        .filter((l) => /^ {2}\S/.test(l))
        .map((l) => l.trim().split(/\s+/)[0]);
    };
    expect(section('balancing methods')).toEqual(STRATEGY_METHODS);
    expect(section('models')).toEqual([...MODEL_NAMES]);
  });
});

describe('a method in a throwaway entry', () => {
  // Loss weights 2^i, to tell it apart from every registered method.
  class Doubling implements BalanceStrategy {
    readonly name = 'doubling';
    constructor(readonly start: number) {}
    backward() {
      return { weights: [this.start, 2 * this.start] };
    }
  }
  const doubling = balanceMethod({
    name: 'doubling',
    options: ['start'],
    summary: 'A throwaway method of this test: loss weights 1, 2, 4, ...',
    paper: null,
    create: (o: { start?: number }) => new Doubling(o.start ?? 1),
  });
  const methods = [...BALANCE_METHODS, doubling];

  it('is created by createStrategy, options checked, with no other edit', () => {
    const s = createStrategy({ method: 'Doubling', start: 3 } as never, {}, methods);
    expect(s).toBeInstanceOf(Doubling);
    expect((s as Doubling).start).toBe(3);
    expect(() => createStrategy({ method: 'doubling', strat: 1 } as never, {}, methods)).toThrow(
      /doubling has no option 'strat' \(did you mean 'start'\?\); its options are start/,
    );
    // The registered ones are still there, and the entry is not registered by being written.
    expect(createStrategy({ method: 'pcgrad' }, {}, methods).name).toBe('pcgrad');
    expect(() => createStrategy({ method: 'doubling' } as never)).toThrow(/unknown method 'doubling'; known methods: fixed, uwl/);
  });

  it('is listed in the CLI help with its summary', () => {
    const help = flatHelp(cliHelp(methods));
    expect(help).toContain(`${[...STRATEGY_METHODS, 'doubling'].join(' | ')} `);
    expect(help).toContain(`doubling ${doubling.summary}`);
  });
});
