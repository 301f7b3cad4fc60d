// The torch-rechub parity fixtures in ../shared/parity (made with torch-rechub 0.8.0): where they are,
// which models they cover, and one model's four files read. CI must have them; elsewhere the tests
// that need them are skipped with a warning.
import { existsSync, readFileSync } from 'node:fs';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import type { TorchRechubModelSpec, TorchStateDict } from '../../src/io/torch-rechub.js';

/** The fixtures sit beside the checkout (shared/parity, as on the developers' machines and in CI). */
export const PARITY_ROOT = new URL('../../../shared/parity/', import.meta.url).pathname;
export const HAVE_PARITY_FIXTURES = existsSync(PARITY_ROOT);
if (!HAVE_PARITY_FIXTURES) {
  const why = `torch-rechub parity fixtures not found at ${PARITY_ROOT}`;
  if (process.env.CI === 'true') throw new Error(`${why}; CI must run them (the shared/ folder goes beside the checkout)`);
  console.warn(`Skipping the parity tests: ${why}.`);
}

/** The fixtures' folders: torch-rechub's class names. */
export const PARITY_MODELS = ['SharedBottom', 'MMOE', 'PLE', 'ESMM', 'AITM'];

export interface ParityFixture {
  /** torch-rechub's class, constructor arguments and features, plus the labels of the batch. */
  config: TorchRechubModelSpec & { labels: string[] };
  state: TorchStateDict;
  batch: TorchStateDict;
  expected: TorchStateDict;
}

const read = (dir: string, file: string) => decodeSafetensors(readFileSync(`${PARITY_ROOT}${dir}/${file}`), file).tensors;

/** One model's fixture: config.json, the initial state dict, the batch and what torch-rechub computed. */
export function readParityFixture(dir: string): ParityFixture {
  return {
    config: JSON.parse(readFileSync(`${PARITY_ROOT}${dir}/config.json`, 'utf8')),
    state: read(dir, 'state_dict.safetensors'),
    batch: read(dir, 'batch.safetensors'),
    expected: read(dir, 'expected.safetensors'),
  };
}
