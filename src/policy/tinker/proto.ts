// The few protobuf messages of the Tinker API (package `tinker_public`, proto3), written by hand over the
// wire format: the forward_backward request, and the results of sample and forward_backward.
//
// Why protobuf at all: from SDK 0.25 the official client sends forward_backward as protobuf and accepts
// sample/forward/forward_backward results only as protobuf; SkyRL 0.4 follows it (a JSON forward_backward
// body is refused with 415) and answers those three results as protobuf. Every other call stays JSON.
//
// Arrays travel as little-endian bytes: token ids as int32, log-probabilities as float32; a Tensor is
// `dense` bytes in its dtype with a `shape`; a BatchedTensor concatenates per-datum arrays and gives the
// byte offset of each (int64) so the reader can cut them apart.
//
// Field numbers (from the SDK's descriptor):
//   ForwardBackwardRequest { 1 model_id: string, 2 seq_id: int32, 3 data: repeated Datum, 4 loss_fn: string,
//                            5 loss_fn_config: map<string, double>, 6 forward_only: bool }
//   Datum { 1 model_input: repeated Chunk, 2 loss_fn_inputs: map<string, Tensor> }
//   Chunk { oneof: 1 encoded_text: EncodedTextChunk { 1 tokens: bytes(int32) } }
//   Tensor { 1 dense: bytes, 3 dtype: DType, 4 shape: repeated int64 }
//   SampleResponse { 1 sequences: repeated SampledSequence, 2 prompt_logprobs: optional bytes(float32, NaN
//                    where undefined), 4 prompt_cache_hit_tokens: int32 }
//   SampledSequence { 1 stop_reason: StopReason (0 stop, 1 length), 2 tokens: bytes(int32),
//                     3 logprobs: optional bytes(float32) }
//   ForwardBackwardOutput { 1 loss_fn_output_type: string, 2 loss_fn_outputs: repeated ArrayRecord,
//                           3 metrics: map<string, double> }
//   ArrayRecord { 1 type_tag: string, 2 fields: map<string, BatchedTensor>, 3 num_datums: int64 }
//   BatchedTensor { 1 data: bytes, 2 offsets: bytes(int64), 3 dtype: DType, 4 trailing_shape: repeated int64 }
//   DType { 1 float32, 2 int64, 3 int32, 4 bfloat16 }

export type TensorDtype = 'int64' | 'float32';

export interface ProtoTensor {
  data: readonly number[];
  dtype: TensorDtype;
  shape?: readonly number[];
}

export interface ProtoDatum {
  /** Token ids of the model input (one encoded-text chunk). */
  tokens: readonly number[];
  lossFnInputs: Readonly<Record<string, ProtoTensor>>;
}

export interface ForwardBackwardRequestFields {
  modelId: string;
  seqId: number;
  data: readonly ProtoDatum[];
  lossFn: string;
  lossFnConfig?: Readonly<Record<string, number>>;
  forwardOnly?: boolean;
}

export interface DecodedSequence {
  stopReason: 'stop' | 'length';
  tokens: number[];
  logprobs?: number[];
}

export interface DecodedSampleResponse {
  sequences: DecodedSequence[];
  /** Per prompt token; null where the server computed none (the first token). */
  promptLogprobs?: (number | null)[];
}

export interface DecodedTensor {
  data: number[];
  dtype: TensorDtype | 'int32';
  shape: number[];
}

export interface DecodedForwardBackward {
  lossFnOutputType: string;
  /** One record per datum, field name to tensor (e.g. `logprobs`, `elementwise_loss`). */
  lossFnOutputs: Record<string, DecodedTensor>[];
  metrics: Record<string, number>;
}

const DTYPE_CODE: Record<TensorDtype, number> = { float32: 1, int64: 2 };

// ---- writing ----

class Writer {
  private chunks: Uint8Array[] = [];
  private scratch = new DataView(new ArrayBuffer(8));

  varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.chunks.push(Uint8Array.from(out));
  }

  tag(field: number, wireType: 0 | 1 | 2 | 5): void {
    this.varint((field << 3) | wireType);
  }

  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, 2);
    this.varint(bytes.length);
    this.chunks.push(bytes);
  }

  stringField(field: number, value: string): void {
    this.bytesField(field, new TextEncoder().encode(value));
  }

  varintField(field: number, value: number | bigint | boolean): void {
    this.tag(field, 0);
    this.varint(typeof value === 'boolean' ? Number(value) : value);
  }

  doubleField(field: number, value: number): void {
    this.tag(field, 1);
    this.scratch.setFloat64(0, value, true);
    this.chunks.push(new Uint8Array(this.scratch.buffer.slice(0)));
  }

  messageField(field: number, write: (w: Writer) => void): void {
    const inner = new Writer();
    write(inner);
    this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function int32Bytes(values: readonly number[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => {
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new RangeError(`not an int32: ${v}`);
    view.setInt32(i * 4, v, true);
  });
  return new Uint8Array(view.buffer);
}

function tensorBytes(t: ProtoTensor): Uint8Array {
  const width = t.dtype === 'int64' ? 8 : 4;
  const view = new DataView(new ArrayBuffer(t.data.length * width));
  t.data.forEach((v, i) => {
    if (t.dtype === 'int64') {
      if (!Number.isSafeInteger(v)) throw new RangeError(`not an integer: ${v}`);
      view.setBigInt64(i * 8, BigInt(v), true);
    } else {
      view.setFloat32(i * 4, v, true);
    }
  });
  return new Uint8Array(view.buffer);
}

/** Bytes of a ForwardBackwardRequest message. */
export function encodeForwardBackwardRequest(req: ForwardBackwardRequestFields): Uint8Array {
  const w = new Writer();
  w.stringField(1, req.modelId);
  w.varintField(2, req.seqId);
  for (const datum of req.data) {
    w.messageField(3, (d) => {
      d.messageField(1, (chunk) =>
        chunk.messageField(1, (text) => text.bytesField(1, int32Bytes(datum.tokens))),
      );
      for (const [name, tensor] of Object.entries(datum.lossFnInputs)) {
        d.messageField(2, (entry) => {
          entry.stringField(1, name);
          entry.messageField(2, (t) => {
            t.bytesField(1, tensorBytes(tensor));
            t.varintField(3, DTYPE_CODE[tensor.dtype]);
            const shape = tensor.shape ?? [tensor.data.length];
            t.messageField(4, (packed) => {
              for (const n of shape) packed.varint(n);
            });
          });
        });
      }
    });
  }
  w.stringField(4, req.lossFn);
  for (const [key, value] of Object.entries(req.lossFnConfig ?? {})) {
    w.messageField(5, (entry) => {
      entry.stringField(1, key);
      entry.doubleField(2, value);
    });
  }
  if (req.forwardOnly) w.varintField(6, true);
  return w.finish();
}

// ---- reading ----

type Field = { field: number; wireType: number; varint?: bigint; bytes?: Uint8Array; fixed?: DataView };

class Reader {
  private at = 0;
  constructor(private readonly buf: Uint8Array) {}

  private varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.at >= this.buf.length) throw new Error('protobuf: truncated varint');
      const b = this.buf[this.at++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('protobuf: varint too long');
    }
  }

  private take(n: number): Uint8Array {
    if (this.at + n > this.buf.length) throw new Error('protobuf: truncated field');
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** A packed run of varints (no tags), as in a packed repeated int64 field. */
  *packedVarints(): Generator<bigint> {
    while (this.at < this.buf.length) yield this.varint();
  }

  *fields(): Generator<Field> {
    while (this.at < this.buf.length) {
      const key = Number(this.varint());
      const field = key >>> 3;
      const wireType = key & 7;
      if (wireType === 0) yield { field, wireType, varint: this.varint() };
      else if (wireType === 2) yield { field, wireType, bytes: this.take(Number(this.varint())) };
      else if (wireType === 1 || wireType === 5) {
        const b = this.take(wireType === 1 ? 8 : 4);
        yield { field, wireType, fixed: new DataView(b.buffer, b.byteOffset, b.byteLength) };
      } else throw new Error(`protobuf: unsupported wire type ${wireType}`);
    }
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readInt32s(bytes: Uint8Array): number[] {
  const v = view(bytes);
  return Array.from({ length: bytes.length >>> 2 }, (_, i) => v.getInt32(i * 4, true));
}

function readFloat32s(bytes: Uint8Array): number[] {
  const v = view(bytes);
  return Array.from({ length: bytes.length >>> 2 }, (_, i) => v.getFloat32(i * 4, true));
}

function readInt64s(bytes: Uint8Array): number[] {
  const v = view(bytes);
  return Array.from({ length: bytes.length >>> 3 }, (_, i) => Number(v.getBigInt64(i * 8, true)));
}

/** A repeated int64 field: packed (one bytes field) or not (one varint per element). */
function pushInt64s(out: number[], f: Field): void {
  if (f.varint !== undefined) out.push(Number(BigInt.asIntN(64, f.varint)));
  else if (f.bytes) {
    for (const g of new Reader(f.bytes).packedVarints()) out.push(Number(BigInt.asIntN(64, g)));
  }
}

function text(bytes: Uint8Array | undefined): string {
  return bytes ? new TextDecoder().decode(bytes) : '';
}

/** A map<string, X> entry: key (field 1) and value (field 2). */
function mapEntry(bytes: Uint8Array): { key: string; value?: Field } {
  let key = '';
  let value: Field | undefined;
  for (const f of new Reader(bytes).fields()) {
    if (f.field === 1) key = text(f.bytes);
    else if (f.field === 2) value = f;
  }
  return { key, value };
}

export function decodeSampleResponse(bytes: Uint8Array): DecodedSampleResponse {
  const out: DecodedSampleResponse = { sequences: [] };
  for (const f of new Reader(bytes).fields()) {
    if (f.field === 1 && f.bytes) {
      const seq: DecodedSequence = { stopReason: 'stop', tokens: [] };
      for (const g of new Reader(f.bytes).fields()) {
        if (g.field === 1) seq.stopReason = g.varint === 1n ? 'length' : 'stop';
        else if (g.field === 2 && g.bytes) seq.tokens = readInt32s(g.bytes);
        else if (g.field === 3 && g.bytes) seq.logprobs = readFloat32s(g.bytes);
      }
      out.sequences.push(seq);
    } else if (f.field === 2 && f.bytes) {
      out.promptLogprobs = readFloat32s(f.bytes).map((x) => (Number.isNaN(x) ? null : x));
    }
  }
  return out;
}

const DTYPE_NAME: Record<number, DecodedTensor['dtype']> = { 1: 'float32', 2: 'int64', 3: 'int32' };

function decodeBatchedTensor(bytes: Uint8Array, numDatums: number): DecodedTensor[] {
  let data: Uint8Array = new Uint8Array(0);
  let offsets: number[] = [];
  let dtypeCode = 1;
  const trailing: number[] = [];
  for (const f of new Reader(bytes).fields()) {
    if (f.field === 1 && f.bytes) data = f.bytes;
    else if (f.field === 2 && f.bytes) offsets = readInt64s(f.bytes);
    else if (f.field === 3 && f.varint !== undefined) dtypeCode = Number(f.varint);
    else if (f.field === 4) pushInt64s(trailing, f);
  }
  const dtype = DTYPE_NAME[dtypeCode];
  if (!dtype) throw new Error(`protobuf: unsupported tensor dtype ${dtypeCode}`);
  if (offsets.length !== numDatums + 1) {
    throw new Error(`protobuf: ${offsets.length} offsets for ${numDatums} datums`);
  }
  const inner = trailing.reduce((a, b) => a * b, 1);
  return Array.from({ length: numDatums }, (_, i) => {
    const slice = data.subarray(offsets[i] as number, offsets[i + 1] as number);
    const values =
      dtype === 'int64' ? readInt64s(slice) : dtype === 'int32' ? readInt32s(slice) : readFloat32s(slice);
    return { data: values, dtype, shape: [values.length / inner, ...trailing] };
  });
}

export function decodeForwardBackwardOutput(bytes: Uint8Array): DecodedForwardBackward {
  const out: DecodedForwardBackward = { lossFnOutputType: '', lossFnOutputs: [], metrics: {} };
  for (const f of new Reader(bytes).fields()) {
    if (f.field === 1) out.lossFnOutputType = text(f.bytes);
    else if (f.field === 3 && f.bytes) {
      const { key, value } = mapEntry(f.bytes);
      out.metrics[key] = value?.fixed ? value.fixed.getFloat64(0, true) : 0;
    } else if (f.field === 2 && f.bytes) {
      let numDatums = 0;
      const fields: [string, Uint8Array][] = [];
      for (const g of new Reader(f.bytes).fields()) {
        if (g.field === 3 && g.varint !== undefined) numDatums = Number(g.varint);
        else if (g.field === 2 && g.bytes) {
          const { key, value } = mapEntry(g.bytes);
          if (value?.bytes) fields.push([key, value.bytes]);
        }
      }
      const records: Record<string, DecodedTensor>[] = Array.from({ length: numDatums }, () => ({}));
      for (const [name, tensorBytes] of fields) {
        decodeBatchedTensor(tensorBytes, numDatums).forEach((t, i) => {
          (records[i] as Record<string, DecodedTensor>)[name] = t;
        });
      }
      out.lossFnOutputs.push(...records);
    }
  }
  return out;
}

function decodeTensor(bytes: Uint8Array): ProtoTensor {
  let dense: Uint8Array = new Uint8Array(0);
  let dtypeCode = 0;
  const shape: number[] = [];
  for (const f of new Reader(bytes).fields()) {
    if (f.field === 1 && f.bytes) dense = f.bytes;
    else if (f.field === 3 && f.varint !== undefined) dtypeCode = Number(f.varint);
    else if (f.field === 4) pushInt64s(shape, f);
  }
  const dtype = DTYPE_NAME[dtypeCode];
  if (dtype !== 'float32' && dtype !== 'int64')
    throw new Error(`protobuf: unsupported tensor dtype ${dtypeCode}`);
  return { data: dtype === 'int64' ? readInt64s(dense) : readFloat32s(dense), dtype, shape };
}

/** A ForwardBackwardRequest read back (what a server sees); for tests and debugging. */
export function decodeForwardBackwardRequest(bytes: Uint8Array): Required<ForwardBackwardRequestFields> {
  const out: Required<ForwardBackwardRequestFields> = {
    modelId: '',
    seqId: 0,
    data: [],
    lossFn: '',
    lossFnConfig: {},
    forwardOnly: false,
  };
  const data: ProtoDatum[] = [];
  const config: Record<string, number> = {};
  for (const f of new Reader(bytes).fields()) {
    if (f.field === 1) out.modelId = text(f.bytes);
    else if (f.field === 2 && f.varint !== undefined) out.seqId = Number(f.varint);
    else if (f.field === 4) out.lossFn = text(f.bytes);
    else if (f.field === 6 && f.varint !== undefined) out.forwardOnly = f.varint !== 0n;
    else if (f.field === 5 && f.bytes) {
      const { key, value } = mapEntry(f.bytes);
      config[key] = value?.fixed ? value.fixed.getFloat64(0, true) : 0;
    } else if (f.field === 3 && f.bytes) {
      const tokens: number[] = [];
      const inputs: Record<string, ProtoTensor> = {};
      for (const g of new Reader(f.bytes).fields()) {
        if (g.field === 1 && g.bytes) {
          for (const chunk of new Reader(g.bytes).fields()) {
            if (chunk.field !== 1 || !chunk.bytes)
              throw new Error('protobuf: only encoded_text chunks are read');
            for (const t of new Reader(chunk.bytes).fields())
              if (t.field === 1 && t.bytes) tokens.push(...readInt32s(t.bytes));
          }
        } else if (g.field === 2 && g.bytes) {
          const { key, value } = mapEntry(g.bytes);
          if (value?.bytes) inputs[key] = decodeTensor(value.bytes);
        }
      }
      data.push({ tokens, lossFnInputs: inputs });
    }
  }
  return { ...out, data, lossFnConfig: config };
}
