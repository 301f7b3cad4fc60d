// Types of kernel-ops.mjs, for the tests that import it.
export const KERNEL_TABLE: string;
export const ASSEMBLY_DIR: string;
export const GENERATED_OPS: string;
export function loadKernelTable(): Promise<KernelTableModule>;
export function constantName(op: string): string;
export function renderAssemblyOps(table: KernelTableModule): string;

export interface KernelTableModule {
  UNARY_KERNELS: Record<string, { doc: string; as: string }>;
  BINARY_KERNELS: Record<string, { doc: string; as: string }>;
}
