// CPU reference: every op's analytic gradient against central finite differences.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { finiteDiffCheck, runCase } from './helpers/harness.js';
import { opCases } from './helpers/op-cases.js';

const cpu = new CpuBackend();

describe('CPU gradients match finite differences', () => {
  for (const c of opCases.filter((c) => !c.noFiniteDiff)) {
    it(c.name, async () => {
      const result = await runCase(cpu, c);
      expect(result.grads.some((g) => g !== null)).toBe(true);
      expect(finiteDiffCheck(cpu, c, result)).toEqual([]);
    });
  }
});
