// What the ONNX lowering passes between nodes: compile-time constants, and run-time tensors with their layout.
//
// ONNX tensors are row-major in ONNX's own axis order (NCHW for feature maps); Kiln's are NHWC. A run-time value
// keeps its ONNX shape and says how Kiln's memory holds it: either as a permutation of its axes (`axes[i]` is the
// ONNX axis that Kiln's axis i holds: [0, 2, 3, 1] for a feature map), or, once a reshape has flattened a permuted
// tensor, as an explicit `order` (Kiln element k is ONNX element order[k] in row-major order) that a following
// Gemm/MatMul absorbs by permuting its weight rows.
import { sizeOf } from "../../ir.js";
import type { OnnxDtype } from "./model.js";

export interface ConstValue {
  kind: "const";
  dims: number[];
  dtype: OnnxDtype;
  data: ArrayLike<number>;
}

export type Layout = { axes: number[] } | { order: Int32Array };

export interface TensorValue {
  kind: "tensor";
  /** The Kiln tensor holding it. */
  name: string;
  /** The ONNX shape (batch first, always 1 at the model's input). */
  shape: number[];
  layout: Layout;
}

export type Value = ConstValue | TensorValue;

/** Kiln's axis i holds ONNX axis NCHW_AXES[i]: N, H, W, C. */
export const NCHW_AXES: readonly number[] = [0, 2, 3, 1];

export const identityAxes = (rank: number): number[] => Array.from({ length: rank }, (_v, i) => i);

export function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The Kiln tensor's shape: the ONNX shape with its axes permuted, or a [1, N] vector for an explicit order. */
export function kilnShape(v: TensorValue): number[] {
  return "axes" in v.layout ? v.layout.axes.map((a) => v.shape[a]) : [1, sizeOf(v.shape)];
}

/** A rank-4 ONNX feature map held as NHWC. */
export function isNchw(v: TensorValue): boolean {
  return "axes" in v.layout && sameList(v.layout.axes, NCHW_AXES);
}

export function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/**
 * For a tensor of ONNX shape `shape` stored with its axes permuted by `axes`: the ONNX row-major index of each
 * stored element, or undefined when storage already is ONNX's row-major order (only size-1 axes moved).
 */
export function permutedOrder(shape: readonly number[], axes: readonly number[]): Int32Array | undefined {
  const moved = axes.filter((a) => shape[a] > 1);
  if (moved.every((a, i) => i === 0 || moved[i - 1] < a)) return undefined;
  const strides = rowMajorStrides(shape);
  const dims = axes.map((a) => shape[a]), steps = axes.map((a) => strides[a]);
  const order = new Int32Array(sizeOf(shape));
  const index = new Array<number>(dims.length).fill(0);
  let at = 0;
  for (let k = 0; k < order.length; k++) {
    order[k] = at;
    for (let d = dims.length - 1; d >= 0; d--) {
      index[d]++;
      at += steps[d];
      if (index[d] < dims[d]) break;
      at -= steps[d] * dims[d];
      index[d] = 0;
    }
  }
  return order;
}

/** The ONNX row-major index of each element of Kiln's memory of `v`, or undefined if they are the same order. */
export function memoryOrder(v: TensorValue): Int32Array | undefined {
  return "axes" in v.layout ? permutedOrder(v.shape, v.layout.axes) : v.layout.order;
}

export function sameOrder(a: Int32Array | undefined, b: Int32Array | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The layout of an ONNX tensor of shape `target` whose elements sit in Kiln's memory in `order` (as memoryOrder
 * gives it): a rank-4 target that memory already holds as NHWC becomes a feature map (so image ops can read it);
 * row-major memory is plain; anything else keeps the explicit order.
 */
export function layoutFor(order: Int32Array | undefined, target: readonly number[]): Layout {
  if (target.length === 4 && sameOrder(order, permutedOrder(target, NCHW_AXES))) return { axes: [...NCHW_AXES] };
  if (!order) return { axes: identityAxes(target.length) };
  return { order };
}

export function describeLayout(v: TensorValue): string {
  if (isNchw(v)) return "NCHW, held as NHWC";
  if ("order" in v.layout) return "a flattened feature map in ONNX's channel-major order";
  return sameList(v.layout.axes, identityAxes(v.shape.length)) ? "row-major" : `axes [${v.layout.axes}]`;
}

/** Small integer constants (shapes, axes, pads) as a plain list. */
export function ints(c: ConstValue): number[] {
  return Array.from(c.data, (v) => Number(v));
}

/** An axis attribute or input in [−rank, rank) as a non-negative axis. */
export function normalizeAxis(axis: number, rank: number, what = "axis"): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new Error(`${what} ${axis} is outside [${-rank}, ${rank - 1}] for a rank-${rank} tensor`);
  return axis < 0 ? axis + rank : axis;
}
