// Element-wise ops: activations (Relu, Clip, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish), Softmax, Neg, and
// Add/Sub/Mul/Div of two same-shaped tensors or of a tensor and a scalar or per-channel constant.
import { FLT_MAX, sizeOf } from "../../ir.js";
import { attrFloat, attrInt } from "./lower-attrs.js";
import { affine, floats, like, perChannel, type LowerContext, type OnnxLowering } from "./lower-context.js";
import { describeLayout, identityAxes, kilnShape, memoryOrder, normalizeAxis, sameList, sameOrder, type TensorValue, type Value } from "./lower-values.js";

function unary(op: string, attrs: (ctx: LowerContext) => Record<string, number> = () => ({}), names: string[] = []): OnnxLowering {
  return { attrs: names, lower: (ctx) => { const x = ctx.tensor(0); return like(x, ctx.emit(op, [x.name], attrs(ctx))); } };
}

/** min/max as Kiln's bound ops: relu for [0, ∞), relu6 for [0, 6], clamp otherwise (bounds kept finite). */
function bounded(ctx: LowerContext, x: string, lo: number, hi: number, suffix?: string): string {
  const min = Math.max(lo, -FLT_MAX), max = Math.min(hi, FLT_MAX);
  if (min === 0 && max === FLT_MAX) return ctx.emit("relu", [x], {}, suffix);
  if (min === 0 && max === 6) return ctx.emit("relu6", [x], {}, suffix);
  return ctx.emit("clamp", [x], { min, max }, suffix);
}

/** A scalar bound from Clip's min/max inputs (opset ≥ 11), or its attributes (before). */
function clipBound(ctx: LowerContext, index: number, attr: string, fallback: number): number {
  if (ctx.node.attrs.has(attr)) return attrFloat(ctx.node, attr, fallback);
  const c = ctx.optionalConstant(index);
  if (!c) return fallback;
  const v = floats(c, `the ${attr} bound`);
  if (v.length !== 1) throw new Error(`the ${attr} bound [${c.dims}] is not a scalar`);
  if (Number.isNaN(v[0])) throw new Error(`the ${attr} bound is not a number`);
  return v[0];
}

const clip: OnnxLowering = {
  attrs: ["min", "max"],
  lower(ctx) {
    const x = ctx.tensor(0);
    return like(x, bounded(ctx, x.name, clipBound(ctx, 1, "min", -Infinity), clipBound(ctx, 2, "max", Infinity)));
  },
};

/** HardSigmoid: clamp(alpha·x + beta, 0, 1), a batch_norm then a clamp. */
function hardSigmoid(ctx: LowerContext, x: string, alpha: number, beta: number, suffix?: string): string {
  const c = ctx.builder.shapeOf(x).at(-1)!;
  const line = affine(ctx, x, new Float32Array(c).fill(alpha), new Float32Array(c).fill(beta), suffix ? `${suffix}/affine` : "affine");
  return bounded(ctx, line, 0, 1, suffix);
}

/**
 * Softmax over the axes ONNX normalizes: opset < 13 flattens axis..end into one, opset ≥ 13 takes one axis. Kiln's
 * softmax runs over its innermost axis, which fits when that is the one axis of size > 1 normalized, or when every
 * axis of size > 1 is normalized (then Kiln's memory order does not matter: a Kiln [1, N] view is normalized whole).
 */
const softmax: OnnxLowering = {
  attrs: ["axis"],
  lower(ctx) {
    const x = ctx.tensor(0);
    const rank = x.shape.length;
    const axis = normalizeAxis(attrInt(ctx.node, "axis", ctx.opset >= 13 ? -1 : 1), rank);
    const normalized = ctx.opset >= 13 ? [axis] : identityAxes(rank).slice(axis);
    const big = (a: number): boolean => x.shape[a] > 1;
    const inside = normalized.filter(big), outside = identityAxes(rank).filter((a) => !normalized.includes(a) && big(a));
    if (inside.length === 0) throw new Error(`axis ${axis} of [${x.shape}] normalizes over size 1 only (the result is all ones); Kiln does not compile that`);
    if (outside.length === 0) {
      const n = sizeOf(x.shape);
      if (sameList(kilnShape(x), [1, n])) return like(x, ctx.emit("softmax", [x.name]));
      const row = ctx.emit("reshape", [x.name], { shape: [1, n] }, "row");
      return like(x, ctx.emit("reshape", [ctx.emit("softmax", [row])], { shape: kilnShape(x) }, "shape"));
    }
    if (inside.length === 1 && "axes" in x.layout && x.layout.axes.at(-1) === inside[0]) return like(x, ctx.emit("softmax", [x.name]));
    throw new Error(`softmax over axis ${axis} of [${x.shape}] (${describeLayout(x)}) is not over the axis Kiln holds innermost; Kiln's softmax runs over channels or a whole vector`);
  },
};

const sameLayout = (a: TensorValue, b: TensorValue): boolean =>
  sameList(a.shape, b.shape) && sameList(kilnShape(a), kilnShape(b)) &&
  ("axes" in a.layout && "axes" in b.layout ? sameList(a.layout.axes, b.layout.axes) : sameOrder(memoryOrder(a), memoryOrder(b)));

type Arithmetic = "add" | "sub" | "mul" | "div";

/** x ∘ c for a run-time x and a scalar or per-channel constant c (or c ∘ x when `constantFirst`), as a batch_norm. */
function withConstant(ctx: LowerContext, kind: Arithmetic, x: TensorValue, c: Value & { kind: "const" }, constantFirst: boolean): TensorValue {
  const rank = Math.max(x.shape.length, c.dims.length);
  const padded = [...new Array<number>(rank - c.dims.length).fill(1), ...c.dims];
  if (c.dims.length > x.shape.length || padded.some((d, i) => d !== 1 && d !== x.shape[i])) {
    throw new Error(`the constant [${c.dims}] broadcasts [${x.shape}] to a larger shape; Kiln applies constants per channel or as scalars`);
  }
  const v = perChannel(x, c, "the constant");
  const n = v.length;
  const ones = (k: number): Float32Array => new Float32Array(n).fill(k);
  let y: string;
  if (kind === "add") y = affine(ctx, x.name, undefined, v);
  else if (kind === "mul") y = affine(ctx, x.name, v, undefined);
  else if (kind === "sub") y = constantFirst ? affine(ctx, x.name, ones(-1), v) : affine(ctx, x.name, undefined, v.map((t) => -t));
  else {
    if (constantFirst) throw new Error("dividing a constant by a run-time tensor is not supported");
    if (v.some((d) => d === 0)) throw new Error("divides by a constant that holds 0");
    y = affine(ctx, x.name, v.map((d) => 1 / d), undefined);
  }
  return like(x, y);
}

function arithmetic(kind: Arithmetic): OnnxLowering {
  return {
    attrs: [],
    lower(ctx) {
      if (ctx.node.inputs.length !== 2) throw new Error(`needs two inputs, has ${ctx.node.inputs.length}`);
      const a = ctx.optional(0), b = ctx.optional(1);
      if (!a || !b) throw new Error("needs two inputs");
      if (a.kind === "tensor" && b.kind === "tensor") {
        if (!sameLayout(a, b)) {
          throw new Error(`operands [${a.shape}] (${describeLayout(a)}) and [${b.shape}] (${describeLayout(b)}) differ in shape or layout; Kiln adds and multiplies same-shaped tensors only (no broadcasting between run-time tensors)`);
        }
        if (kind === "add" || kind === "mul") return like(a, ctx.emit(kind, [a.name, b.name]));
        if (kind === "sub") return like(a, ctx.emit("add", [a.name, affine(ctx, b.name, new Float32Array(kilnShape(b).at(-1)!).fill(-1), undefined, "negate")]));
        throw new Error("dividing two run-time tensors is not supported");
      }
      if (a.kind === "tensor" && b.kind === "const") return withConstant(ctx, kind, a, b, false);
      if (a.kind === "const" && b.kind === "tensor") return withConstant(ctx, kind, b, a, true);
      throw new Error("internal: two constants reach the lowering");
    },
  };
}

export const ELEMENTWISE_LOWERINGS: Record<string, OnnxLowering> = {
  Relu: unary("relu"),
  Sigmoid: unary("sigmoid"),
  Tanh: unary("tanh"),
  LeakyRelu: unary("leaky_relu", (ctx) => ({ alpha: attrFloat(ctx.node, "alpha", 0.01) }), ["alpha"]),
  Clip: clip,
  HardSigmoid: {
    attrs: ["alpha", "beta"],
    lower(ctx) {
      const x = ctx.tensor(0);
      return like(x, hardSigmoid(ctx, x.name, attrFloat(ctx.node, "alpha", 0.2), attrFloat(ctx.node, "beta", 0.5)));
    },
  },
  /** HardSwish: x · HardSigmoid(x) with alpha 1/6, beta 0.5. */
  HardSwish: {
    attrs: [],
    lower(ctx) {
      const x = ctx.tensor(0);
      return like(x, ctx.emit("mul", [x.name, hardSigmoid(ctx, x.name, 1 / 6, 0.5, "gate")]));
    },
  },
  Softmax: softmax,
  Neg: {
    attrs: [],
    lower(ctx) {
      const x = ctx.tensor(0);
      return like(x, affine(ctx, x.name, new Float32Array(kilnShape(x).at(-1)!).fill(-1), undefined));
    },
  },
  Add: arithmetic("add"),
  Sub: arithmetic("sub"),
  Mul: arithmetic("mul"),
  Div: arithmetic("div"),
};
