// Finding a GPUDevice: the browser's navigator.gpu, or Dawn's Node bindings (the `webgpu` package).

// Dawn's GPU object must outlive every device made from it: if it is garbage-collected, Dawn crashes.
let nodeGpu: GPU | undefined;
let unavailableReason = '';

/** Why the last acquisition attempt returned null (empty when it succeeded or was never tried). */
export function webgpuUnavailableReason(): string {
  return unavailableReason;
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
  if (!(await linuxHasVulkanDriver())) {
    unavailableReason =
      'no Vulkan driver is installed (Dawn needs one under Node on Linux): install a GPU driver, or SwiftShader ' +
      '(Debian: chromium-headless-shell libvulkan1) with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json';
    return null;
  }
  try {
    // Only reached under Node; the browser bundle marks 'webgpu' external and never gets here.
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, ...
    nodeGpu = create([]);
    return nodeGpu;
  } catch (err) {
    unavailableReason = `could not load the 'webgpu' package (Dawn for Node): ${(err as Error).message}`;
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
    unavailableReason =
      'no WebGPU adapter found (under Node, Dawn needs a Vulkan driver: install libvulkan1 and a driver, ' +
      'or SwiftShader from chromium-headless-shell with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)';
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
