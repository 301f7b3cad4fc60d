// A minimal protobuf writer and the few ONNX messages exportOnnx writes (field numbers from onnx.proto).
// Browser-safe: plain typed arrays, no node: imports. Messages are encoded bottom-up: a nested message
// is encoded first and written as a length-delimited field of its parent.

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT64: 7, BOOL: 9 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values used here. */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();

/** Appends protobuf fields to a growing byte buffer. */
export class ProtoWriter {
  private bytes = new Uint8Array(256);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.bytes[this.length++] = b;
  }

  /** A varint; negative numbers as 64-bit two's complement (ten bytes), as protobuf writes int64. */
  varint(n: number | bigint): void {
    if (typeof n === 'number') {
      if (!Number.isSafeInteger(n)) throw new Error(`protobuf: ${n} is not a safe integer`);
      if (n >= 0) {
        while (n > 0x7f) {
          this.byte((n % 0x80) | 0x80);
          n = Math.floor(n / 0x80);
        }
        this.byte(n);
        return;
      }
      n = BigInt(n);
    }
    let u = BigInt.asUintN(64, n);
    while (u > 0x7fn) {
      this.byte(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    this.byte(Number(u));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /** An int32/int64/enum field. */
  int(field: number, n: number | bigint): void {
    this.tag(field, WIRE_VARINT);
    this.varint(n);
  }

  /** A `float` field (fixed32, little-endian). */
  float(field: number, v: number): void {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.raw(b);
  }

  /** A bytes or embedded-message field. */
  bytesField(field: number, data: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(data.length);
    this.raw(data);
  }

  string(field: number, s: string): void {
    this.bytesField(field, utf8.encode(s));
  }

  /** An embedded message, encoded by `write` into a writer of its own. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    write(inner);
    this.bytesField(field, inner.finish());
  }

  /** A packed repeated int64 field. */
  packedInts(field: number, values: readonly number[]): void {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    this.bytesField(field, inner.finish());
  }

  /** A packed repeated float field. */
  packedFloats(field: number, values: readonly number[]): void {
    const b = new Uint8Array(4 * values.length);
    const view = new DataView(b.buffer);
    values.forEach((v, i) => view.setFloat32(4 * i, v, true));
    this.bytesField(field, b);
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

// ---- the ONNX messages, as plain objects ------------------------------------------------------------

export interface TensorData {
  name: string;
  dims: number[];
  /** FLOAT: Float32Array; INT64: BigInt64Array. Written little-endian as raw_data. */
  data: Float32Array | BigInt64Array;
}

export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'tensor'; value: TensorData };

export interface NodeData {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

/** A dimension: a fixed size or a symbolic name such as 'batch'. */
export type Dim = number | string;

export interface ValueInfoData {
  name: string;
  elemType: DataTypeCode;
  shape: Dim[];
  docString?: string;
}

export interface GraphData {
  name: string;
  nodes: NodeData[];
  initializers: TensorData[];
  inputs: ValueInfoData[];
  outputs: ValueInfoData[];
  docString?: string;
}

export interface ModelData {
  irVersion: number;
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: GraphData;
  metadata: Record<string, string>;
}

function rawData(data: Float32Array | BigInt64Array): Uint8Array {
  const b = new Uint8Array(data.length * data.BYTES_PER_ELEMENT);
  const view = new DataView(b.buffer);
  if (data instanceof Float32Array) data.forEach((v, i) => view.setFloat32(4 * i, v, true));
  else data.forEach((v, i) => view.setBigInt64(8 * i, v, true));
  return b;
}

// TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9.
function writeTensor(w: ProtoWriter, t: TensorData): void {
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.data instanceof Float32Array ? DataType.FLOAT : DataType.INT64);
  w.string(8, t.name);
  w.bytesField(9, rawData(t.data));
}

// AttributeProto: name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7, ints = 8, type = 20.
function writeAttribute(w: ProtoWriter, name: string, a: AttributeValue): void {
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      w.int(20, AttributeType.FLOAT);
      break;
    case 'int':
      w.int(3, a.value);
      w.int(20, AttributeType.INT);
      break;
    case 'string':
      w.string(4, a.value);
      w.int(20, AttributeType.STRING);
      break;
    case 'tensor':
      w.message(5, (m) => writeTensor(m, a.value));
      w.int(20, AttributeType.TENSOR);
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      w.int(20, AttributeType.FLOATS);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      w.int(20, AttributeType.INTS);
      break;
  }
}

// NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
function writeNode(w: ProtoWriter, n: NodeData): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes)) w.message(5, (m) => writeAttribute(m, name, a));
}

// ValueInfoProto: name = 1, type = 2, doc_string = 3. TypeProto: tensor_type = 1.
// TypeProto.Tensor: elem_type = 1, shape = 2. TensorShapeProto: dim = 1. Dimension: dim_value = 1, dim_param = 2.
function writeValueInfo(w: ProtoWriter, v: ValueInfoData): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.elemType);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
  if (v.docString) w.string(3, v.docString);
}

// GraphProto: node = 1, name = 2, initializer = 5, doc_string = 10, input = 11, output = 12.
function writeGraph(w: ProtoWriter, g: GraphData): void {
  for (const n of g.nodes) w.message(1, (m) => writeNode(m, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => writeTensor(m, t));
  if (g.docString) w.string(10, g.docString);
  for (const v of g.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => writeValueInfo(m, v));
}

/**
 * ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, doc_string = 6, graph = 7,
 * opset_import = 8 (OperatorSetIdProto: domain = 1, version = 2), metadata_props = 14
 * (StringStringEntryProto: key = 1, value = 2).
 */
export function encodeModel(m: ModelData): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, (g) => writeGraph(g, m.graph));
  w.message(8, (op) => {
    op.string(1, '');
    op.int(2, m.opsetVersion);
  });
  for (const [key, value] of Object.entries(m.metadata))
    w.message(14, (e) => {
      e.string(1, key);
      e.string(2, value);
    });
  return w.finish();
}
