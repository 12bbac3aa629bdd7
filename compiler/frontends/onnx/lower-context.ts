// What each ONNX op lowering receives (the node, its inputs as values, a way to emit Kiln nodes) and the helpers they share.
import { sizeOf, type AttrValue } from "../../ir.js";
import type { GraphBuilder } from "../builder.js";
import { fileText } from "../../errors.js";
import type { OnnxNode } from "./model.js";
import {
  describeLayout, isNchw, kilnShape, memoryOrder, NCHW_AXES, permutedOrder, sameList, sameOrder,
  type ConstValue, type TensorValue, type Value,
} from "./lower-values.js";

export interface LowerContext {
  builder: GraphBuilder;
  node: OnnxNode;
  /** The model's opset for the default domain: attributes moved to inputs over the versions. */
  opset: number;
  /** Input `i`, or undefined when it is absent ("" or past the end of the list). */
  optional(i: number): Value | undefined;
  /** Input `i`, which must be a run-time tensor. */
  tensor(i: number): TensorValue;
  /** Input `i`, which must be a compile-time constant. */
  constant(i: number): ConstValue;
  /** Input `i` if present, which must then be a constant. */
  optionalConstant(i: number): ConstValue | undefined;
  /** A Kiln node named after the ONNX node (`name/suffix` for the extra nodes one op becomes); returns its output. */
  emit(op: string, inputs: string[], attrs?: Record<string, AttrValue>, suffix?: string): string;
  /**
   * A float32 Kiln constant named after the node. `from` names the ONNX tensor it was made from (a Conv's or Gemm's
   * weight input), so a pre-quantized model's weight scales can find it (see lowerOnnxModel's weightNames).
   */
  weight(suffix: string, shape: number[], data: Float32Array, from?: string): string;
}

export interface OnnxLowering {
  /** Every attribute the lowering understands: any other attribute on the node is refused, never ignored. */
  attrs: readonly string[];
  lower(ctx: LowerContext): Value;
}

export function tensorValue(name: string, shape: number[], layout: TensorValue["layout"]): TensorValue {
  return { kind: "tensor", name, shape, layout };
}

/** The same ONNX value in a new layout: a Kiln reshape (memory is unchanged) unless the Kiln shape already matches. */
export function relayout(ctx: LowerContext, v: TensorValue, shape: number[], layout: TensorValue["layout"], suffix?: string): TensorValue {
  const next = tensorValue(v.name, shape, layout);
  const target = kilnShape(next);
  if (!sameList(target, kilnShape(v))) next.name = ctx.emit("reshape", [v.name], { shape: target }, suffix);
  return next;
}

/** Input `v` as an NHWC Kiln tensor: a feature map, or a rank-4 tensor whose memory already is NHWC. */
export function asImage(ctx: LowerContext, v: TensorValue): string {
  if (v.shape.length !== 4) throw new Error(`input [${v.shape}] is not a 4-D NCHW tensor (Kiln's 2-D ops need [1, C, H, W])`);
  if (v.shape[0] !== 1) throw new Error(`input [${v.shape}] has a batch of ${v.shape[0]}; Kiln compiles batch 1`);
  if (isNchw(v)) return v.name;
  if (!sameOrder(memoryOrder(v), permutedOrder(v.shape, NCHW_AXES))) {
    throw new Error(`input [${v.shape}] is held as ${describeLayout(v)}; making it NCHW would need a real transpose, which Kiln does not do`);
  }
  return relayout(ctx, v, v.shape, { axes: [...NCHW_AXES] }, "nhwc").name;
}

/** A constant's values as float32 (weights, scales); integer constants are converted, others refused. */
export function floats(c: ConstValue, what: string): Float32Array {
  if (c.dtype === "bool") throw new Error(`${what} is a bool tensor; Kiln needs numbers there`);
  if (c.data instanceof Float32Array) return c.data;
  if (c.dtype !== "float32" && c.dtype !== "int64" && c.dtype !== "int32") {
    throw new Error(`${what} is a ${fileText(c.dtype)} tensor; Kiln reads float weights here (quantized weights need QuantizeLinear/DequantizeLinear)`);
  }
  return Float32Array.from(c.data);
}

/**
 * A constant that broadcasts against `v` as a scalar or along one ONNX axis that Kiln holds innermost (the channels
 * of a feature map, the features of a vector): its values in Kiln's channel order, one per Kiln channel.
 */
export function perChannel(v: TensorValue, c: ConstValue, what: string): Float32Array {
  const values = floats(c, what);
  const channels = kilnShape(v).at(-1)!;
  if (c.dims.length > v.shape.length) throw new Error(`${what} [${c.dims}] has more dimensions than the tensor [${v.shape}] it applies to`);
  if (values.length === 1) return new Float32Array(channels).fill(values[0]);
  const offset = v.shape.length - c.dims.length;
  const varying = c.dims.map((d, i) => (d === 1 ? -1 : i + offset)).filter((a) => a >= 0);
  const axis = varying[0];
  const fits = varying.length === 1 && c.dims[axis - offset] === v.shape[axis];
  if (fits && "axes" in v.layout && v.layout.axes.at(-1) === axis) return values;
  if (fits && "order" in v.layout && axis === v.shape.length - 1 && sizeOf(v.shape) === v.shape[axis]) {
    const order = v.layout.order;
    return Float32Array.from(order, (onnxIndex) => values[onnxIndex]);
  }
  throw new Error(`${what} [${c.dims}] does not broadcast against [${v.shape}] (${describeLayout(v)}) as a scalar or per channel; ` +
    "Kiln applies constants per channel only (along C of NCHW, or the last axis of a vector)");
}

/** y = x·scale + shift per Kiln channel, as one batch_norm node (a pass folds it into a neighbouring conv or dense). */
export function affine(ctx: LowerContext, x: string, scale: Float32Array | undefined, shift: Float32Array | undefined, suffix?: string): string {
  const c = ctx.builder.shapeOf(x).at(-1)!;
  const s = ctx.weight(suffix ? `${suffix}/scale` : "scale", [c], scale ?? new Float32Array(c).fill(1));
  const t = ctx.weight(suffix ? `${suffix}/shift` : "shift", [c], shift ?? new Float32Array(c));
  return ctx.emit("batch_norm", [x, s, t], {}, suffix);
}

/** The result of an element-wise op on `v`: same ONNX shape and layout, a new Kiln tensor. */
export function like(v: TensorValue, name: string): TensorValue {
  return tensorValue(name, v.shape, v.layout);
}
