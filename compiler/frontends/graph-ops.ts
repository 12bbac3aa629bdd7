// One lowering per TF GraphDef op: each turns a node (its attrs, tensor and constant inputs) into Kiln core ops.
import { FLT_MAX, sizeOf, type AttrValue } from "../ir.js";
import type { GraphBuilder } from "./builder.js";
import { boolAttr, floatAttr, intListAttr, nhwcWindow, paddingOf, requireNhwc, stringListAttr, type ConstValue, type TfNode } from "./tf-attrs.js";
import { fileText, quoteName } from "../errors.js";

/** A lowered TF output: a run-time tensor (its name in the builder) or a compile-time constant. */
export type Value = string | ConstValue;

export interface OpContext {
  builder: GraphBuilder;
  node: TfNode;
  inputs: Value[];
  /** Input `i`, which must be a run-time tensor. */
  tensor(i: number): string;
  /** Input `i`, which must be a constant. */
  constant(i: number): ConstValue;
  /** Registers a float constant as a graph weight (once per value) and returns its tensor name. */
  weight(value: ConstValue, name: string): string;
}

export type GraphLowering = (ctx: OpContext) => Value;

const shapeOf = (ctx: OpContext, x: string): number[] => ctx.builder.shapeOf(x);
const values = (c: ConstValue): number[] => Array.from(c.data);

/** A core node named after the TF node (or `name/suffix` for the extra nodes one TF op becomes). */
function emit(ctx: OpContext, op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, suffix?: string): string {
  const name = ctx.builder.unique(suffix ? `${ctx.node.name}/${suffix}` : ctx.node.name);
  return ctx.builder.node(op, name, inputs, attrs);
}

function requireImage(ctx: OpContext, x: string): number[] {
  const shape = shapeOf(ctx, x);
  if (shape.length !== 4) throw new Error(`input [${shape}] is not an NHWC image`);
  return shape;
}

/** Per-channel vector from a scalar or [.., C] constant whose other dimensions are all 1 (and no more than `rank`). */
function channelVector(c: ConstValue, channels: number, rank = 1): Float32Array {
  if (c.shape.length > rank) throw new Error(`constant of shape [${c.shape}] has more dimensions than the tensor it applies to`);
  if (c.data.length === 1) return new Float32Array(channels).fill(c.data[0]);
  if (c.data.length === channels && c.shape[c.shape.length - 1] === channels) return Float32Array.from(c.data);
  throw new Error(`constant of shape [${c.shape}] is neither a scalar nor per-channel (${channels} channels); broadcasting over other axes is not supported`);
}

/** y = x·scale + shift per channel, as a batch_norm node (a pass folds it into a neighbouring conv or dense). */
function affine(ctx: OpContext, x: string, scale: Float32Array | undefined, shift: Float32Array | undefined, suffix?: string): string {
  const c = shapeOf(ctx, x).at(-1)!;
  const base = suffix ? `${ctx.node.name}/${suffix}` : ctx.node.name;
  const s = ctx.builder.constant(ctx.builder.unique(`${base}/scale`), [c], scale ?? new Float32Array(c).fill(1));
  const t = ctx.builder.constant(ctx.builder.unique(`${base}/shift`), [c], shift ?? new Float32Array(c));
  return emit(ctx, "batch_norm", [x, s, t], {}, suffix);
}

/** Inference batch norm from its four constants: scale = γ/√(σ²+ε), shift = β − μ·scale. */
function batchNorm(ctx: OpContext, x: string, [gamma, beta, mean, variance]: ConstValue[], suffix?: string): string {
  const eps = floatAttr(ctx.node, "epsilon", 1e-3);
  const c = shapeOf(ctx, x).at(-1)!;
  const g = channelVector(gamma, c), bt = channelVector(beta, c);
  const scale = Float32Array.from(channelVector(variance, c), (v, i) => g[i] / Math.sqrt(v + eps));
  const shift = Float32Array.from(channelVector(mean, c), (m, i) => bt[i] - m * scale[i]);
  return affine(ctx, x, scale, shift, suffix);
}

const ACTIVATIONS: Record<string, (ctx: OpContext) => { op: string; attrs?: Record<string, AttrValue> }> = {
  Relu: () => ({ op: "relu" }),
  Relu6: () => ({ op: "relu6" }),
  Sigmoid: () => ({ op: "sigmoid" }),
  Tanh: () => ({ op: "tanh" }),
  // A standalone LeakyRelu names its slope `alpha`; a fused one `leakyrelu_alpha`.
  LeakyRelu: (ctx) => ({ op: "leaky_relu", attrs: { alpha: floatAttr(ctx.node, ctx.node.op === "LeakyRelu" ? "alpha" : "leakyrelu_alpha", 0.2) } }),
};

/**
 * Emits a conv/dense `op` followed by the node's `fused_ops`: BiasAdd becomes the bias input, FusedBatchNorm a
 * batch_norm node and activations their own nodes, which the passes fuse back. Extra inputs start at index 2.
 */
function withFusedOps(ctx: OpContext, op: string, inputs: string[], attrs: Record<string, AttrValue>): string {
  let arg = 2;
  let y: string | undefined;
  const primary = (): string => (y ??= emit(ctx, op, inputs, attrs));
  for (const fused of stringListAttr(ctx.node, "fused_ops")) {
    if (fused === "BiasAdd") {
      const bias = ctx.constant(arg++);
      if (y === undefined) inputs.push(ctx.weight(bias, `${ctx.node.name}/bias`));
      else y = affine(ctx, y, undefined, channelVector(bias, shapeOf(ctx, y).at(-1)!, 4), "bias");
    } else if (fused === "FusedBatchNorm") {
      y = batchNorm(ctx, primary(), [0, 1, 2, 3].map((k) => ctx.constant(arg + k)), "batch_norm");
      arg += 4;
    } else if (Object.hasOwn(ACTIVATIONS, fused)) {
      const { op: act, attrs: actAttrs } = ACTIVATIONS[fused](ctx);
      y = emit(ctx, act, [primary()], actAttrs, act);
    } else {
      throw new Error(`fused op ${quoteName(fused)} is not supported (BiasAdd, FusedBatchNorm, ${Object.keys(ACTIVATIONS).join(", ")})`);
    }
  }
  return primary();
}

function convolution(op: "conv2d" | "depthwise_conv2d"): GraphLowering {
  return (ctx) => {
    requireNhwc(ctx.node);
    if (intListAttr(ctx.node, "dilations", [1, 1, 1, 1]).some((d) => d !== 1)) throw new Error("dilations other than 1 are not supported");
    const x = ctx.tensor(0);
    const xs = requireImage(ctx, x);
    const filter = ctx.constant(1);
    if (filter.shape.length !== 4) throw new Error(`filter [${filter.shape}] is not [kh, kw, in, out]`);
    const strides = nhwcWindow(ctx.node, "strides");
    const pads = paddingOf(ctx.node, xs, filter.shape, strides);
    return withFusedOps(ctx, op, [x, ctx.weight(filter, `${ctx.node.name}/filter`)], { strides, pads });
  };
}

/** MatMul of a [1, N] activation by an [N, M] constant (transposed if transpose_b) is a dense layer. */
const matMul: GraphLowering = (ctx) => {
  let x = ctx.tensor(0);
  const b = ctx.constant(1);
  const xs = shapeOf(ctx, x);
  if (xs.length !== 2 || b.shape.length !== 2) throw new Error(`operands [${xs}] and [${b.shape}] must both be matrices`);
  // With batch 1, a transposed [N, 1] activation has the same memory as [1, N].
  if (boolAttr(ctx.node, "transpose_a")) x = emit(ctx, "reshape", [x], { shape: [1, xs[0]] }, "transpose_a");
  else if (xs[0] !== 1) throw new Error(`left operand [${xs}] must have one row (batch 1)`);
  let w = b;
  if (boolAttr(ctx.node, "transpose_b")) {
    const [m, n] = b.shape;
    const data = new Float32Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) data[j * m + i] = b.data[i * n + j];
    w = { dtype: "float32", shape: [n, m], data };
  }
  return withFusedOps(ctx, "dense", [x, ctx.weight(w, `${ctx.node.name}/weights`)], {});
};

function pool(op: "max_pool" | "avg_pool"): GraphLowering {
  return (ctx) => {
    requireNhwc(ctx.node);
    const x = ctx.tensor(0);
    const kernel = nhwcWindow(ctx.node, "ksize"), strides = nhwcWindow(ctx.node, "strides");
    return emit(ctx, op, [x], { pool: kernel, strides, pads: paddingOf(ctx.node, requireImage(ctx, x), kernel, strides) });
  };
}

/** Add/Mul/Sub/RealDiv: of two tensors (add, mul), or of a tensor and a scalar/per-channel constant (batch_norm). */
function arithmetic(kind: "add" | "mul" | "sub" | "div"): GraphLowering {
  return (ctx) => {
    const [a, b] = ctx.inputs;
    if (typeof a === "string" && typeof b === "string") {
      if (kind !== "add" && kind !== "mul") throw new Error(`${fileText(ctx.node.op)} of two run-time tensors is not supported (only with a constant)`);
      if (shapeOf(ctx, a).join() !== shapeOf(ctx, b).join()) throw new Error(`operands [${shapeOf(ctx, a)}] and [${shapeOf(ctx, b)}] differ in shape; broadcasting is not supported`);
      return emit(ctx, kind, [a, b]);
    }
    const tensorFirst = typeof a === "string";
    const x = tensorFirst ? ctx.tensor(0) : ctx.tensor(1);
    const xs = shapeOf(ctx, x);
    const v = channelVector(tensorFirst ? ctx.constant(1) : ctx.constant(0), xs[xs.length - 1], xs.length);
    if (kind === "add") return affine(ctx, x, undefined, v);
    if (kind === "mul") return affine(ctx, x, v, undefined);
    if (kind === "sub") return tensorFirst ? affine(ctx, x, undefined, v.map((t) => -t)) : affine(ctx, x, new Float32Array(v.length).fill(-1), v);
    if (!tensorFirst) throw new Error("dividing a constant by a tensor is not supported");
    return affine(ctx, x, v.map((d) => 1 / d), undefined);
  };
}

/** Maximum/Minimum with a scalar constant bound the tensor: relu for max(x, 0), clamp otherwise. */
function bound(kind: "max" | "min"): GraphLowering {
  return (ctx) => {
    const tensorFirst = typeof ctx.inputs[0] === "string";
    const x = ctx.tensor(tensorFirst ? 0 : 1);
    const c = ctx.constant(tensorFirst ? 1 : 0);
    if (c.data.length !== 1) throw new Error(`the constant [${c.shape}] must be a scalar`);
    const v = c.data[0];
    if (kind === "max" && v === 0) return emit(ctx, "relu", [x]);
    return emit(ctx, "clamp", [x], kind === "max" ? { min: v, max: FLT_MAX } : { min: -FLT_MAX, max: v });
  };
}

function reshapeTo(ctx: OpContext, x: string, shape: number[]): string {
  return shapeOf(ctx, x).join() === shape.join() ? x : emit(ctx, "reshape", [x], { shape });
}

/** The target comes from a Const or a folded Shape→StridedSlice→Pack chain. */
const reshape: GraphLowering = (ctx) => {
  const x = ctx.tensor(0);
  const target = values(ctx.constant(1));
  const known = sizeOf(target.filter((d) => d !== -1));
  // Resolving -1 here lets a no-op reshape vanish; the reshape op still checks the element count.
  return reshapeTo(ctx, x, target.map((d) => (d === -1 ? sizeOf(shapeOf(ctx, x)) / known : d)));
};

const squeeze: GraphLowering = (ctx) => {
  const x = ctx.tensor(0);
  const xs = shapeOf(ctx, x);
  const axes = intListAttr(ctx.node, "squeeze_dims", intListAttr(ctx.node, "axis", [])).map((a) => (a < 0 ? a + xs.length : a));
  if (axes.includes(0)) throw new Error("squeezing the batch dimension is not supported");
  if (axes.some((a) => xs[a] !== 1)) throw new Error(`axes [${axes}] of [${xs}] are not all of size 1`);
  // The batch dimension is unknown (-1) in the TF graph, so an axis-less Squeeze never removes it.
  return reshapeTo(ctx, x, xs.filter((d, i) => i === 0 || (axes.length ? !axes.includes(i) : d !== 1)));
};

const expandDims: GraphLowering = (ctx) => {
  const x = ctx.tensor(0);
  const xs = shapeOf(ctx, x);
  const axis = values(ctx.constant(1))[0];
  const a = axis < 0 ? axis + xs.length + 1 : axis;
  if (a < 1 || a > xs.length) throw new Error(`axis ${axis} must fall after the batch dimension of [${xs}]`);
  return reshapeTo(ctx, x, [...xs.slice(0, a), 1, ...xs.slice(a)]);
};

const pad: GraphLowering = (ctx) => {
  const x = ctx.tensor(0);
  requireImage(ctx, x);
  const p = values(ctx.constant(1));
  if (p.length !== 8 || p[0] || p[1] || p[6] || p[7]) throw new Error(`paddings [${p}] must pad only H and W`);
  if (ctx.node.op === "PadV2" && values(ctx.constant(2)).some((v) => v !== 0)) throw new Error("only zero padding is supported");
  return p.every((v) => v === 0) ? x : emit(ctx, "pad", [x], { pads: [p[2], p[4], p[3], p[5]] });
};

const concatV2: GraphLowering = (ctx) => {
  const n = ctx.inputs.length - 1;
  if (n < 1) throw new Error(`needs at least one tensor and an axis, got ${ctx.inputs.length} inputs`);
  const parts = ctx.inputs.slice(0, n).map((_v, i) => ctx.tensor(i));
  const rank = shapeOf(ctx, parts[0]).length;
  const axis = values(ctx.constant(n))[0];
  if (axis === undefined) throw new Error("the axis constant is empty");
  if ((axis < 0 ? axis + rank : axis) !== rank - 1) throw new Error(`axis ${axis} is not the channel axis; Kiln concatenates channels only`);
  return n === 1 ? parts[0] : emit(ctx, "concat", parts);
};

const mean: GraphLowering = (ctx) => {
  const x = ctx.tensor(0);
  requireImage(ctx, x);
  const axes = values(ctx.constant(1)).map((a) => (a < 0 ? a + 4 : a)).sort((p, q) => p - q);
  if (axes.join() !== "1,2") throw new Error(`mean over axes [${axes}] is not supported; only over H and W (global average pooling)`);
  return emit(ctx, "global_avg_pool", [x], { keepdims: boolAttr(ctx.node, "keep_dims") });
};

const fusedBatchNorm: GraphLowering = (ctx) => {
  requireNhwc(ctx.node);
  if (boolAttr(ctx.node, "is_training")) throw new Error("is_training is set; only inference batch norm is supported");
  return batchNorm(ctx, ctx.tensor(0), [1, 2, 3, 4].map((i) => ctx.constant(i)));
};

function activation(name: string): GraphLowering {
  return (ctx) => {
    const { op, attrs } = ACTIVATIONS[name](ctx);
    return emit(ctx, op, [ctx.tensor(0)], attrs);
  };
}

export const GRAPH_LOWERINGS: Record<string, GraphLowering> = {
  Identity: (ctx) => {
    if (ctx.inputs.length === 0) throw new Error("needs an input #0");
    return ctx.inputs[0];
  },
  Conv2D: convolution("conv2d"),
  _FusedConv2D: convolution("conv2d"),
  DepthwiseConv2dNative: convolution("depthwise_conv2d"),
  FusedDepthwiseConv2dNative: convolution("depthwise_conv2d"),
  MatMul: matMul,
  _FusedMatMul: matMul,
  BiasAdd: (ctx) => { requireNhwc(ctx.node); return arithmetic("add")(ctx); },
  Add: arithmetic("add"),
  AddV2: arithmetic("add"),
  Mul: arithmetic("mul"),
  Sub: arithmetic("sub"),
  RealDiv: arithmetic("div"),
  Maximum: bound("max"),
  Minimum: bound("min"),
  Relu: activation("Relu"),
  Relu6: activation("Relu6"),
  LeakyRelu: activation("LeakyRelu"),
  Sigmoid: activation("Sigmoid"),
  Tanh: activation("Tanh"),
  Softmax: (ctx) => emit(ctx, "softmax", [ctx.tensor(0)]),
  MaxPool: pool("max_pool"),
  AvgPool: pool("avg_pool"),
  Mean: mean,
  Pad: pad,
  PadV2: pad,
  Reshape: reshape,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  ConcatV2: concatV2,
  FusedBatchNorm: fusedBatchNorm,
  FusedBatchNormV2: fusedBatchNorm,
  FusedBatchNormV3: fusedBatchNorm,
};
