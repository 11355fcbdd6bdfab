// A small graph builder over the ONNX writer: name a tensor, get its name back, chain ops. Tensors are
// just names (strings); shapes live in the code that builds the graph, as comments where they matter.
import {
  type AttributeValue,
  DataType,
  type DataTypeCode,
  type Dim,
  encodeModel,
  type TensorValue,
  type ValueInfo,
} from './proto.js';

export type T = string;

export class Graph {
  private readonly nodes: {
    opType: string;
    inputs: T[];
    outputs: T[];
    attributes: Record<string, AttributeValue>;
    name: string;
  }[] = [];
  /** The node that computes each intermediate tensor. */
  private readonly producers = new Map<T, { outputs: T[] }>();
  private readonly renamed = new Map<T, T>();
  private readonly inits: TensorValue[] = [];
  private readonly ins: ValueInfo[] = [];
  private readonly outs: ValueInfo[] = [];
  private readonly constants = new Map<string, T>();
  private counter = 0;

  constructor(readonly name: string) {}

  input(name: string, dims: readonly Dim[], dataType: DataTypeCode = DataType.FLOAT): T {
    this.ins.push({ name, dims, dataType });
    return name;
  }

  /**
   * Mark tensor `t` as a graph output named `name`. When `t` comes from a node of this graph and is not
   * yet an output, the node's result is renamed (no copy); otherwise an Identity node copies it. Later
   * uses of `t` keep working: names are resolved through the renames.
   */
  output(t: T, name: string, dims: readonly Dim[], dataType: DataTypeCode = DataType.FLOAT): T {
    const src = this.resolve(t);
    if (src !== name) {
      const producer = this.producers.get(src);
      if (producer && !this.outs.some((o) => o.name === src)) {
        producer.outputs[producer.outputs.indexOf(src)] = name;
        for (const n of this.nodes) {
          for (let i = 0; i < n.inputs.length; i++) if (n.inputs[i] === src) n.inputs[i] = name;
        }
        this.producers.delete(src);
        this.producers.set(name, producer);
        this.renamed.set(src, name);
      } else {
        this.op('Identity', [src], {}, [name]);
      }
    }
    this.outs.push({ name, dims, dataType });
    return name;
  }

  private resolve(t: T): T {
    let x = t;
    for (let r = this.renamed.get(x); r !== undefined; r = this.renamed.get(x)) x = r;
    return x;
  }

  /** A float32 initializer (weights when the graph holds them, or constant tables). */
  floats(name: string, dims: readonly number[], data: Float32Array): T {
    this.inits.push({
      name,
      dims,
      dataType: DataType.FLOAT,
      raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** A scalar or small float constant, shared between uses. */
  scalar(v: number): T {
    const key = `f${v}`;
    const have = this.constants.get(key);
    if (have) return have;
    const name = `const_f_${this.constants.size}`;
    this.floats(name, [], Float32Array.of(v));
    this.constants.set(key, name);
    return name;
  }

  /** A small float32 vector constant, shared between uses. */
  floatVector(values: readonly number[]): T {
    const key = `fv${values.join(',')}`;
    const have = this.constants.get(key);
    if (have) return have;
    const name = `const_fv_${this.constants.size}`;
    this.floats(name, [values.length], Float32Array.from(values));
    this.constants.set(key, name);
    return name;
  }

  /** An int64 vector constant (shapes, axes, indices). */
  ints(values: readonly number[]): T {
    const key = `i${values.join(',')}`;
    const have = this.constants.get(key);
    if (have) return have;
    const name = `const_i_${this.constants.size}`;
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.inits.push({
      name,
      dims: [values.length],
      dataType: DataType.INT64,
      raw: new Uint8Array(data.buffer),
    });
    this.constants.set(key, name);
    return name;
  }

  op(
    opType: string,
    inputs: readonly T[],
    attributes: Record<string, AttributeValue> = {},
    outputs?: readonly string[],
  ): T {
    return this.opN(opType, inputs, 1, attributes, outputs)[0] as T;
  }

  opN(
    opType: string,
    inputs: readonly T[],
    n: number,
    attributes: Record<string, AttributeValue> = {},
    outputs?: readonly string[],
  ): T[] {
    const outs = outputs ? [...outputs] : Array.from({ length: n }, () => `t${this.counter++}`);
    const node = {
      opType,
      inputs: inputs.map((i) => this.resolve(i)),
      outputs: outs,
      attributes,
      name: `n${this.nodes.length}_${opType}`,
    };
    this.nodes.push(node);
    for (const o of outs) this.producers.set(o, node);
    return [...outs];
  }

  // Shorthands for the ops a transformer uses, so layer code reads like the math.
  add = (a: T, b: T) => this.op('Add', [a, b]);
  sub = (a: T, b: T) => this.op('Sub', [a, b]);
  mul = (a: T, b: T) => this.op('Mul', [a, b]);
  div = (a: T, b: T) => this.op('Div', [a, b]);
  matmul = (a: T, b: T) => this.op('MatMul', [a, b]);
  transpose = (a: T, perm: number[]) => this.op('Transpose', [a], { perm });
  /** Swap the last two axes of a rank-2 or rank-4 tensor. */
  t2 = (a: T) => this.transpose(a, [1, 0]);
  t4 = (a: T) => this.transpose(a, [0, 1, 3, 2]);
  reshape = (a: T, shape: number[]) => this.op('Reshape', [a, this.ints(shape)]);
  /** Sum over axis 0, dropping it (bias and LayerNorm parameter gradients). */
  sum0 = (a: T) => this.op('ReduceSum', [a, this.ints([0])], { keepdims: 0 });
  sumLast = (a: T) => this.op('ReduceSum', [a, this.ints([-1])], { keepdims: 1 });
  sumAll = (a: T) => this.op('ReduceSum', [a], { keepdims: 0 });

  encode(opset = 20): Uint8Array {
    return encodeModel({
      nodes: this.nodes,
      initializers: this.inits,
      inputs: this.ins,
      outputs: this.outs,
      opset,
      name: this.name,
    });
  }
}
