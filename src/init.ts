// Choosing a backend: wm.init({ backend: 'auto' }) tries WebGPU, then the wasm CPU backend, then the
// TypeScript CPU reference.
import type { Backend } from './backend/backend.js';
import { CpuBackend } from './backend/cpu/cpu-backend.js';
import { createWasmBackend } from './backend/wasm/wasm-backend.js';
import { webgpuUnavailableError, webgpuUnavailableReason } from './backend/webgpu/device.js';
import { createWebGPUBackend } from './backend/webgpu/webgpu-backend.js';
import { getBackend, setBackend } from './tensor/engine.js';

export type BackendName = 'auto' | 'cpu' | 'wasm' | 'webgpu';

export interface InitOptions {
  backend?: BackendName;
}

/**
 * Creates a backend by name without making it current. 'auto' = WebGPU on a hardware adapter, else
 * 'wasm' (WebAssembly SIMD kernels on the CPU), else the TypeScript 'cpu' reference: a software
 * adapter (SwiftShader) computes the same numbers but slower than the CPU backends, so 'auto' passes
 * it over; ask for 'webgpu' to use it anyway.
 */
export async function createBackend(name: BackendName = 'auto'): Promise<Backend> {
  if (name === 'cpu') return new CpuBackend();
  if (name === 'wasm') return createWasmBackend();
  if (name !== 'webgpu' && name !== 'auto') {
    throw new Error(`Unknown backend '${name as string}'; use 'auto', 'cpu', 'wasm' or 'webgpu'`);
  }
  const gpu = await createWebGPUBackend();
  if (gpu && (name === 'webgpu' || !gpu.isFallbackAdapter)) return gpu;
  gpu?.destroy();
  if (name === 'webgpu') {
    // A missing `webgpu` package (Node) is thrown as its own error, WebGPUPackageMissingError, with the fix.
    const typed = webgpuUnavailableError();
    if (typed) throw typed;
    const reason =
      webgpuUnavailableReason() ||
      'no WebGPU adapter was found. In a browser, use one with WebGPU enabled; in Node on a machine without a GPU, install SwiftShader (Debian: chromium-headless-shell libvulkan1) and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json';
    throw new Error(`backend 'webgpu' is unavailable: ${reason}. Or use backend 'wasm' or 'cpu'.`);
  }
  try {
    return await createWasmBackend();
  } catch (err) {
    console.warn(
      `webmtl: the wasm backend is unavailable (${(err as Error).message}); using the TypeScript CPU backend, which is much slower`,
    );
    return new CpuBackend();
  }
}

/** Makes a backend current for every tensor created afterwards; returns the name actually used. */
export async function init(opts: InitOptions = {}): Promise<string> {
  const backend = await createBackend(opts.backend ?? 'auto');
  setBackend(backend);
  return backend.name;
}

export { getBackend, setBackend };
