// Shared WebGPU setup for test files: a backend, or a visible skip when the machine has no adapter.
// Usage (top level of a test file):
//   const gpu = await getWebGPUOrSkip();
//   describe.skipIf(!gpu)('...', () => { ... afterAll(() => gpu?.destroy()); });
import {
  createWebGPUBackend,
  type WebGPUBackend,
  type WebGPUBackendOptions,
  webgpuUnavailableReason,
} from '../../src/backend/webgpu/webgpu-backend.js';

/** CI (or an explicit opt-in) must not silently skip the GPU tests. */
export function webgpuRequired(): boolean {
  return process.env.CI === 'true' || process.env.WEBMTL_REQUIRE_WEBGPU === '1';
}

const SETUP_HINT =
  'install chromium-headless-shell (for SwiftShader) and libvulkan1, and set ' +
  'VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * A fresh WebGPU backend, or null after a console warning when none is available.
 * Throws instead of returning null when CI=true or WEBMTL_REQUIRE_WEBGPU=1.
 */
export async function getWebGPUOrSkip(opts?: WebGPUBackendOptions): Promise<WebGPUBackend | null> {
  const backend = await createWebGPUBackend(opts);
  if (backend) return backend;
  const reason = `WebGPU unavailable: ${webgpuUnavailableReason() || 'no adapter'}`;
  if (webgpuRequired()) {
    throw new Error(`${reason}. WebGPU tests are required here (CI=true or WEBMTL_REQUIRE_WEBGPU=1): ${SETUP_HINT}.`);
  }
  console.warn(`Skipping WebGPU tests. ${reason}. To run them, ${SETUP_HINT}.`);
  return null;
}
