import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { useSwiftShaderWithoutGpu } from './scripts/swiftshader.mjs';

// Dawn reads the Vulkan driver list from the real process environment; forked test workers inherit it.
useSwiftShaderWithoutGpu();

export default defineConfig({
  plugins: [
    {
      name: 'wgsl-as-text',
      load(id) {
        if (id.endsWith('.wgsl')) return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
        return null;
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
