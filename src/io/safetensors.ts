// The safetensors format (https://github.com/huggingface/safetensors), F32 and I32 (I64 is read as I32,
// range-checked: torch saves integer buffers such as BatchNorm's num_batches_tracked as int64):
//   8 bytes: N, the header length, unsigned 64-bit little-endian
//   N bytes: a UTF-8 JSON object { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { key: value } },
//            padded with spaces so the data starts 8-byte aligned
//   the data: each tensor's bytes, little-endian, row-major; offsets are relative to the data start
//            and the tensors cover it exactly (no gaps, no overlaps).
// Browser-safe: no Node imports here.

export type SafetensorsDType = 'F32' | 'I32';

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface DecodedSafetensors {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const BYTES_PER_ELEMENT: Record<SafetensorsDType, number> = { F32: 4, I32: 4 };
/** What the decoder reads: the dtypes above, and int64 narrowed to int32. */
const READ_BYTES: Record<string, number> = { ...BYTES_PER_ELEMENT, I64: 8 };
/** The reference implementation refuses headers above 100 MB; so do we (a corrupt length is usually huge). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Sets an own property, even one named "__proto__" (plain assignment would replace the prototype). */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/** The header (tensor index and metadata) would exceed what safetensors readers accept; nothing is written. */
export class SafetensorsHeaderTooLargeError extends Error {
  override readonly name = 'SafetensorsHeaderTooLargeError';
  constructor(readonly headerBytes: number) {
    super(
      `encodeSafetensors: the header would take ${headerBytes} bytes, more than the ${MAX_HEADER_BYTES} safetensors readers accept (the reference implementation refuses it too); store less metadata`,
    );
  }
}

/**
 * Serialises tensors (in the order given) and optional string metadata into safetensors bytes. A
 * header over the readers' limit (100 MB) is a SafetensorsHeaderTooLargeError.
 */
export function encodeSafetensors(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (!isPlainObject(tensors))
    throw new Error(
      `encodeSafetensors: tensors must be an object { name: { dtype, shape, data } }, got ${tensors === null ? 'null' : typeof tensors}`,
    );
  if (metadata !== undefined && !isPlainObject(metadata)) {
    throw new Error(
      `encodeSafetensors: metadata must be a plain object of strings, got ${metadata === null ? 'null' : Array.isArray(metadata) ? 'an array' : typeof metadata === 'object' ? `a ${(metadata as object).constructor?.name ?? 'object'}` : typeof metadata}`,
    );
  }
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new Error(`encodeSafetensors: metadata '${k}' must be a string, got ${typeof v}; JSON.stringify structured values`);
    }
    const copy: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) setOwn(copy, k, v);
    header[METADATA_KEY] = copy;
  }
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === METADATA_KEY || name === '') throw new Error(`encodeSafetensors: '${name}' cannot be used as a tensor name`);
    if (typeof t !== 'object' || t === null)
      throw new Error(`encodeSafetensors: tensor '${name}' must be { dtype, shape, data }, got ${t === null ? 'null' : typeof t}`);
    if (!Array.isArray(t.shape))
      throw new Error(`encodeSafetensors: tensor '${name}' has no shape array (got ${t.shape === null ? 'null' : typeof t.shape})`);
    if (!Object.hasOwn(BYTES_PER_ELEMENT, t.dtype))
      throw new Error(`encodeSafetensors: tensor '${name}' has dtype '${String(t.dtype)}'; supported are F32 and I32`);
    const expectedArray = t.dtype === 'F32' ? Float32Array : Int32Array;
    if (!(t.data instanceof expectedArray))
      throw new Error(`encodeSafetensors: tensor '${name}' is ${t.dtype} but its data is a ${t.data?.constructor?.name}`);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new Error(`encodeSafetensors: tensor '${name}' has an invalid shape [${t.shape.join(', ')}]`);
    if (elementCount(t.shape) !== t.data.length) {
      throw new Error(
        `encodeSafetensors: tensor '${name}' has shape [${t.shape.join(', ')}] (${elementCount(t.shape)} elements) but ${t.data.length} values`,
      );
    }
    const size = t.data.length * BYTES_PER_ELEMENT[t.dtype];
    setOwn(header, name, { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] });
    offset += size;
  }

  let json = new TextEncoder().encode(JSON.stringify(header));
  // A header the readers refuse (decodeSafetensors here, the reference implementation) is not written.
  if (json.length > MAX_HEADER_BYTES) throw new SafetensorsHeaderTooLargeError(json.length);
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const spaced = new Uint8Array(padded).fill(0x20);
    spaced.set(json);
    json = spaced;
  }
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  let pos = 8 + padded;
  for (const [, t] of entries) {
    writeLittleEndian(t.data, out, pos);
    pos += t.data.byteLength;
  }
  return out;
}

function writeLittleEndian(data: Float32Array | Int32Array, out: Uint8Array, pos: number): void {
  if (littleEndianHost) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(pos + 4 * i, data[i], true);
    else view.setInt32(pos + 4 * i, data[i], true);
  }
}

function readLittleEndian(dtype: SafetensorsDType, bytes: Uint8Array, begin: number, end: number): Float32Array | Int32Array {
  const n = (end - begin) / 4;
  if (littleEndianHost) {
    // A fresh copy (aligned, independent of the file's buffer). Not bytes.slice(): on a Node Buffer
    // that is a view into a possibly shared pool.
    const copy = new Uint8Array(end - begin);
    copy.set(bytes.subarray(begin, end));
    return dtype === 'F32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const out = dtype === 'F32' ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = dtype === 'F32' ? view.getFloat32(begin + 4 * i, true) : view.getInt32(begin + 4 * i, true);
  return out;
}

/**
 * Parses safetensors bytes, validating the whole layout before returning anything.
 * `source` (e.g. the file path) names the checkpoint in errors: "checkpoint <source> is corrupt: ...".
 */
export function decodeSafetensors(bytes: Uint8Array, source = '(in memory)'): DecodedSafetensors {
  const corrupt = (why: string): Error => new Error(`checkpoint ${source} is corrupt: ${why}`);
  if (!(bytes instanceof Uint8Array)) throw new Error(`decodeSafetensors: expected a Uint8Array, got ${typeof bytes}`);
  if (bytes.length < 8) throw corrupt(`the file has ${bytes.length} bytes, fewer than the 8-byte header length (empty or truncated file)`);

  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    throw corrupt(
      `the header length says ${headerLength} bytes but only ${bytes.length - 8} follow (truncated file, or not a safetensors file)`,
    );
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw corrupt(`the header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes`);
  const n = Number(headerLength);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw corrupt('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw corrupt(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw corrupt('the header is not a JSON object');

  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const spans: { name: string; dtype: SafetensorsDType | 'I64'; shape: number[]; begin: number; end: number }[] = [];

  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw corrupt('__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw corrupt(`__metadata__ '${k}' is not a string`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    if (!entry || typeof entry !== 'object') throw corrupt(`the entry for tensor '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') throw corrupt(`tensor '${name}' has no dtype`);
    if (!Object.hasOwn(READ_BYTES, dtype)) {
      throw new Error(
        `checkpoint ${source}: tensor '${name}' has dtype '${dtype}', which webmtl cannot read (only F32, I32 and I64); convert it to float32 before saving`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw corrupt(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw corrupt(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw corrupt(`tensor '${name}' has data_offsets [${begin}, ${end}] with begin after end`);
    if (end > dataLength)
      throw corrupt(`tensor '${name}' has data_offsets [${begin}, ${end}] beyond the ${dataLength} data bytes (truncated file?)`);
    const expected = elementCount(shape as number[]) * READ_BYTES[dtype];
    if (end - begin !== expected) {
      throw corrupt(
        `tensor '${name}' has shape [${(shape as number[]).join(', ')}] ${dtype} (${expected} bytes) but data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
      );
    }
    spans.push({ name, dtype: dtype as SafetensorsDType | 'I64', shape: shape as number[], begin, end });
  }

  // The tensors must tile the data section exactly.
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const s of sorted) {
    if (s.begin < covered) throw corrupt(`tensor '${s.name}' overlaps the tensor before it (data_offsets [${s.begin}, ${s.end}])`);
    if (s.begin > covered) throw corrupt(`there is a gap of ${s.begin - covered} bytes before tensor '${s.name}'`);
    covered = s.end;
  }
  if (covered !== dataLength)
    throw corrupt(`${dataLength - covered} bytes after the last tensor (the tensors cover ${covered} of ${dataLength} data bytes)`);

  const tensors: Record<string, SafetensorsTensor> = {};
  for (const s of spans) {
    if (s.dtype === 'I64') {
      setOwn(tensors, s.name, {
        dtype: 'I32',
        shape: s.shape,
        data: readInt64AsInt32(bytes, dataStart + s.begin, dataStart + s.end, (i, v) =>
          corrupt(`tensor '${s.name}' is I64 and its element ${i} (${v}) does not fit in int32`),
        ),
      });
      continue;
    }
    setOwn(tensors, s.name, {
      dtype: s.dtype,
      shape: s.shape,
      data: readLittleEndian(s.dtype, bytes, dataStart + s.begin, dataStart + s.end),
    });
  }
  return { tensors, metadata };
}

/** Little-endian int64 values narrowed to int32; `tooLarge` builds the error for a value outside int32. */
function readInt64AsInt32(bytes: Uint8Array, begin: number, end: number, tooLarge: (index: number, value: bigint) => Error): Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + begin, end - begin);
  const out = new Int32Array((end - begin) / 8);
  for (let i = 0; i < out.length; i++) {
    const v = view.getBigInt64(i * 8, true);
    if (v < -2147483648n || v > 2147483647n) throw tooLarge(i, v);
    out[i] = Number(v);
  }
  return out;
}
