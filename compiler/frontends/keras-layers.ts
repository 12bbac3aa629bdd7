// One lowering per Keras layer class: each turns a layer's config and weights into core ops.
import { fileText, KilnError, quoteName } from "../errors.js";
import type { KerasLayer } from "./keras-config.js";
import type { GraphBuilder } from "./builder.js";
import type { NamedWeight } from "./weights.js";
import { padsFor } from "./same-padding.js";
import { describe, MAX_WINDOW } from "../limits.js";

export interface LoweringContext {
  builder: GraphBuilder;
  weight(layer: KerasLayer, short: string): NamedWeight;
  source: string;
}

export type Lowering = (ctx: LoweringContext, layer: KerasLayer, inputs: string[]) => string;

const ACTIVATIONS = ["linear", "relu", "relu6", "sigmoid", "tanh", "softmax"];

const isWindow = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= MAX_WINDOW;

/** A window size, stride or dilation: n or [h, w], integers from 1 to MAX_WINDOW. */
export function pair(v: unknown, what: string, layer: KerasLayer): [number, number] {
  if (isWindow(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every(isWindow)) return [v[0], v[1]];
  throw new KilnError(`layer ${quoteName(layer.name)} (${fileText(layer.className)}): ${what} must be an integer from 1 to ${MAX_WINDOW} or a pair of them, got ${describe(v)}`);
}

/** A boolean config entry (use_bias, center, …), `fallback` when absent. */
export function flag(layer: KerasLayer, key: string, fallback: boolean): boolean {
  const v = layer.config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new KilnError(`layer ${quoteName(layer.name)} (${fileText(layer.className)}): ${key} must be true or false, got ${describe(v)}`);
  return v;
}

/** A finite number config entry (epsilon, alpha, …), `fallback` when absent. */
export function finite(layer: KerasLayer, key: string, fallback: number): number {
  const v = layer.config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new KilnError(`layer ${quoteName(layer.name)} (${fileText(layer.className)}): ${key} must be a number, got ${describe(v)}`);
  return v;
}

function activationName(raw: unknown): string {
  if (typeof raw === "string") return raw;
  if (raw && typeof raw === "object" && typeof (raw as { class_name?: unknown }).class_name === "string") return (raw as { class_name: string }).class_name.toLowerCase();
  return raw === undefined || raw === null ? "linear" : describe(raw);
}

/** Emits `activation` as its own node (a pass fuses it back into the producer). */
export function activate(ctx: LoweringContext, layer: KerasLayer, x: string, raw: unknown, nodeName?: string): string {
  const act = activationName(raw);
  if (!ACTIVATIONS.includes(act)) {
    throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (${fileText(layer.className)}) uses activation ${quoteName(act)}; supported activations: ${ACTIVATIONS.join(", ")}`);
  }
  if (act === "linear") return x;
  return ctx.builder.node(act, nodeName ?? ctx.builder.unique(`${layer.name}/${act}`), [x]);
}

/** The input's shape, which must be an image [1, h, w, c] (window layers compute their padding from h and w). */
export function imageShape(ctx: LoweringContext, layer: KerasLayer, x: string): number[] {
  const shape = ctx.builder.shapeOf(x);
  if (shape.length !== 4) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (${fileText(layer.className)}) gets input [${shape}]; it needs an image [batch, h, w, c]`);
  return shape;
}

export function channelsLast(layer: KerasLayer, ctx: LoweringContext): void {
  const format = layer.config.data_format;
  if (format !== undefined && format !== null && format !== "channels_last") {
    throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (${fileText(layer.className)}) uses data_format ${describe(format)}; only channels_last is supported`);
  }
}

export function paddingMode(layer: KerasLayer, ctx: LoweringContext): "same" | "valid" {
  const raw = layer.config.padding ?? "valid";
  const p = typeof raw === "string" ? raw.toLowerCase() : raw;
  if (p !== "same" && p !== "valid") throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} uses padding ${describe(raw)}; supported: same, valid`);
  return p;
}

const conv2D: Lowering = (ctx, layer, [x]) => {
  channelsLast(layer, ctx);
  const c = layer.config;
  const dilation = pair(c.dilation_rate ?? 1, "dilation_rate", layer);
  if (dilation[0] !== 1 || dilation[1] !== 1) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Conv2D) has dilation_rate [${dilation}]; only 1 is supported`);
  if (c.groups !== undefined && c.groups !== null && c.groups !== 1) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Conv2D) has groups=${describe(c.groups)}; only 1 is supported`);
  const kernel = ctx.weight(layer, "kernel");
  const strides = pair(c.strides ?? 1, "strides", layer);
  const [, h, w] = imageShape(ctx, layer, x);
  const pads = padsFor(paddingMode(layer, ctx), h, w, kernel.shape, strides);
  const inputs = [x, ctx.builder.constant(`${layer.name}/kernel`, kernel.shape, kernel.data)];
  if (flag(layer, "use_bias", true)) {
    const bias = ctx.weight(layer, "bias");
    inputs.push(ctx.builder.constant(`${layer.name}/bias`, bias.shape, bias.data));
  }
  const y = ctx.builder.node("conv2d", layer.name, inputs, { strides, pads });
  return activate(ctx, layer, y, c.activation);
};

const dense: Lowering = (ctx, layer, [x]) => {
  const shape = ctx.builder.shapeOf(x);
  if (shape.length !== 2) {
    throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Dense) gets input [${shape}]; Kiln supports Dense on flat [batch, features] inputs (add a Flatten before it)`);
  }
  const kernel = ctx.weight(layer, "kernel");
  const inputs = [x, ctx.builder.constant(`${layer.name}/kernel`, kernel.shape, kernel.data)];
  if (flag(layer, "use_bias", true)) {
    const bias = ctx.weight(layer, "bias");
    inputs.push(ctx.builder.constant(`${layer.name}/bias`, bias.shape, bias.data));
  }
  const y = ctx.builder.node("dense", layer.name, inputs);
  return activate(ctx, layer, y, layer.config.activation);
};

/** Keras stores the kernel as [kh, kw, cin, depth_multiplier]; output channel ci·dm + m, as the op expects. */
const depthwiseConv2D: Lowering = (ctx, layer, [x]) => {
  channelsLast(layer, ctx);
  const c = layer.config;
  const dilation = pair(c.dilation_rate ?? 1, "dilation_rate", layer);
  if (dilation[0] !== 1 || dilation[1] !== 1) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (DepthwiseConv2D) has dilation_rate [${dilation}]; only 1 is supported`);
  const kernel = ctx.weight(layer, "depthwise_kernel");
  const multiplier = c.depth_multiplier ?? 1;
  if (kernel.shape.length !== 4 || kernel.shape[3] !== multiplier) {
    throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (DepthwiseConv2D) has depth_multiplier ${describe(multiplier)} but its kernel is [${kernel.shape}]`);
  }
  const strides = pair(c.strides ?? 1, "strides", layer);
  const [, h, w] = imageShape(ctx, layer, x);
  const pads = padsFor(paddingMode(layer, ctx), h, w, kernel.shape, strides);
  const inputs = [x, ctx.builder.constant(`${layer.name}/depthwise_kernel`, kernel.shape, kernel.data)];
  if (flag(layer, "use_bias", true)) {
    const bias = ctx.weight(layer, "bias");
    inputs.push(ctx.builder.constant(`${layer.name}/bias`, bias.shape, bias.data));
  }
  const y = ctx.builder.node("depthwise_conv2d", layer.name, inputs, { strides, pads });
  return activate(ctx, layer, y, c.activation);
};

const addLayer: Lowering = (ctx, layer, inputs) => {
  if (inputs.length !== 2) {
    throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Add) has ${inputs.length} inputs; Kiln supports Add of exactly two tensors (chain two Add layers for more)`);
  }
  const [a, b] = inputs.map((t) => ctx.builder.shapeOf(t));
  if (a.join(",") !== b.join(",")) {
    throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Add) adds tensors of shapes [${a}] and [${b}]; Kiln supports Add of identical shapes only (no broadcasting)`);
  }
  return ctx.builder.node("add", layer.name, inputs);
};

/** Keras 3 may set keepdims (output [1, 1, 1, C]); TF.js never does (output [1, C]). */
const globalAveragePooling2D: Lowering = (ctx, layer, [x]) => {
  channelsLast(layer, ctx);
  const shape = ctx.builder.shapeOf(x);
  if (shape.length !== 4) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (GlobalAveragePooling2D) gets input [${shape}]; it needs an image [batch, h, w, c]`);
  return ctx.builder.node("global_avg_pool", layer.name, [x], { keepdims: layer.config.keepdims === true });
};

function pooling(op: "max_pool" | "avg_pool"): Lowering {
  return (ctx, layer, [x]) => {
    channelsLast(layer, ctx);
    const pool = pair(layer.config.pool_size ?? 2, "pool_size", layer);
    const strides = pair(layer.config.strides ?? pool, "strides", layer);
    const [, h, w] = imageShape(ctx, layer, x);
    const pads = padsFor(paddingMode(layer, ctx), h, w, pool, strides);
    return ctx.builder.node(op, layer.name, [x], { pool, strides, pads });
  };
}

const flatten: Lowering = (ctx, layer, [x]) => ctx.builder.node("reshape", layer.name, [x], { shape: [1, -1] });

const reshape: Lowering = (ctx, layer, [x]) => {
  const target = layer.config.target_shape;
  if (!Array.isArray(target) || !target.every((d) => typeof d === "number" && Number.isInteger(d) && (d >= 1 || d === -1))) {
    throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Reshape) has target_shape ${describe(target)}; expected a list of positive sizes (one may be -1)`);
  }
  return ctx.builder.node("reshape", layer.name, [x], { shape: [1, ...target] });
};

/** Inference batch norm is a per-channel scale and shift; the fold-batch-norm pass removes it. */
const batchNormalization: Lowering = (ctx, layer, [x]) => {
  const c = layer.config;
  const shape = ctx.builder.shapeOf(x);
  const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis ?? -1;
  if (axis !== -1 && axis !== shape.length - 1) {
    throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (BatchNormalization) normalises axis ${describe(axis)}; only the channel axis (-1) is supported`);
  }
  const channels = shape[shape.length - 1];
  const vector = (short: string): Float32Array => {
    const w = ctx.weight(layer, short);
    if (w.data.length !== channels) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (BatchNormalization) has ${short} of shape [${w.shape}] for ${channels} channels`);
    return w.data;
  };
  const mean = vector("moving_mean"), variance = vector("moving_variance");
  const gamma = flag(layer, "scale", true) ? vector("gamma") : undefined;
  const beta = flag(layer, "center", true) ? vector("beta") : undefined;
  const eps = finite(layer, "epsilon", 1e-3);
  const scale = Float32Array.from(variance, (v, i) => (gamma ? gamma[i] : 1) / Math.sqrt(v + eps));
  const shift = Float32Array.from(mean, (m, i) => (beta ? beta[i] : 0) - m * scale[i]);
  const n = scale.length;
  return ctx.builder.node("batch_norm", layer.name, [x,
    ctx.builder.constant(`${layer.name}/scale`, [n], scale), ctx.builder.constant(`${layer.name}/shift`, [n], shift)]);
};

export const LAYER_LOWERINGS: Record<string, Lowering> = {
  BatchNormalization: batchNormalization,
  Conv2D: conv2D,
  Dense: dense,
  MaxPooling2D: pooling("max_pool"),
  AveragePooling2D: pooling("avg_pool"),
  DepthwiseConv2D: depthwiseConv2D,
  Add: addLayer,
  GlobalAveragePooling2D: globalAveragePooling2D,
  Flatten: flatten,
  Reshape: reshape,
  Dropout: (ctx, layer, [x]) => ctx.builder.node("identity", layer.name, [x]),
  Activation: (ctx, layer, [x]) => {
    const y = activate(ctx, layer, x, layer.config.activation, layer.name);
    return y === x ? ctx.builder.node("identity", layer.name, [x]) : y;
  },
  Softmax: (ctx, layer, [x]) => ctx.builder.node("softmax", layer.name, [x]),
  InputLayer: (_ctx, _layer, [x]) => x,
};
