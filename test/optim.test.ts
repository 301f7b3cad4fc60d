import { describe, expect, it } from 'vitest';
import { Linear } from '../src/nn/index.js';
import { Adagrad, Adam, AdamW, CosineAnnealingLR, type Optimizer, SGD, StepLR } from '../src/optim/index.js';
import * as wm from '../src/tensor/index.js';

// Reference updates in float64, written from the torch.optim documentation's pseudo-code.

interface AdamRef {
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  wd: number;
  decoupled: boolean;
}
function adamRef(theta: number[], grads: number[][], h: AdamRef): number[][] {
  const th = [...theta];
  const m = th.map(() => 0);
  const v = th.map(() => 0);
  const out: number[][] = [];
  grads.forEach((gs, s) => {
    const t = s + 1;
    for (let i = 0; i < th.length; i++) {
      let g = gs[i];
      if (h.decoupled) th[i] -= h.lr * h.wd * th[i];
      else g += h.wd * th[i];
      m[i] = h.b1 * m[i] + (1 - h.b1) * g;
      v[i] = h.b2 * v[i] + (1 - h.b2) * g * g;
      const mHat = m[i] / (1 - h.b1 ** t);
      const vHat = v[i] / (1 - h.b2 ** t);
      th[i] -= (h.lr * mHat) / (Math.sqrt(vHat) + h.eps);
    }
    out.push([...th]);
  });
  return out;
}

function sgdRef(theta: number[], grads: number[][], h: { lr: number; momentum: number; nesterov: boolean; wd: number }): number[][] {
  const th = [...theta];
  let buf: number[] | null = null;
  const out: number[][] = [];
  for (const gs of grads) {
    let d = gs.map((g, i) => g + h.wd * th[i]);
    if (h.momentum !== 0) {
      buf = buf ? buf.map((b, i) => h.momentum * b + d[i]) : [...d];
      d = h.nesterov ? d.map((x, i) => x + h.momentum * buf![i]) : buf;
    }
    for (let i = 0; i < th.length; i++) th[i] -= h.lr * d[i];
    out.push([...th]);
  }
  return out;
}

function adagradRef(
  theta: number[],
  grads: number[][],
  h: { lr: number; lrDecay: number; wd: number; init: number; eps: number },
): number[][] {
  const th = [...theta];
  const sum = th.map(() => h.init);
  const out: number[][] = [];
  grads.forEach((gs, s) => {
    const clr = h.lr / (1 + s * h.lrDecay);
    for (let i = 0; i < th.length; i++) {
      const g = gs[i] + h.wd * th[i];
      sum[i] += g * g;
      th[i] -= (clr * g) / (Math.sqrt(sum[i]) + h.eps);
    }
    out.push([...th]);
  });
  return out;
}

const THETA = [1, -2, 0.5];
const GRADS = [
  [0.1, -0.2, 0.3],
  [-0.4, 0.05, 0.3],
  [0.2, 0.2, -1.0],
];

function param(values: number[]): wm.Tensor {
  return wm.tensor(values, { requiresGrad: true });
}

/** Runs the optimizer over GRADS with fixed gradients and returns the parameter after each step. */
function run(make: (p: wm.Tensor) => Optimizer, theta = THETA, grads = GRADS): number[][] {
  const p = param(theta);
  const opt = make(p);
  const out: number[][] = [];
  for (const g of grads) {
    p.grad = wm.tensor(g);
    opt.step();
    out.push(Array.from(p.dataSync()));
    opt.zeroGrad();
  }
  return out;
}

function expectClose(actual: number[][], expected: number[][], tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, s) =>
    row.forEach((x, i) =>
      expect(Math.abs(x - expected[s][i]), `step ${s + 1}, element ${i}: ${x} vs ${expected[s][i]}`).toBeLessThan(
        tol * Math.max(1, Math.abs(expected[s][i])),
      ),
    ),
  );
}

describe('optimizer updates match the torch formulas', () => {
  it('Adam (no weight decay)', () => {
    const got = run((p) => new Adam([p], { lr: 0.1 }));
    expectClose(got, adamRef(THETA, GRADS, { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false }));
  });

  it('Adam with L2 weight decay and custom betas/eps', () => {
    const got = run((p) => new Adam([p], { lr: 0.05, betas: [0.8, 0.99], eps: 1e-3, weightDecay: 0.1 }));
    expectClose(got, adamRef(THETA, GRADS, { lr: 0.05, b1: 0.8, b2: 0.99, eps: 1e-3, wd: 0.1, decoupled: false }));
  });

  it('AdamW with decoupled weight decay (default 1e-2)', () => {
    const opt = new AdamW([param([0])]);
    expect(opt.paramGroups[0].weightDecay).toBe(1e-2);
    const got = run((p) => new AdamW([p], { lr: 0.1, weightDecay: 0.2 }));
    expectClose(got, adamRef(THETA, GRADS, { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.2, decoupled: true }));
    // Decoupled and L2 decay differ.
    const l2 = adamRef(THETA, GRADS, { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.2, decoupled: false });
    expect(Math.abs(got[2][0] - l2[2][0])).toBeGreaterThan(1e-3);
  });

  it('SGD plain, with weight decay', () => {
    expectClose(
      run((p) => new SGD([p], { lr: 0.1 })),
      sgdRef(THETA, GRADS, { lr: 0.1, momentum: 0, nesterov: false, wd: 0 }),
    );
    expectClose(
      run((p) => new SGD([p], { lr: 0.1, weightDecay: 0.5 })),
      sgdRef(THETA, GRADS, { lr: 0.1, momentum: 0, nesterov: false, wd: 0.5 }),
    );
  });

  it('SGD with momentum', () => {
    const got = run((p) => new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }));
    expectClose(got, sgdRef(THETA, GRADS, { lr: 0.1, momentum: 0.9, nesterov: false, wd: 0.01 }));
    // Hand check of the first two steps of element 0 (wd 0.01, θ0 = 1):
    // d1 = 0.1 + 0.01 = 0.11, b1 = 0.11, θ1 = 1 − 0.011 = 0.989
    // d2 = −0.4 + 0.00989 = −0.39011, b2 = 0.9·0.11 − 0.39011 = −0.29111, θ2 = 0.989 + 0.029111 = 1.018111
    expect(got[0][0]).toBeCloseTo(0.989, 6);
    expect(got[1][0]).toBeCloseTo(1.018111, 6);
  });

  it('SGD with Nesterov momentum', () => {
    const got = run((p) => new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true }));
    expectClose(got, sgdRef(THETA, GRADS, { lr: 0.1, momentum: 0.9, nesterov: true, wd: 0 }));
    // Element 0: b1 = 0.1, d = 0.1 + 0.09 = 0.19, θ1 = 0.981; b2 = 0.09 − 0.4 = −0.31, d = −0.4 − 0.279 = −0.679, θ2 = 1.0489
    expect(got[0][0]).toBeCloseTo(0.981, 6);
    expect(got[1][0]).toBeCloseTo(1.0489, 6);
  });

  it('Adagrad (defaults, then lr decay, weight decay and an initial accumulator)', () => {
    expectClose(
      run((p) => new Adagrad([p], { lr: 0.1 })),
      adagradRef(THETA, GRADS, { lr: 0.1, lrDecay: 0, wd: 0, init: 0, eps: 1e-10 }),
    );
    // Element 0, step 1: s = 0.01, θ = 1 − 0.1·0.1/0.1 = 0.9
    expect(run((p) => new Adagrad([p], { lr: 0.1 }))[0][0]).toBeCloseTo(0.9, 6);
    const h = { lr: 0.2, lrDecay: 0.5, wd: 0.1, init: 0.3, eps: 1e-10 };
    expectClose(
      run((p) => new Adagrad([p], { lr: h.lr, lrDecay: h.lrDecay, weightDecay: h.wd, initialAccumulatorValue: h.init })),
      adagradRef(THETA, GRADS, h),
    );
  });

  it('skips parameters without a gradient and counts steps per parameter', () => {
    const a = param([1]);
    const b = param([1]);
    const opt = new Adam([a, b], { lr: 0.1 });
    a.grad = wm.tensor([1]);
    opt.step();
    expect(b.dataSync()[0]).toBe(1);
    expect(opt.stateDict().state[1]).toBeUndefined();
    expect(opt.stateDict().state[0].step).toBe(1);
  });

  it('updates on the device: step() reads nothing back', () => {
    const p = param(THETA);
    const backend = p.backend;
    for (const opt of [
      new Adam([p]),
      new AdamW([p]),
      new SGD([p], { momentum: 0.9, nesterov: true, weightDecay: 0.1 }),
      new Adagrad([p], { weightDecay: 0.1 }),
    ]) {
      p.grad = wm.tensor(GRADS[0]);
      const before = backend.stats.readbacks;
      opt.step();
      opt.step();
      expect(backend.stats.readbacks).toBe(before);
    }
  });

  it('keeps its state alive across the caller’s tidy scopes', () => {
    for (const make of [
      (p: wm.Tensor) => new Adam([p]),
      (p: wm.Tensor) => new SGD([p], { momentum: 0.9 }),
      (p: wm.Tensor) => new Adagrad([p]),
    ]) {
      const p = param(THETA);
      const opt = make(p);
      wm.tidy(() => {
        p.grad = wm.keep(wm.tensor(GRADS[0]));
        opt.step();
      });
      wm.tidy(() => opt.step());
      expect(p.disposed).toBe(false);
      for (const s of Object.values(opt.stateDict().state))
        for (const t of Object.values(s.buffers)) expect((t as wm.Tensor).disposed).toBe(false);
    }
  });
});

describe('parameter groups', () => {
  it('applies each group’s lr and weight decay', () => {
    const a = param([1, 1]);
    const b = param([1, 1]);
    const opt = new SGD(
      [
        { params: [a], lr: 0.1, name: 'ctr' },
        { params: [b], weightDecay: 0.5, name: 'cvr' },
      ],
      { lr: 0.01 },
    );
    expect(opt.paramGroups.map((g) => [g.lr, g.weightDecay, g.name])).toEqual([
      [0.1, 0, 'ctr'],
      [0.01, 0.5, 'cvr'],
    ]);
    a.grad = wm.tensor([1, 2]);
    b.grad = wm.tensor([1, 2]);
    opt.step();
    expect(Array.from(a.dataSync())).toEqual([1 - 0.1, 1 - 0.2].map(Math.fround));
    // b: d = g + 0.5·θ = [1.5, 2.5], θ = 1 − 0.01·d
    expectClose([Array.from(b.dataSync())], [[1 - 0.015, 1 - 0.025]]);
  });

  it('Adam honours per-group lr (a changed lr takes effect at the next step)', () => {
    const a = param([0]);
    const b = param([0]);
    const opt = new Adam([
      { params: [a], lr: 0.1 },
      { params: [b], lr: 0.01 },
    ]);
    a.grad = wm.tensor([1]);
    b.grad = wm.tensor([1]);
    opt.step();
    // Adam's first step moves each weight by about lr·sign(g).
    expect(a.dataSync()[0]).toBeCloseTo(-0.1, 5);
    expect(b.dataSync()[0]).toBeCloseTo(-0.01, 5);
    opt.paramGroups[1].lr = 0.001;
    opt.step();
    expect(b.dataSync()[0]).toBeCloseTo(-0.011, 5);
  });
});

describe('schedulers', () => {
  it('StepLR: lr = base · gamma^⌊epoch / stepSize⌋ for every group', () => {
    const opt = new SGD([
      { params: [param([0])], lr: 0.1 },
      { params: [param([0])], lr: 0.5 },
    ]);
    const sched = new StepLR(opt, { stepSize: 3, gamma: 0.5 });
    for (let epoch = 0; epoch < 10; epoch++) {
      const f = 0.5 ** Math.floor(epoch / 3);
      expect(sched.getLr()[0]).toBeCloseTo(0.1 * f, 12);
      expect(sched.getLr()[1]).toBeCloseTo(0.5 * f, 12);
      expect(opt.paramGroups.map((g) => g.lr)).toEqual(sched.getLr());
      sched.step();
    }
  });

  it('StepLR matches torch’s documented sequence (lr 0.05, step 30, gamma 0.1)', () => {
    const sched = new StepLR(new SGD([param([0])], { lr: 0.05 }), { stepSize: 30, gamma: 0.1 });
    const seen: number[] = [];
    for (let e = 0; e < 90; e++) {
      seen.push(sched.getLr()[0]);
      sched.step();
    }
    expect(seen[0]).toBe(0.05);
    expect(seen[29]).toBe(0.05);
    expect(seen[30]).toBeCloseTo(0.005, 12);
    expect(seen[60]).toBeCloseTo(0.0005, 12);
  });

  it('CosineAnnealingLR: etaMin + (base − etaMin)(1 + cos(π·epoch/tMax))/2', () => {
    const opt = new Adam([
      { params: [param([0])], lr: 0.1 },
      { params: [param([0])], lr: 0.02 },
    ]);
    const sched = new CosineAnnealingLR(opt, { tMax: 4, etaMin: 0.001 });
    for (let epoch = 0; epoch <= 8; epoch++) {
      for (const [i, base] of [0.1, 0.02].entries()) {
        expect(sched.getLr()[i]).toBeCloseTo(0.001 + ((base - 0.001) * (1 + Math.cos((Math.PI * epoch) / 4))) / 2, 12);
      }
      sched.step();
    }
    // torch: lr 0.1, T_max 4, eta_min 0 → 0.1, 0.085355, 0.05, 0.014645, 0
    const plain = new CosineAnnealingLR(new SGD([param([0])], { lr: 0.1 }), { tMax: 4 });
    const seq = [0, 1, 2, 3, 4].map(() => {
      const lr = plain.getLr()[0];
      plain.step();
      return lr;
    });
    [0.1, 0.0853553, 0.05, 0.0146447, 0].forEach((x, i) => expect(seq[i]).toBeCloseTo(x, 6));
  });

  it('an optimizer still steps at lr 0 (the end of a cosine schedule)', () => {
    const p = param([1]);
    const opt = new SGD([p], { lr: 0.1 });
    const sched = new CosineAnnealingLR(opt, { tMax: 1 });
    sched.step();
    expect(opt.paramGroups[0].lr).toBeCloseTo(0, 15);
    p.grad = wm.tensor([1]);
    opt.step();
    expect(p.dataSync()[0]).toBeCloseTo(1, 6);
  });

  it('scheduler state round-trips', () => {
    const opt = new SGD([param([0])], { lr: 0.1 });
    const s1 = new StepLR(opt, { stepSize: 2, gamma: 0.1 });
    s1.step();
    s1.step();
    const sd = s1.stateDict();
    const opt2 = new SGD([param([0])], { lr: 0.1 });
    const s2 = new StepLR(opt2, { stepSize: 2, gamma: 0.1 });
    s2.loadStateDict(sd);
    expect(s2.lastEpoch).toBe(2);
    expect(opt2.paramGroups[0].lr).toBeCloseTo(0.01, 12);
  });

  it('rejects bad options', () => {
    const opt = new SGD([param([0])], { lr: 0.1 });
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow(/stepSize must be a positive integer/);
    expect(() => new StepLR(opt, { stepSize: 2, gamma: -1 })).toThrow(/gamma must be a positive/);
    expect(() => new CosineAnnealingLR(opt, { tMax: 1.5 })).toThrow(/tMax must be a positive integer/);
    expect(() => new CosineAnnealingLR(opt, { tMax: 3, etaMin: -1 })).toThrow(/etaMin must be ≥ 0/);
  });
});

describe('optimizers minimise a quadratic', () => {
  const target = [3, -1, 0.5, 2];
  const cases: [string, (ps: wm.Tensor[]) => Optimizer, number][] = [
    ['SGD', (ps) => new SGD(ps, { lr: 0.1 }), 200],
    ['SGD momentum', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9 }), 200],
    ['SGD nesterov', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true }), 200],
    ['Adam', (ps) => new Adam(ps, { lr: 0.1 }), 400],
    ['AdamW', (ps) => new AdamW(ps, { lr: 0.1, weightDecay: 1e-4 }), 400],
    ['Adagrad', (ps) => new Adagrad(ps, { lr: 0.5 }), 400],
  ];
  for (const [name, make, steps] of cases) {
    it(name, () => {
      const x = param([0, 0, 0, 0]);
      const c = wm.tensor(target);
      const opt = make([x]);
      const loss = () => wm.tidy(() => wm.sum(wm.square(wm.sub(x, c))));
      const first = loss().dataSync()[0];
      for (let i = 0; i < steps; i++) {
        wm.tidy(() => {
          opt.zeroGrad();
          wm.sum(wm.square(wm.sub(x, c))).backward();
          opt.step();
        });
      }
      const last = wm.noGrad(() => loss().dataSync()[0]);
      expect(first).toBeCloseTo(14.25, 5);
      expect(last).toBeLessThan(1e-3);
      Array.from(x.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(target[i], 1));
    });
  }

  it('trains a Linear layer with Adam', () => {
    wm.seed(3);
    const layer = new Linear(2, 1);
    const opt = new Adam(layer.parameters(), { lr: 0.05 });
    const xs = wm.tensor([
      [1, 0],
      [0, 1],
      [1, 1],
      [2, -1],
    ]);
    const ys = wm.tensor([[2], [-1], [1], [5]]); // y = 2a − b
    let l = Infinity;
    for (let i = 0; i < 500; i++) {
      l = wm.tidy(() => {
        opt.zeroGrad();
        const loss = wm.mseLoss(layer.forward(xs), ys);
        loss.backward();
        opt.step();
        return loss.dataSync()[0];
      });
    }
    expect(l).toBeLessThan(1e-3);
  });
});

describe('state dict', () => {
  for (const [name, make] of [
    ['Adam', (ps: wm.Tensor[]) => new Adam(ps, { lr: 0.1, weightDecay: 0.01 })],
    ['SGD', (ps: wm.Tensor[]) => new SGD(ps, { lr: 0.1, momentum: 0.9 })],
    ['Adagrad', (ps: wm.Tensor[]) => new Adagrad(ps, { lr: 0.1 })],
  ] as const) {
    it(`${name}: a resumed optimizer continues exactly`, () => {
      const p = param(THETA);
      const opt = make([p]);
      for (const g of GRADS.slice(0, 2)) {
        p.grad = wm.tensor(g);
        opt.step();
      }
      // Copy the state to host arrays, as a checkpoint would.
      const sd = opt.stateDict();
      const host = {
        ...sd,
        state: Object.fromEntries(
          Object.entries(sd.state).map(([i, s]) => [
            i,
            {
              step: s.step,
              buffers: Object.fromEntries(Object.entries(s.buffers).map(([k, t]) => [k, (t as wm.Tensor).dataSync() as Float32Array])),
            },
          ]),
        ),
      };
      const q = param(Array.from(p.dataSync()));
      const resumed = make([q]);
      resumed.paramGroups[0].lr = 123; // overwritten by the state
      resumed.loadStateDict(host);
      expect(resumed.paramGroups[0].lr).toBe(0.1);
      p.grad = wm.tensor(GRADS[2]);
      q.grad = wm.tensor(GRADS[2]);
      opt.step();
      resumed.step();
      expect(Array.from(q.dataSync())).toEqual(Array.from(p.dataSync()));
      // Loading copies: later steps of one do not touch the other's state.
      const tensors = make([param(THETA)]);
      tensors.loadStateDict(opt.stateDict());
      expect(tensors.stateDict().state[0].buffers).not.toBe(opt.stateDict().state[0].buffers);
    });
  }

  it('refuses a state that does not fit, and changes nothing', () => {
    const p = param(THETA);
    const opt = new Adam([p], { lr: 0.1 });
    p.grad = wm.tensor(GRADS[0]);
    opt.step();
    const sd = opt.stateDict();
    const other = new Adam([param([1, 2])], { lr: 0.2 });
    expect(() => other.loadStateDict(sd)).toThrow(/exp_avg.*does not match parameter/);
    expect(other.paramGroups[0].lr).toBe(0.2);
    expect(() => new SGD([param(THETA)]).loadStateDict(sd)).toThrow(/saved by Adam, this is SGD/);
    expect(() => new Adam([param(THETA), param([1])]).loadStateDict(sd)).toThrow(/1 parameters saved, 2 here/);
  });
});

describe('validation', () => {
  const p = () => param([1]);
  it('rejects a bad lr, naming the option', () => {
    for (const lr of [0, -1, NaN, Infinity]) {
      expect(() => new Adam([p()], { lr })).toThrow(/Adam: lr must be a positive finite number/);
      expect(() => new SGD([p()], { lr })).toThrow(/SGD: lr must be a positive finite number/);
    }
    expect(() => new Adam([{ params: [p()], lr: -0.1, name: 'ctr' }])).toThrow(
      /param group 0 \('ctr'\) lr must be a positive finite number/,
    );
  });

  it('rejects betas outside [0, 1)', () => {
    expect(() => new Adam([p()], { betas: [1, 0.999] })).toThrow(/betas\[0\] must be in \[0, 1\)/);
    expect(() => new AdamW([p()], { betas: [0.9, -0.1] })).toThrow(/AdamW: betas\[1\] must be in \[0, 1\)/);
  });

  it('rejects negative weight decay and other bad hyperparameters', () => {
    expect(() => new AdamW([p()], { weightDecay: -0.01 })).toThrow(/weightDecay must be a finite number ≥ 0/);
    expect(() => new SGD([{ params: [p()], weightDecay: -1 }])).toThrow(/param group 0 weightDecay/);
    expect(() => new SGD([p()], { nesterov: true })).toThrow(/nesterov needs momentum > 0/);
    expect(() => new SGD([p()], { momentum: -0.5 })).toThrow(/momentum must be ≥ 0/);
    expect(() => new Adam([p()], { eps: -1 })).toThrow(/eps must be ≥ 0/);
    expect(() => new Adagrad([p()], { lrDecay: -1 })).toThrow(/lrDecay must be ≥ 0/);
  });

  it('rejects a parameter in two groups', () => {
    const shared = p();
    expect(
      () =>
        new Adam([
          { params: [shared, p()], name: 'ctr' },
          { params: [shared], name: 'cvr' },
        ]),
    ).toThrow(/appears in param group 0 \('ctr'\) and in param group 1 \('cvr'\); each parameter may belong to one group only/);
    expect(() => new SGD([shared, shared])).toThrow(/twice/);
  });

  it('rejects empty and malformed parameter lists', () => {
    expect(() => new Adam([])).toThrow(/empty parameter list; pass model.parameters\(\)/);
    expect(() => new Adam([{ params: [] }])).toThrow(/param group 0 has no parameters/);
    expect(() => new Adam(new Linear(2, 2) as unknown as wm.Tensor[])).toThrow(/pass model.parameters\(\)/);
    expect(() => new Adam([p(), { params: [p()] }] as unknown as wm.Tensor[])).toThrow(/not a mix/);
    expect(() => new Adam([wm.tensor([1, 2], { dtype: 'i32' })])).toThrow(/not float32/);
  });

  it('rejects a gradient of the wrong shape and an lr set to NaN later', () => {
    const q = p();
    const opt = new SGD([q], { lr: 0.1 });
    q.grad = wm.tensor([1, 2]);
    expect(() => opt.step()).toThrow(/does not match parameter/);
    q.grad = wm.tensor([1]);
    opt.paramGroups[0].lr = NaN;
    expect(() => opt.step()).toThrow(/param group 0 has lr NaN/);
  });
});
