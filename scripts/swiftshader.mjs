// Without a GPU, Dawn needs SwiftShader's Vulkan driver (Debian: chromium-headless-shell). Point at it
// only when the caller has not chosen a driver and the machine shows no GPU device node, so a real
// GPU is never shadowed. Used by vitest.config.ts and bench/run.mjs.
import { existsSync, readdirSync } from 'node:fs';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Sets VK_ICD_FILENAMES to SwiftShader when that is the only way to get an adapter; returns whether it did. */
export function useSwiftShaderWithoutGpu() {
  const gpuNodes =
    ['/dev/nvidia0', '/dev/dxg', '/dev/kfd'].some(existsSync) ||
    (existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD')));
  if (process.env.VK_ICD_FILENAMES !== undefined || gpuNodes || !existsSync(SWIFTSHADER_ICD)) return false;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return true;
}
