// Writes small pre-quantized (QDQ) ONNX models for the tests: QuantizeLinear/DequantizeLinear around conv, gemm and
// activations as ONNX Runtime's quantizer writes them (per-tensor activations, per-channel symmetric int8 weights).
import onnxProto from "onnx-proto";
import type { onnx as Onnx } from "onnx-proto";
import { seededRandom } from "./seeded-random.js";

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

type ElementType = "float" | "uint8" | "int8" | "int32" | "int64";
const TYPES: Record<ElementType, { type: number; array: (v: ArrayLike<number>) => ArrayBufferView }> = {
  float: { type: T.FLOAT, array: (v) => Float32Array.from(v) },
  uint8: { type: T.UINT8, array: (v) => Uint8Array.from(v) },
  int8: { type: T.INT8, array: (v) => Int8Array.from(v) },
  int32: { type: T.INT32, array: (v) => Int32Array.from(v) },
  int64: { type: T.INT64, array: (v) => BigInt64Array.from(Array.from(v, (x) => BigInt(x))) },
};

/** An activation's quantization as the model states it: a uint8 or int8 zero point. */
export interface ActQuant { scale: number; zeroPoint: number; type: "uint8" | "int8" }

/** Builds a graph node by node; every helper returns the name of the tensor it produced. */
export class QdqBuilder {
  readonly nodes: Onnx.INodeProto[] = [];
  readonly initializers: Onnx.ITensorProto[] = [];
  private count = 0;
  private readonly rand: () => number;

  constructor(seed: number) {
    this.rand = seededRandom(seed);
  }

  fresh(base: string): string {
    return `${base}_${this.count++}`;
  }

  constant(base: string, dims: number[], type: ElementType, values: ArrayLike<number>): string {
    const name = this.fresh(base);
    const view = TYPES[type].array(values);
    this.initializers.push({ name, dims, dataType: TYPES[type].type, rawData: new Uint8Array(view.buffer, view.byteOffset, view.byteLength) });
    return name;
  }

  node(op: string, inputs: string[], attrs: Record<string, number | number[]> = {}, name?: string): string {
    const out = this.fresh(op.toLowerCase());
    const attribute = Object.entries(attrs).map(([k, v]) =>
      Array.isArray(v) ? { name: k, type: onnx.AttributeProto.AttributeType.INTS, ints: v } : { name: k, type: onnx.AttributeProto.AttributeType.INT, i: v });
    this.nodes.push({ name: name ?? out, opType: op, input: inputs, output: [out], attribute });
    return out;
  }

  /** x → QuantizeLinear → DequantizeLinear with the same scale and zero point. */
  qdq(x: string, q: ActQuant): string {
    const scale = this.constant("scale", [], "float", [q.scale]);
    const zp = this.constant("zp", [], q.type, [q.zeroPoint]);
    return this.node("DequantizeLinear", [this.node("QuantizeLinear", [x, scale, zp]), scale, zp]);
  }

  /** Random symmetric int8 weights (|q| ≤ 127) with one scale per output channel (axis `axis`), dequantized. */
  weights(dims: number[], scales: number[], axis: number, options: { zeroPoint?: number; values?: Int8Array } = {}): { name: string; q: Int8Array } {
    const q = options.values ?? Int8Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => Math.round((this.rand() * 2 - 1) * 127));
    const w = this.constant("w", dims, "int8", q);
    const s = this.constant("w_scale", scales.length === 1 ? [] : [scales.length], "float", scales);
    const zp = this.constant("w_zp", scales.length === 1 ? [] : [scales.length], "int8", scales.map(() => options.zeroPoint ?? 0));
    return { name: this.node("DequantizeLinear", [w, s, zp], scales.length === 1 ? {} : { axis }), q };
  }

  /** An int32 bias with scale input scale × weight scale per channel, dequantized (as ONNX Runtime writes conv biases). */
  bias(channels: number, scales: number[], magnitude: number): string {
    const b = this.constant("b", [channels], "int32", Array.from({ length: channels }, () => Math.round((this.rand() * 2 - 1) * magnitude)));
    const s = this.constant("b_scale", [channels], "float", scales);
    const zp = this.constant("b_zp", [channels], "int32", scales.map(() => 0));
    return this.node("DequantizeLinear", [b, s, zp], { axis: 0 });
  }

  /** `n` scales in [lo, hi) (weight scales differ per channel, as a per-channel quantizer gives them). */
  scales(n: number, lo: number, hi: number): number[] {
    return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * this.rand()));
  }

  model(input: { name: string; dims: number[] }, output: string, opset = 13): Uint8Array {
    const info = (name: string, dims?: number[]): Onnx.IValueInfoProto => ({
      name, type: { tensorType: { elemType: T.FLOAT, ...(dims ? { shape: { dim: dims.map((d) => ({ dimValue: d })) } } : {}) } },
    });
    const model: Onnx.IModelProto = {
      irVersion: 8, producerName: "kiln-tests-qdq", opsetImport: [{ domain: "", version: opset }],
      graph: { name: "qdq", input: [info(input.name, input.dims)], output: [info(output)], initializer: this.initializers, node: this.nodes },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

/** The input's quantization in every model here: pixels / 255 as uint8 with zero point 0, so pixels map exactly. */
export const INPUT_QUANT: ActQuant = { scale: Math.fround(1 / 255), zeroPoint: 0, type: "uint8" };
export const OUTPUT_QUANT: ActQuant = { scale: Math.fround(4 / 255), zeroPoint: 5, type: "int8" };

/**
 * A small CNN on [1, 1, 8, 8] in the QDQ format: conv 3×3 + relu (uint8), max pool, depthwise 3×3 (uint8 with zero point
 * 128, signed values), pointwise 1×1 + relu, flatten, gemm (transB) to 10 outputs quantized int8 with zero point 5.
 */
export function qdqCnn(seed = 1): { bytes: Uint8Array; weightScales: Record<string, number[]>; activations: Record<string, ActQuant> } {
  const b = new QdqBuilder(seed);
  const x = b.qdq("x", INPUT_QUANT);
  const relu1: ActQuant = { scale: Math.fround(2 / 255), zeroPoint: 0, type: "uint8" };
  const dw: ActQuant = { scale: Math.fround(6 / 255), zeroPoint: 128, type: "uint8" };
  const relu3: ActQuant = { scale: Math.fround(3 / 255), zeroPoint: 0, type: "uint8" };
  const s1 = b.scales(4, 0.002, 0.005);
  const c1 = b.node("Conv", [x, b.weights([4, 1, 3, 3], s1, 0).name, b.bias(4, s1.map((s) => Math.fround(INPUT_QUANT.scale * s)), 2000)], { pads: [1, 1, 1, 1] }, "conv1");
  const a1 = b.qdq(b.node("Relu", [c1], {}, "relu1"), relu1);
  const p1 = b.qdq(b.node("MaxPool", [a1], { kernel_shape: [2, 2], strides: [2, 2] }, "pool1"), relu1);
  const s2 = b.scales(4, 0.003, 0.006);
  const c2 = b.qdq(b.node("Conv", [p1, b.weights([4, 1, 3, 3], s2, 0).name], { group: 4, pads: [1, 1, 1, 1] }, "depthwise2"), dw);
  const s3 = b.scales(8, 0.004, 0.008);
  const c3 = b.node("Conv", [c2, b.weights([8, 4, 1, 1], s3, 0).name, b.bias(8, s3.map((s) => Math.fround(dw.scale * s)), 100)], {}, "pointwise3");
  const a3 = b.qdq(b.node("Relu", [c3], {}, "relu3"), relu3);
  const flat = b.node("Flatten", [a3], { axis: 1 }, "flatten");
  const s4 = b.scales(10, 0.0005, 0.001);
  const fc = b.node("Gemm", [flat, b.weights([10, 128], s4, 0).name, b.bias(10, s4.map((s) => Math.fround(relu3.scale * s)), 500)], { transB: 1 }, "fc");
  return {
    bytes: b.model({ name: "x", dims: [1, 1, 8, 8] }, b.qdq(fc, OUTPUT_QUANT)),
    weightScales: { conv1: s1, depthwise2: s2, pointwise3: s3, fc: s4 },
    activations: { conv1: relu1, depthwise2: dw, pointwise3: relu3, fc: OUTPUT_QUANT },
  };
}
