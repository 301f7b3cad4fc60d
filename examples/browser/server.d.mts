// Types of server.mjs for the TypeScript test that imports it.
export const repoRoot: string;
export const examplePath: string;
export function startServer(opts?: { root?: string; port?: number; host?: string; log?: (line: string) => void }): Promise<{
  url: string;
  port: number;
  close: () => Promise<void>;
}>;
