// Lowerings for the rest of the Keras layer set: separable convs, padding/cropping, merges, LeakyReLU, Rescaling.
import { fileText, KilnError, quoteName } from "../errors.js";
import type { KerasLayer } from "./keras-config.js";
import { activate, channelsLast, finite, flag, pair, paddingMode, type Lowering, type LoweringContext } from "./keras-layers.js";
import { padsFor } from "./same-padding.js";
import { describe } from "../limits.js";

/** Keras padding/cropping specs: n, [h, w], or [[top, bottom], [left, right]] → [top, left, bottom, right]. */
function borders(v: unknown, layer: KerasLayer, what: string): [number, number, number, number] {
  if (typeof v === "number") return [v, v, v, v];
  if (Array.isArray(v) && v.length === 2) {
    if (v.every((x) => typeof x === "number")) return [v[0], v[1], v[0], v[1]];
    if (v.every((x) => Array.isArray(x) && x.length === 2 && x.every((y) => typeof y === "number"))) return [v[0][0], v[1][0], v[0][1], v[1][1]];
  }
  throw new KilnError(`layer ${quoteName(layer.name)} (${fileText(layer.className)}): ${what} ${describe(v)} is not n, [h, w] or [[top, bottom], [left, right]]`);
}

function needImage(ctx: LoweringContext, layer: KerasLayer, x: string): number[] {
  const shape = ctx.builder.shapeOf(x);
  if (shape.length !== 4) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (${fileText(layer.className)}) gets input [${shape}]; it needs an image [batch, h, w, c]`);
  return shape;
}

/** A depthwise conv (no bias) followed by a 1×1 conv carrying the bias and the activation. */
const separableConv2D: Lowering = (ctx, layer, [x]) => {
  channelsLast(layer, ctx);
  const c = layer.config;
  const dilation = pair(c.dilation_rate ?? 1, "dilation_rate", layer);
  if (dilation[0] !== 1 || dilation[1] !== 1) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (SeparableConv2D) has dilation_rate [${dilation}]; only 1 is supported`);
  const depthwise = ctx.weight(layer, "depthwise_kernel");
  const pointwise = ctx.weight(layer, "pointwise_kernel");
  const strides = pair(c.strides ?? 1, "strides", layer);
  const [, h, w] = needImage(ctx, layer, x);
  const pads = padsFor(paddingMode(layer, ctx), h, w, depthwise.shape, strides);
  const dw = ctx.builder.node("depthwise_conv2d", `${layer.name}/depthwise`, [x,
    ctx.builder.constant(`${layer.name}/depthwise_kernel`, depthwise.shape, depthwise.data)], { strides, pads });
  const inputs = [dw, ctx.builder.constant(`${layer.name}/pointwise_kernel`, pointwise.shape, pointwise.data)];
  if (flag(layer, "use_bias", true)) {
    const bias = ctx.weight(layer, "bias");
    inputs.push(ctx.builder.constant(`${layer.name}/bias`, bias.shape, bias.data));
  }
  const y = ctx.builder.node("conv2d", layer.name, inputs, { strides: [1, 1], pads: [0, 0, 0, 0] });
  return activate(ctx, layer, y, c.activation);
};

const zeroPadding2D: Lowering = (ctx, layer, [x]) => {
  channelsLast(layer, ctx);
  needImage(ctx, layer, x);
  return ctx.builder.node("pad", layer.name, [x], { pads: borders(layer.config.padding ?? 1, layer, "padding") });
};

const cropping2D: Lowering = (ctx, layer, [x]) => {
  channelsLast(layer, ctx);
  needImage(ctx, layer, x);
  return ctx.builder.node("crop", layer.name, [x], { crops: borders(layer.config.cropping ?? 0, layer, "cropping") });
};

const globalMaxPooling2D: Lowering = (ctx, layer, [x]) => {
  channelsLast(layer, ctx);
  needImage(ctx, layer, x);
  return ctx.builder.node("global_max_pool", layer.name, [x], { keepdims: flag(layer, "keepdims", false) });
};

const multiply: Lowering = (ctx, layer, inputs) => {
  if (inputs.length !== 2) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Multiply) has ${inputs.length} inputs; Kiln supports exactly two`);
  const [a, b] = inputs.map((t) => ctx.builder.shapeOf(t));
  if (a.join(",") !== b.join(",")) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Multiply) multiplies shapes [${a}] and [${b}]; only identical shapes are supported`);
  return ctx.builder.node("mul", layer.name, inputs);
};

const concatenate: Lowering = (ctx, layer, inputs) => {
  const rank = ctx.builder.shapeOf(inputs[0]).length;
  const axis = layer.config.axis ?? -1;
  if (axis !== -1 && axis !== rank - 1) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Concatenate) joins axis ${describe(axis)}; only the channel axis (-1) is supported`);
  return ctx.builder.node("concat", layer.name, inputs);
};

const leakyReLU: Lowering = (ctx, layer, [x]) => {
  const alpha = layer.config.alpha !== undefined ? finite(layer, "alpha", 0.3) : finite(layer, "negative_slope", 0.3);
  return ctx.builder.node("leaky_relu", layer.name, [x], { alpha });
};

/** ReLU(max_value, negative_slope, threshold): the combinations that map onto core ops. */
export const reluLayer: Lowering = (ctx, layer, [x]) => {
  const hasMax = layer.config.max_value !== undefined && layer.config.max_value !== null;
  const max = finite(layer, "max_value", 0), slope = finite(layer, "negative_slope", 0), threshold = finite(layer, "threshold", 0);
  if (threshold !== 0 || (slope !== 0 && hasMax)) {
    throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (ReLU) with max_value=${max}, negative_slope=${slope}, threshold=${threshold} is not supported; supported: threshold 0 with either max_value or negative_slope`);
  }
  if (slope !== 0) return ctx.builder.node("leaky_relu", layer.name, [x], { alpha: slope });
  if (!hasMax) return ctx.builder.node("relu", layer.name, [x]);
  if (max === 6) return ctx.builder.node("relu6", layer.name, [x]);
  return ctx.builder.node("clamp", layer.name, [x], { min: 0, max });
};

/** y = x·scale + offset, as a per-channel scale/shift that a pass can fold into the next conv or dense. */
const rescaling: Lowering = (ctx, layer, [x]) => {
  const shape = ctx.builder.shapeOf(x);
  const channels = shape[shape.length - 1];
  const expand = (v: unknown, what: string): Float32Array => {
    const values = Array.isArray(v) ? v : [v];
    if (!values.every((x) => typeof x === "number" && Number.isFinite(x))) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Rescaling) ${what} must be a number or a list of numbers, got ${describe(v)}`);
    if (values.length !== 1 && values.length !== channels) throw new KilnError(`${ctx.source}: layer ${quoteName(layer.name)} (Rescaling) ${what} has ${values.length} values for ${channels} channels`);
    return Float32Array.from({ length: channels }, (_v, i) => values[values.length === 1 ? 0 : i]);
  };
  const scale = expand(layer.config.scale ?? 1, "scale"), offset = expand(layer.config.offset ?? 0, "offset");
  return ctx.builder.node("batch_norm", layer.name, [x,
    ctx.builder.constant(`${layer.name}/scale`, [channels], scale), ctx.builder.constant(`${layer.name}/offset`, [channels], offset)]);
};

export const MORE_LAYER_LOWERINGS: Record<string, Lowering> = {
  SeparableConv2D: separableConv2D,
  ZeroPadding2D: zeroPadding2D,
  Cropping2D: cropping2D,
  GlobalMaxPooling2D: globalMaxPooling2D,
  Multiply: multiply,
  Concatenate: concatenate,
  LeakyReLU: leakyReLU,
  ReLU: reluLayer,
  Rescaling: rescaling,
};
