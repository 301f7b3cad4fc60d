// Finding a GPUDevice: the browser's navigator.gpu, or Dawn's Node bindings (the `webgpu` package, an
// optional peer dependency: only Node users who want WebGPU install it).

/** The `webgpu` release this library is built and tested against (package.json pins the peer to it). */
export const WEBGPU_PACKAGE_VERSION = '0.6.2';

/**
 * Thrown by `init({ backend: 'webgpu' })` in Node when the optional peer package `webgpu` (Dawn for
 * Node) is not installed. `backend: 'auto'` does not throw it: it falls back to wasm.
 */
export class WebGPUPackageMissingError extends Error {
  override readonly name = 'WebGPUPackageMissingError';
  /** The package to install. */
  readonly packageName = 'webgpu';
  /** The command that fixes it. */
  readonly fix = `npm install webgpu@${WEBGPU_PACKAGE_VERSION}`;
  constructor(cause?: unknown) {
    super(
      `The WebGPU backend in Node needs the optional package 'webgpu' (Dawn for Node), which is not installed. ` +
        `Fix: npm install webgpu@${WEBGPU_PACKAGE_VERSION} — or use backend 'wasm' (or 'auto', which falls back to it). ` +
        `In a browser, WebGPU comes from navigator.gpu and needs no package.`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * The error that loading the `webgpu` package failed with, as webmtl reports it: a
 * WebGPUPackageMissingError when the package itself cannot be found (not one of its own imports),
 * otherwise the error unchanged (a broken install, a platform Dawn has no binary for).
 */
export function webgpuLoadError(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
  // Node: "Cannot find package 'webgpu' imported from …" (ESM) or "Cannot find module 'webgpu'" (require).
  if (notFound && /Cannot find (package|module) 'webgpu'/.test(e.message)) return new WebGPUPackageMissingError(e);
  return e;
}

// Dawn's GPU object must outlive every device made from it: if it is garbage-collected, Dawn crashes.
let nodeGpu: GPU | undefined;
let unavailableReason = '';
let unavailableError: Error | null = null;
// GPUs set aside by setDawnImporterForTesting, kept alive for the devices made from them.
const retiredGpus: GPU[] = [];

type DawnModule = { create: (flags: string[]) => GPU; globals: object };
type DawnImporter = () => Promise<DawnModule>;

// Only reached under Node; the browser bundle replaces 'webgpu' with a stub and never gets here.
const importDawn: DawnImporter = () => import('webgpu') as Promise<DawnModule>;
let dawnImporter: DawnImporter = importDawn;

/**
 * Testing knob: replaces how the `webgpu` package is imported (e.g. with one that rejects as Node does
 * when the package is absent); no argument restores the real import. The next acquisition imports
 * again; a GPU already loaded is set aside but kept alive.
 */
export function setDawnImporterForTesting(importer?: DawnImporter): void {
  dawnImporter = importer ?? importDawn;
  if (nodeGpu) retiredGpus.push(nodeGpu);
  nodeGpu = undefined;
}

/** Why the last acquisition attempt returned null (empty when it succeeded or was never tried). */
export function webgpuUnavailableReason(): string {
  return unavailableReason;
}

/**
 * The typed error behind the last failed attempt, when there is one worth throwing as is (today: the
 * `webgpu` package is not installed); null otherwise.
 */
export function webgpuUnavailableError(): Error | null {
  return unavailableError;
}

export interface AcquiredDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

async function findGpu(): Promise<GPU | null> {
  const browserGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (browserGpu) return browserGpu;
  if (!isNode()) {
    unavailableReason = 'navigator.gpu is missing: this browser has no WebGPU';
    return null;
  }
  if (nodeGpu) return nodeGpu;
  // The package first: when it is missing, that is the first thing to fix, whatever the drivers.
  let dawn: DawnModule;
  try {
    dawn = await dawnImporter();
  } catch (err) {
    const e = webgpuLoadError(err);
    if (e instanceof WebGPUPackageMissingError) unavailableError = e;
    unavailableReason =
      e instanceof WebGPUPackageMissingError ? e.message : `could not load the 'webgpu' package (Dawn for Node): ${e.message}`;
    return null;
  }
  if (!(await linuxHasVulkanDriver())) {
    unavailableReason =
      'no Vulkan driver is installed (Dawn needs one under Node on Linux): install a GPU driver, or SwiftShader ' +
      '(Debian: chromium-headless-shell libvulkan1) with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json';
    return null;
  }
  try {
    Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ...
    nodeGpu = dawn.create([]);
    return nodeGpu;
  } catch (err) {
    unavailableReason = `could not start Dawn (the 'webgpu' package): ${(err as Error).message}`;
    return null;
  }
}

/**
 * On Linux, Dawn finds Vulkan drivers through ICD manifests; with none, it prints warnings and finds no
 * adapter. Looking first keeps `backend: 'auto'` quiet on such machines. Other platforms: assume yes.
 */
async function linuxHasVulkanDriver(): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  const env = process.env;
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || env.VK_ADD_DRIVER_FILES) return true;
  const { readdirSync } = await import('node:fs');
  const dirs = [
    '/usr/share/vulkan/icd.d',
    '/etc/vulkan/icd.d',
    '/usr/local/share/vulkan/icd.d',
    `${env.HOME ?? ''}/.local/share/vulkan/icd.d`,
  ];
  for (const dir of (env.XDG_DATA_DIRS ?? '').split(':').filter(Boolean)) dirs.push(`${dir}/vulkan/icd.d`);
  return dirs.some((dir) => {
    try {
      return readdirSync(dir).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

/** Limits this backend asks for, raised to what the adapter offers. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

export async function acquireDevice(powerPreference?: GPUPowerPreference): Promise<AcquiredDevice | null> {
  unavailableReason = '';
  unavailableError = null;
  const gpu = await findGpu();
  if (!gpu) return null;
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(powerPreference ? { powerPreference } : undefined);
  } catch (err) {
    unavailableReason = `requestAdapter failed: ${(err as Error).message}`;
    return null;
  }
  if (!adapter) {
    unavailableReason = isNode()
      ? 'no WebGPU adapter found (under Node, Dawn needs a Vulkan driver: install libvulkan1 and a driver, ' +
        'or SwiftShader from chromium-headless-shell with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)'
      : 'navigator.gpu found no adapter (WebGPU may be blocked for this GPU or driver)';
    return null;
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const offered = adapter.limits[name];
    if (typeof offered === 'number') requiredLimits[name] = offered;
  }
  try {
    // Timestamp queries let benchmarks time kernels on the GPU itself (WebGPUBackend.timeKernels).
    const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'webmtl' });
    return { adapter, device };
  } catch (err) {
    unavailableReason = `requestDevice failed: ${(err as Error).message}`;
    return null;
  }
}
