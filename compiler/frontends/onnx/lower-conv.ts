// Ops with weights: Conv (group 1, or depthwise), Gemm, MatMul and BatchNormalization, their weights turned from
// ONNX's layouts (OIHW, [K, N] rows in channel-major order) into Kiln's (HWIO, [K, N] rows in NHWC order).
import { sizeOf } from "../../ir.js";
import { attrFloat, attrInt, windowInts, windowOf } from "./lower-attrs.js";
import { affine, asImage, floats, perChannel, tensorValue, type LowerContext, type OnnxLowering } from "./lower-context.js";
import { kilnShape, layoutFor, memoryOrder, NCHW_AXES, sameList, type ConstValue, type TensorValue } from "./lower-values.js";
import { relayout } from "./lower-context.js";

/** A feature map output by a Kiln image op: its Kiln shape is [1, H, W, C], its ONNX shape [1, C, H, W]. */
function featureMap(ctx: LowerContext, name: string): TensorValue {
  const [, h, w, c] = ctx.builder.shapeOf(name);
  return tensorValue(name, [1, c, h, w], { axes: [...NCHW_AXES] });
}

/** The optional bias input: M floats. */
function biasOf(ctx: LowerContext, index: number, m: number, scale = 1): Float32Array | undefined {
  const c = ctx.optionalConstant(index);
  if (!c) return undefined;
  const values = floats(c, "the bias");
  if (values.length === m && c.dims.filter((d) => d !== 1).length <= 1) return scale === 1 ? values : values.map((v) => v * scale);
  if (values.length === 1) return new Float32Array(m).fill(values[0] * scale);
  throw new Error(`bias [${c.dims}] does not match ${m} outputs`);
}

/**
 * Conv: group 1 is Kiln's conv2d with OIHW weights reordered to HWIO; group = input channels is depthwise_conv2d
 * (output channel o = c·multiplier + m reads input channel c, as in Kiln's [kh, kw, C, multiplier] weights).
 */
const conv: OnnxLowering = {
  attrs: ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"],
  lower(ctx) {
    const xv = ctx.tensor(0);
    const x = asImage(ctx, xv);
    const [, c, h, w] = xv.shape;
    const wc = ctx.constant(1);
    if (wc.dims.length !== 4) throw new Error(`weights [${wc.dims}] are not [M, C/group, kH, kW] (Kiln supports 2-D convolutions only)`);
    const [m, perGroup, kh, kw] = wc.dims;
    const kernel = windowInts(ctx.node, "kernel_shape", 2, 1, [kh, kw]);
    if (!sameList(kernel, [kh, kw])) throw new Error(`kernel_shape [${kernel}] differs from the weights' [${kh}, ${kw}]`);
    const group = attrInt(ctx.node, "group", 1);
    const win = windowOf(ctx.node, [kh, kw], h, w);
    const src = floats(wc, "the weights");
    const bias = biasOf(ctx, 2, m);
    let op: "conv2d" | "depthwise_conv2d";
    let shape: number[];
    const data = new Float32Array(src.length);
    if (group === 1) {
      if (perGroup !== c) throw new Error(`weights [${wc.dims}] expect ${perGroup} input channels, the input has ${c}`);
      op = "conv2d";
      shape = [kh, kw, c, m];
      for (let o = 0; o < m; o++) for (let i = 0; i < c; i++) for (let y = 0; y < kh; y++) for (let x2 = 0; x2 < kw; x2++) {
        data[((y * kw + x2) * c + i) * m + o] = src[((o * c + i) * kh + y) * kw + x2];
      }
    } else if (group === c && perGroup === 1 && m % c === 0) {
      op = "depthwise_conv2d";
      shape = [kh, kw, c, m / c];
      for (let o = 0; o < m; o++) for (let t = 0; t < kh * kw; t++) data[t * m + o] = src[o * kh * kw + t];
    } else {
      throw new Error(`group ${group} is not supported: Kiln runs group 1 (a full convolution) and group = input channels (${c}, depthwise); a grouped convolution must be split into convolutions before export`);
    }
    const inputs = [x, ctx.weight("weights", shape, data, ctx.node.inputs[1])];
    if (bias) inputs.push(ctx.weight("bias", [m], bias, ctx.node.inputs[2]));
    return featureMap(ctx, ctx.emit(op, inputs, { strides: win.strides, pads: win.pads }));
  },
};

/**
 * A row vector operand of Gemm/MatMul as a Kiln [1, K] tensor, and the ONNX index of each of its Kiln elements
 * (undefined when in order): a flattened feature map is NHWC in Kiln's memory but CHW in ONNX's.
 */
function rowVector(ctx: LowerContext, v: TensorValue, k: number): { name: string; order: Int32Array | undefined } {
  if (sizeOf(v.shape) !== k) throw new Error(`operand [${v.shape}] is not one row of ${k} values (Kiln compiles batch 1)`);
  const name = sameList(kilnShape(v), [1, k]) ? v.name : ctx.emit("reshape", [v.name], { shape: [1, k] }, "row");
  return { name, order: memoryOrder(v) };
}

/**
 * A dense layer: Kiln weights [K, N] from `at(i, n)` (ONNX's B', row i), rows permuted to the Kiln order of the
 * input, times `alpha`; the result is a plain [1, N] vector.
 */
function dense(ctx: LowerContext, a: TensorValue, k: number, n: number, at: (i: number, j: number) => number, alpha: number, bias: Float32Array | undefined): TensorValue {
  const { name, order } = rowVector(ctx, a, k);
  const w = new Float32Array(k * n);
  for (let r = 0; r < k; r++) {
    const from = order ? order[r] : r;
    for (let j = 0; j < n; j++) w[r * n + j] = alpha === 1 ? at(from, j) : alpha * at(from, j);
  }
  const inputs = [name, ctx.weight("weights", [k, n], w, ctx.node.inputs[1])];
  if (bias) inputs.push(ctx.weight("bias", [n], bias, ctx.node.inputs[2]));
  return tensorValue(ctx.emit("dense", inputs), [1, n], { axes: [0, 1] });
}

function matrix(c: ConstValue, what: string): Float32Array {
  if (c.dims.length !== 2) throw new Error(`${what} [${c.dims}] is not a matrix`);
  return floats(c, what);
}

/** Gemm: Y = alpha·A'·B' + beta·C with A a run-time row (batch 1), B and C constants. */
const gemm: OnnxLowering = {
  attrs: ["alpha", "beta", "transA", "transB"],
  lower(ctx) {
    const a = ctx.tensor(0);
    const b = ctx.constant(1);
    const bData = matrix(b, "B");
    if (a.shape.length !== 2) throw new Error(`A [${a.shape}] is not a matrix`);
    const transA = attrInt(ctx.node, "transA", 0) === 1, transB = attrInt(ctx.node, "transB", 0) === 1;
    const [rows, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
    if (rows !== 1) throw new Error(`A [${a.shape}]${transA ? " (transposed)" : ""} has ${rows} rows; Kiln compiles batch 1`);
    const [bk, n] = transB ? [b.dims[1], b.dims[0]] : b.dims;
    if (bk !== k) throw new Error(`B [${b.dims}]${transB ? " (transposed)" : ""} does not match ${k} columns of A`);
    const alpha = attrFloat(ctx.node, "alpha", 1), beta = attrFloat(ctx.node, "beta", 1);
    const c = ctx.optionalConstant(2);
    if (c && (c.dims.length > 2 || c.dims.some((d, i) => d !== 1 && (i !== c.dims.length - 1 || d !== n)))) {
      throw new Error(`C [${c.dims}] does not broadcast to [1, ${n}] as a scalar or a row`);
    }
    const bias = c && biasOf(ctx, 2, n, beta);
    return dense(ctx, a, k, n, transB ? (i, j) => bData[j * k + i] : (i, j) => bData[i * n + j], alpha, bias);
  },
};

/** MatMul of a run-time row (any rank, every dimension but the last 1) by a constant [K, N] matrix. */
const matMul: OnnxLowering = {
  attrs: [],
  lower(ctx) {
    const a = ctx.tensor(0);
    const b = ctx.constant(1);
    const bData = matrix(b, "the right operand");
    const [k, n] = b.dims;
    if (a.shape.length < 2 || a.shape.at(-1) !== k) throw new Error(`left operand [${a.shape}] does not match the right operand [${b.dims}]`);
    const y = dense(ctx, a, k, n, (i, j) => bData[i * n + j], 1, undefined);
    const shape = [...a.shape.slice(0, -1), n];
    return shape.length === 2 ? y : relayout(ctx, y, shape, layoutFor(undefined, shape), "shape");
  },
};

/** Inference batch normalization along ONNX axis 1: one per-channel scale and shift. */
const batchNormalization: OnnxLowering = {
  attrs: ["epsilon", "momentum", "spatial", "training_mode", "is_test", "consumed_inputs"],
  lower(ctx) {
    if (attrInt(ctx.node, "spatial", 1) !== 1) throw new Error("spatial = 0 (per-element statistics) is not supported");
    if (attrInt(ctx.node, "training_mode", 0) !== 0) throw new Error("training_mode = 1 is not supported; Kiln compiles inference");
    const x = ctx.tensor(0);
    if (x.shape.length < 2) throw new Error(`input [${x.shape}] has no channel axis`);
    const eps = attrFloat(ctx.node, "epsilon", 1e-5);
    const channelDims = [x.shape[1], ...new Array<number>(x.shape.length - 2).fill(1)];
    const vector = (i: number, what: string): Float32Array => {
      const c = ctx.constant(i);
      if (c.data.length !== x.shape[1]) throw new Error(`${what} [${c.dims}] does not have ${x.shape[1]} channels`);
      return perChannel(x, { ...c, dims: channelDims }, what);
    };
    const [gamma, beta, mean, variance] = [vector(1, "scale"), vector(2, "B"), vector(3, "mean"), vector(4, "var")];
    const scale = Float32Array.from(variance, (v, i) => gamma[i] / Math.sqrt(v + eps));
    const shift = Float32Array.from(mean, (mu, i) => beta[i] - mu * scale[i]);
    return tensorValue(affine(ctx, x.name, scale, shift), x.shape, x.layout);
  },
};

export const CONV_LOWERINGS: Record<string, OnnxLowering> = { Conv: conv, Gemm: gemm, MatMul: matMul, BatchNormalization: batchNormalization };
