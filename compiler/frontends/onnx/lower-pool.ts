// Pools and padding of feature maps: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Pad.
import { quoteName } from "../../errors.js";
import { attrInt, attrInts, attrString, ceilModeExtra, windowInts, windowOf } from "./lower-attrs.js";
import { asImage, floats, tensorValue, type LowerContext, type OnnxLowering } from "./lower-context.js";
import { ints, NCHW_AXES, normalizeAxis, type TensorValue } from "./lower-values.js";

function featureMap(ctx: LowerContext, name: string): TensorValue {
  const [, h, w, c] = ctx.builder.shapeOf(name);
  return tensorValue(name, [1, c, h, w], { axes: [...NCHW_AXES] });
}

/**
 * MaxPool and AveragePool. Kiln's pools skip out-of-bounds positions: a max never picks padding and an average
 * divides by the in-bounds count, which is ONNX's count_include_pad = 0. count_include_pad = 1 becomes an explicit
 * zero pad before the pool, so the padding is in bounds and counted. ceil_mode adds bottom/right positions that are
 * never in bounds (see ceilModeExtra), so they change only the output size, as in ONNX Runtime.
 */
function pool(kind: "max" | "avg"): OnnxLowering {
  const attrs = ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"];
  return {
    attrs: kind === "max" ? [...attrs, "storage_order"] : [...attrs, "count_include_pad"],
    lower(ctx) {
      const xv = ctx.tensor(0);
      if (xv.shape.length !== 4) throw new Error(`input [${xv.shape}] is not NCHW; Kiln pools 2-D feature maps only`);
      const x = asImage(ctx, xv);
      const [, , h, w] = xv.shape;
      const kernel = windowInts(ctx.node, "kernel_shape", 2, 1) as [number, number];
      const win = windowOf(ctx.node, kernel, h, w);
      const [t, l, b, r] = win.pads;
      if (t >= kernel[0] || b >= kernel[0] || l >= kernel[1] || r >= kernel[1]) {
        throw new Error(`pads [${win.pads}] must be smaller than the kernel ${kernel[0]}×${kernel[1]} (a window of padding alone has no value)`);
      }
      const ceil = attrInt(ctx.node, "ceil_mode", 0);
      if (ceil !== 0 && ceil !== 1) throw new Error(`ceil_mode ${ceil} is neither 0 nor 1`);
      const [eh, ew] = ceil ? ceilModeExtra(win, h, w) : [0, 0];
      const includePad = kind === "avg" && attrInt(ctx.node, "count_include_pad", 0) !== 0;
      let input = x;
      let pads = [t, l, b + eh, r + ew];
      if (includePad && (t || l || b || r)) {
        input = ctx.emit("pad", [x], { pads: win.pads }, "pad");
        pads = [0, 0, eh, ew];
      }
      return featureMap(ctx, ctx.emit(kind === "max" ? "max_pool" : "avg_pool", [input], { pool: kernel, strides: win.strides, pads }));
    },
  };
}

function globalPool(op: "global_avg_pool" | "global_max_pool"): OnnxLowering {
  return {
    attrs: [],
    lower(ctx) {
      const xv = ctx.tensor(0);
      if (xv.shape.length !== 4) throw new Error(`input [${xv.shape}] is not NCHW; Kiln pools 2-D feature maps only`);
      return featureMap(ctx, ctx.emit(op, [asImage(ctx, xv)], { keepdims: true }));
    },
  };
}

/**
 * Pad with zeros (mode "constant", value 0) of H and W only: positive pads become Kiln's pad, negative ones (ONNX
 * crops with them) its crop. pads come from the attribute (opset < 11) or the second input, optionally per `axes`.
 */
const pad: OnnxLowering = {
  attrs: ["mode", "pads", "value"],
  lower(ctx) {
    const mode = attrString(ctx.node, "mode", "constant");
    if (mode !== "constant") throw new Error(`mode ${quoteName(mode)} is not supported (only constant zero padding)`);
    const x = ctx.tensor(0);
    const rank = x.shape.length;
    const value = ctx.node.attrs.has("value") ? attrFloatOrZero(ctx) : ctx.optionalConstant(2) ? floats(ctx.constant(2), "the constant value")[0] : 0;
    if (value !== 0) throw new Error(`pads with ${value}; Kiln pads with zeros only`);
    const given = attrInts(ctx.node, "pads") ?? (ctx.optionalConstant(1) ? ints(ctx.constant(1)) : undefined);
    if (!given) throw new Error("needs pads");
    const axes = ctx.optionalConstant(3) ? ints(ctx.constant(3)).map((a) => normalizeAxis(a, rank)) : Array.from({ length: rank }, (_v, i) => i);
    if (given.length !== 2 * axes.length) throw new Error(`pads has ${given.length} entries for ${axes.length} axes`);
    const begin = new Array<number>(rank).fill(0), end = new Array<number>(rank).fill(0);
    axes.forEach((a, i) => { begin[a] = given[i]; end[a] = given[i + axes.length]; });
    if (begin.every((p) => p === 0) && end.every((p) => p === 0)) return x;
    if (rank !== 4 || begin[0] || begin[1] || end[0] || end[1]) throw new Error(`pads [${given}] pad more than H and W of an NCHW tensor; Kiln pads H and W only`);
    const shape = x.shape.map((d, i) => d + begin[i] + end[i]);
    if (shape.some((d) => d < 1)) throw new Error(`pads [${given}] leave nothing of [${x.shape}]`);
    let y = asImage(ctx, x);
    const grow = [begin[2], begin[3], end[2], end[3]].map((p) => Math.max(p, 0));
    const shrink = [begin[2], begin[3], end[2], end[3]].map((p) => Math.max(-p, 0));
    if (grow.some((p) => p > 0)) y = ctx.emit("pad", [y], { pads: grow }, shrink.some((p) => p > 0) ? "pad" : undefined);
    if (shrink.some((p) => p > 0)) y = ctx.emit("crop", [y], { crops: shrink });
    return featureMap(ctx, y);
  },
};

function attrFloatOrZero(ctx: LowerContext): number {
  const v = ctx.node.attrs.get("value");
  if (typeof v !== "number") throw new Error("attribute 'value' is not a number");
  return v;
}

export const POOL_LOWERINGS: Record<string, OnnxLowering> = {
  MaxPool: pool("max"),
  AveragePool: pool("avg"),
  GlobalAveragePool: globalPool("global_avg_pool"),
  GlobalMaxPool: globalPool("global_max_pool"),
  Pad: pad,
};
