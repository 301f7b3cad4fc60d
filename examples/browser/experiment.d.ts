// Types of experiment.js for the TypeScript test that imports it (the page itself is plain JS).
import type * as WM from '../../src/index.js';

type Webmtl = typeof WM;

export interface ExampleOptions {
  data: 'generated' | 'sample';
  rows: number;
  epochs: number;
  batch: number;
  steps: number;
  seed: number;
  lr: number;
  backend: 'webgpu' | 'wasm' | 'cpu' | 'auto';
  experts: number;
}

export interface StepEvent {
  epoch: number;
  step: number;
  steps: number;
  globalStep: number;
  losses: Record<string, number>;
  gates: Record<string, number[]>;
  samplesPerSecond: number;
}

export interface ExperimentResult {
  taskNames: string[];
  losses: Record<string, number[]>;
  val: Record<string, WM.TaskReport>[];
  test: Record<string, WM.TaskReport>;
  gates: Record<string, number[]> | null;
  seconds: number;
}

export interface BackendDescription {
  /** The backend's name: 'webgpu', 'wasm' or 'cpu'. */
  backend: string;
  /** What the page calls it: 'WebGPU', 'WebAssembly', 'TypeScript CPU reference'. */
  label: string;
  /** What it runs on: the GPU adapter, or the CPU and its threads. */
  adapter: string;
}

export const DEFAULTS: Readonly<ExampleOptions>;
export function parseOptions(search?: string | URLSearchParams): ExampleOptions;
export function initBackend(wm: Webmtl, want: ExampleOptions['backend']): Promise<BackendDescription & { fallbackReason: string | null }>;
export function describeBackend(backend: WM.Backend): BackendDescription;
export function loadData(
  wm: Webmtl,
  opts: ExampleOptions,
  fetchText?: (url: string) => Promise<string>,
): Promise<WM.SplitDatasets & { oracle: Record<'train' | 'val' | 'test', WM.AliCcpOracle> | null }>;
export function firstSteps<T>(loader: WM.BatchSource<T>, steps: number): WM.BatchSource<T>;
export function runExperiment(
  wm: Webmtl,
  opts: ExampleOptions,
  data: WM.SplitDatasets,
  hooks?: { onStep?: (e: StepEvent) => void; onEpoch?: (record: WM.EpochRecord) => void },
): Promise<ExperimentResult>;
