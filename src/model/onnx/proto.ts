// A minimal protobuf writer for the ONNX messages we emit (ModelProto and what it contains). Field numbers
// follow onnx.proto; repeated scalars are written unpacked, which every protobuf reader accepts for
// proto2 files like ONNX's. Only writing is needed: ONNX Runtime reads the bytes.

class Writer {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  length = 0;

  private flush(): void {
    if (this.scratch.length) {
      const b = Uint8Array.from(this.scratch);
      this.chunks.push(b);
      this.length += b.length;
      this.scratch = [];
    }
  }

  varint(v: number | bigint): void {
    let n = BigInt.asUintN(64, BigInt(v));
    while (n >= 0x80n) {
      this.scratch.push(Number((n & 0x7fn) | 0x80n));
      n >>= 7n;
    }
    this.scratch.push(Number(n));
    if (this.scratch.length > 4096) this.flush();
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.flush();
    this.chunks.push(data);
    this.length += data.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  int(field: number, v: number | bigint): void {
    this.tag(field, 0);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.scratch.push(x);
  }

  /** A nested message: its chunks join this writer's list, so a large tensor is copied once, by finish. */
  message(field: number, build: (w: Writer) => void): void {
    const inner = new Writer();
    build(inner);
    inner.flush();
    this.tag(field, 2);
    this.varint(inner.length);
    this.flush();
    for (const c of inner.chunks) this.chunks.push(c);
    this.length += inner.length;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

export const DataType = { FLOAT: 1, UINT8: 2, INT64: 7, DOUBLE: 11 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export type Dim = number | string;

export interface TensorValue {
  name: string;
  dims: readonly number[];
  dataType: DataTypeCode;
  /** Raw little-endian bytes (the fast path: ORT reads rawData directly). */
  raw: Uint8Array;
}

export type AttributeValue =
  | number
  | string
  | readonly number[]
  | { float: number }
  | { floats: readonly number[] }
  | TensorValue;

export interface NodeValue {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: Record<string, AttributeValue>;
  name: string;
  domain?: string;
}

export interface ValueInfo {
  name: string;
  dataType: DataTypeCode;
  dims: readonly Dim[];
}

export interface ModelValue {
  nodes: readonly NodeValue[];
  initializers: readonly TensorValue[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  opset: number;
  name: string;
}

function writeTensor(w: Writer, t: TensorValue): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, t.raw);
}

function writeAttribute(w: Writer, name: string, v: AttributeValue): void {
  w.string(1, name);
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use { float } for non-integer values`);
    w.int(3, v);
    w.int(20, 2);
  } else if (typeof v === 'string') {
    w.bytes(4, new TextEncoder().encode(v));
    w.int(20, 3);
  } else if (Array.isArray(v)) {
    for (const x of v as number[]) w.int(8, x);
    w.int(20, 7);
  } else if ('float' in v) {
    w.float(2, v.float);
    w.int(20, 1);
  } else if ('floats' in v) {
    for (const x of v.floats) w.float(7, x);
    w.int(20, 6);
  } else {
    w.message(5, (m) => writeTensor(m, v as TensorValue));
    w.int(20, 4);
  }
}

function writeValueInfo(w: Writer, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.dataType);
      tensor.message(2, (shape) => {
        for (const d of v.dims) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

export function encodeModel(m: ModelValue): Uint8Array {
  const w = new Writer();
  w.int(1, 9); // IR version 9
  w.string(2, 'absolute-zero');
  w.message(7, (g) => {
    for (const n of m.nodes) {
      g.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, n.name);
        nw.string(4, n.opType);
        for (const [k, v] of Object.entries(n.attributes)) nw.message(5, (a) => writeAttribute(a, k, v));
        if (n.domain) nw.string(7, n.domain);
      });
    }
    g.string(2, m.name);
    for (const t of m.initializers) g.message(5, (tw) => writeTensor(tw, t));
    for (const v of m.inputs) g.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of m.outputs) g.message(12, (vw) => writeValueInfo(vw, v));
  });
  w.message(8, (o) => {
    o.string(1, '');
    o.int(2, m.opset);
  });
  return w.finish();
}
