// The walk-through behind docs/gradient-routing.md: the identities it demonstrates hold on its own
// numbers, it is deterministic, and every output excerpt quoted in the document is what the command
// prints (regenerate the excerpts with `npx webmtl walkthrough` when this fails after a kernel change).
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatWalkthrough, runWalkthrough, type WalkthroughResult } from '../src/experiments/walkthrough.js';

let w: WalkthroughResult;
let text: string;

beforeAll(async () => {
  w = await runWalkthrough();
  text = formatWalkthrough(w);
});

describe('walkthrough', () => {
  it('shows ∂L_k/∂E_i = g_i^(k) · ∂L_k/∂f^k on a row of MMoE', () => {
    const { gate, mixNorm, expertNorm } = w.mmoe.row;
    gate.forEach((g, k) => {
      expect(g.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      g.forEach((gi, i) => expect(expertNorm[k][i] / mixNorm[k]).toBeCloseTo(gi, 5));
    });
  });

  it('MetaBalance scales the auxiliary gradient to r·‖g_tar‖ + (1 − r)·‖g_aux‖ at its first step', () => {
    const mb = w.balancing.metabalance;
    expect(mb.scaledAuxNorm).toBeCloseTo(mb.predictedAuxNorm, 4);
    expect(mb.combinedNorm).toBeLessThan(w.balancing.sumNorm);
  });

  it('GradNorm: targets from the training rates, weights that meet their proportion', () => {
    const gn = w.balancing.gradnorm;
    expect((gn.rates[0] + gn.rates[1]) / 2).toBeCloseTo(1, 10);
    expect(gn.weights[0] + gn.weights[1]).toBeCloseTo(2, 10);
    gn.targets.forEach((t, k) => expect(t).toBeCloseTo(((gn.norms[0] + gn.norms[1]) / 2) * gn.rates[k] ** gn.alpha, 8));
    expect(gn.weightedNorms[1] / gn.weightedNorms[0]).toBeCloseTo((gn.rates[1] / gn.rates[0]) ** gn.alpha, 8);
  });

  it('PCGrad: a real conflict, orthogonal projections, and the strategy agrees with the hand projection', () => {
    const p = w.pcgrad;
    expect(p.dot).toBeLessThan(0);
    p.residualDots.forEach((d) => expect(Math.abs(d)).toBeLessThan(1e-5 * p.norms[0] * p.norms[1]));
    expect(p.strategyNorm).toBeCloseTo(p.projectedNorm, 4);
    expect(p.removed[0]).toBeCloseTo(Math.abs(p.dot) / p.norms[1], 8);
  });

  it('is deterministic for a seed', async () => {
    expect(formatWalkthrough(await runWalkthrough({ seed: 7 }))).toBe(text);
  });

  it('docs/gradient-routing.md quotes the command’s output verbatim', () => {
    const doc = readFileSync(new URL('../docs/gradient-routing.md', import.meta.url), 'utf8');
    const blocks = [...doc.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    const printed = new Set(text.split('\n').map((l) => l.trimEnd()));
    const quoted = blocks
      .flatMap((b) => b.split('\n'))
      .map((l) => l.trimEnd())
      .filter((l) => l.trim() !== '');
    const missing = quoted.filter((l) => !printed.has(l));
    expect(
      missing,
      `lines of docs/gradient-routing.md that \`webmtl walkthrough\` no longer prints:\n${missing.join('\n')}\n\nIt now prints:\n${text}`,
    ).toEqual([]);
  });
});
