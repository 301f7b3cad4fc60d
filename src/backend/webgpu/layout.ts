// A kernel's uniform parameters and storage bindings, declared once by name. The declaration
// generates the WGSL (`struct Params {...}` and the `@binding(i) var ...` lines, substituted into the
// shader at a {{LAYOUT}}-style placeholder), the binding numbers, and a params writer that takes an
// object by field name.
import { PARAM_SLOT_BYTES } from './params.js';

export type ScalarType = 'u32' | 'i32' | 'f32';
/** A uniform array of vec4s: 16-byte aligned, four values per slot. */
export type Vec4ArrayType = `array<vec4<${'u32' | 'i32'}>, ${number}>`;
export type FieldType = ScalarType | Vec4ArrayType;
export type Fields = Record<string, FieldType>;

export interface StorageBinding {
  access: 'read' | 'read_write';
  /** The WGSL type, e.g. `array<f32>` (may hold template placeholders such as {{X_TYPE}}). */
  type: string;
}
export const read = (type: string): StorageBinding => ({ access: 'read', type });
export const readWrite = (type: string): StorageBinding => ({ access: 'read_write', type });
export type Bindings = Record<string, StorageBinding>;

/** The values a dispatch writes: a number per scalar field, a list per vec4 array (zero-padded). */
export type ParamValues<F extends Fields> = { readonly [K in keyof F]: F[K] extends ScalarType ? number : readonly number[] };

/** The params values of a layout. */
export type ParamsOf<L> = L extends KernelLayout<infer F, Bindings> ? ParamValues<F> : never;

interface FieldSlot {
  name: string;
  /** Byte offset in the struct (WGSL uniform layout). */
  offset: number;
  scalar: ScalarType;
  /** 0 for a scalar; else the number of 4-byte values in the vec4 array. */
  values: number;
}

export interface LayoutSpec<F extends Fields, B extends Bindings> {
  /** The WGSL struct name (default `Params`). */
  struct?: string;
  /** The uniform variable's name (default `params`). */
  uniform?: string;
  /** Binding of the uniform; the storage bindings follow in declaration order (default 0). */
  firstBinding?: number;
  params: F;
  bindings: B;
}

export class KernelLayout<F extends Fields = Fields, B extends Bindings = Bindings> {
  readonly paramsBinding: number;
  /** Binding number of each storage buffer. */
  readonly binding: { readonly [K in keyof B]: number };
  readonly bindings: B;
  /** The WGSL declarations: the struct, the uniform and the storage variables. */
  readonly wgsl: string;
  private readonly slots: FieldSlot[] = [];

  constructor(spec: LayoutSpec<F, B>) {
    const struct = spec.struct ?? 'Params';
    const first = spec.firstBinding ?? 0;
    this.paramsBinding = first;
    this.bindings = spec.bindings;
    let offset = 0;
    for (const [name, type] of Object.entries(spec.params)) {
      const vec = /^array<vec4<(u32|i32)>, (\d+)>$/.exec(type);
      if (vec) offset = Math.ceil(offset / 16) * 16;
      const slot: FieldSlot = {
        name,
        offset,
        scalar: vec ? (vec[1] as ScalarType) : (type as ScalarType),
        values: vec ? 4 * Number(vec[2]) : 0,
      };
      this.slots.push(slot);
      offset += 4 * Math.max(1, slot.values);
    }
    if (offset > PARAM_SLOT_BYTES) throw new Error(`WebGPUBackend: struct ${struct} (${offset} bytes) is larger than a params slot`);
    const binding: Record<string, number> = {};
    const lines = [
      `struct ${struct} {`,
      ...Object.entries(spec.params).map(([name, type]) => `  ${name}: ${type},`),
      '}',
      '',
      `@group(0) @binding(${first}) var<uniform> ${spec.uniform ?? 'params'}: ${struct};`,
    ];
    Object.entries(spec.bindings).forEach(([name, b], i) => {
      binding[name] = first + 1 + i;
      lines.push(`@group(0) @binding(${first + 1 + i}) var<storage, ${b.access}> ${name}: ${b.type};`);
    });
    this.binding = binding as { [K in keyof B]: number };
    this.wgsl = lines.join('\n');
  }

  /** Writes `values` into the struct at byte `base` of `view` (little-endian, as the GPU reads it). */
  write(view: DataView, base: number, values: ParamValues<F>): void {
    const byName = values as Record<string, number | readonly number[] | undefined>;
    for (const f of this.slots) {
      const v = byName[f.name];
      if (v === undefined) throw new Error(`WebGPUBackend: no value for params field '${f.name}'`);
      if (f.values === 0) writeScalar(view, base + f.offset, f.scalar, v as number);
      else {
        const list = v as readonly number[];
        if (list.length > f.values) throw new Error(`WebGPUBackend: ${list.length} values for params field '${f.name}' of ${f.values}`);
        for (let i = 0; i < f.values; i++) writeScalar(view, base + f.offset + 4 * i, f.scalar, i < list.length ? list[i] : 0);
      }
    }
  }
}

function writeScalar(view: DataView, at: number, type: ScalarType, v: number): void {
  if (type === 'f32') view.setFloat32(at, v, true);
  else if (type === 'u32') view.setUint32(at, v >>> 0, true);
  else view.setInt32(at, v | 0, true);
}

export const layout = <const F extends Fields, const B extends Bindings>(spec: LayoutSpec<F, B>): KernelLayout<F, B> =>
  new KernelLayout(spec);
