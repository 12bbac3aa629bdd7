// Shape ops on run-time tensors: Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Concat, Identity, Dropout.
// They move no data in Kiln: each one changes the ONNX shape and how Kiln's memory maps onto it (lower-values.ts).
import { sizeOf } from "../../ir.js";
import { describe } from "../../limits.js";
import { attrInt, attrInts } from "./lower-attrs.js";
import { relayout, tensorValue, type LowerContext, type OnnxLowering } from "./lower-context.js";
import {
  describeLayout, identityAxes, ints, layoutFor, memoryOrder, normalizeAxis, permutedOrder, sameList,
  type TensorValue,
} from "./lower-values.js";

/** Reshape's target with 0 (copy the input's size, unless allowzero) and one −1 (whatever is left) resolved. */
export function reshapeTarget(shape: readonly number[], target: readonly number[], allowZero: boolean): number[] {
  const resolved = target.map((d, i) => {
    if (d === 0 && !allowZero) {
      if (i >= shape.length) throw new Error(`target [${target}] copies dimension ${i} (a 0), which input [${shape}] does not have`);
      return shape[i];
    }
    return d;
  });
  const free = resolved.filter((d) => d === -1).length;
  if (free > 1 || resolved.some((d) => d < -1 || !Number.isSafeInteger(d))) throw new Error(`target shape ${describe(target)} is not a valid ONNX shape`);
  const known = sizeOf(resolved.filter((d) => d !== -1));
  const total = sizeOf(shape);
  const out = resolved.map((d) => (d === -1 ? (known === 0 ? -1 : total / known) : d));
  if (out.some((d) => d < 0 || !Number.isInteger(d)) || sizeOf(out) !== total) {
    throw new Error(`cannot reshape [${shape}] (${total} values) to ${describe(target)}`);
  }
  return out;
}

export function flattenShape(shape: readonly number[], axisAttr: number): number[] {
  const axis = axisAttr < 0 ? axisAttr + shape.length : axisAttr;
  if (axis < 0 || axis > shape.length) throw new Error(`axis ${axisAttr} is outside [${-shape.length}, ${shape.length}]`);
  return [sizeOf(shape.slice(0, axis)), sizeOf(shape.slice(axis))];
}

/** Squeeze/Unsqueeze axes: the `axes` attribute (opset < 13) or the second input (opset ≥ 13). */
export function axesOf(ctx: LowerContext): number[] | undefined {
  const attr = attrInts(ctx.node, "axes");
  const input = ctx.optionalConstant(1);
  if (attr && input) throw new Error("axes given both as an attribute and as an input");
  return attr ?? (input ? ints(input) : undefined);
}

export function squeezeShape(shape: readonly number[], axesList: number[] | undefined): number[] {
  if (!axesList) return shape.filter((d) => d !== 1);
  const axes = axesList.map((a) => normalizeAxis(a, shape.length));
  const bad = axes.find((a) => shape[a] !== 1);
  if (bad !== undefined) throw new Error(`axis ${bad} of [${shape}] has size ${shape[bad]}, not 1`);
  return shape.filter((_d, i) => !axes.includes(i));
}

export function unsqueezeShape(shape: readonly number[], axesList: number[]): number[] {
  const rank = shape.length + axesList.length;
  const axes = axesList.map((a) => normalizeAxis(a, rank));
  if (new Set(axes).size !== axes.length) throw new Error(`axes ${describe(axesList)} repeat an axis`);
  const out: number[] = [];
  let from = 0;
  for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : shape[from++]);
  return out;
}

/** Transpose's permutation: the `perm` attribute, or all axes reversed. */
export function permOf(ctx: LowerContext, rank: number): number[] {
  const perm = attrInts(ctx.node, "perm") ?? identityAxes(rank).reverse();
  if (perm.length !== rank || !sameList([...perm].sort((a, b) => a - b), identityAxes(rank))) {
    throw new Error(`perm ${describe(perm)} is not a permutation of the ${rank} axes`);
  }
  return perm;
}

/** An ONNX reshape of a run-time tensor: Kiln's memory keeps its order, so only the layout bookkeeping changes. */
export function reshapeValue(ctx: LowerContext, v: TensorValue, target: number[]): TensorValue {
  if (sameList(target, v.shape)) return v;
  return relayout(ctx, v, target, layoutFor(memoryOrder(v), target));
}

const flatten: OnnxLowering = {
  attrs: ["axis"],
  lower: (ctx) => { const x = ctx.tensor(0); return reshapeValue(ctx, x, flattenShape(x.shape, attrInt(ctx.node, "axis", 1))); },
};

const reshape: OnnxLowering = {
  attrs: ["allowzero"],
  lower(ctx) {
    const x = ctx.tensor(0);
    return reshapeValue(ctx, x, reshapeTarget(x.shape, ints(ctx.constant(1)), attrInt(ctx.node, "allowzero", 0) === 1));
  },
};

const squeeze: OnnxLowering = {
  attrs: ["axes"],
  lower: (ctx) => { const x = ctx.tensor(0); return reshapeValue(ctx, x, squeezeShape(x.shape, axesOf(ctx))); },
};

const unsqueeze: OnnxLowering = {
  attrs: ["axes"],
  lower(ctx) {
    const x = ctx.tensor(0);
    const axes = axesOf(ctx);
    if (!axes) throw new Error("needs axes (an attribute before opset 13, the second input from opset 13)");
    return reshapeValue(ctx, x, unsqueezeShape(x.shape, axes));
  },
};

/**
 * A transpose of a run-time tensor is folded into its layout: Kiln's memory stays, the axes are renamed. Image ops
 * then check that they read NCHW as NHWC, so a transpose that would need data movement fails there, by name.
 */
const transpose: OnnxLowering = {
  attrs: ["perm"],
  lower(ctx) {
    const x = ctx.tensor(0);
    const perm = permOf(ctx, x.shape.length);
    const shape = perm.map((a) => x.shape[a]);
    if ("order" in x.layout) {
      if (permutedOrder(x.shape, perm)) throw new Error(`perm [${perm}] reorders ${describeLayout(x)}; Kiln cannot fold that transpose`);
      return tensorValue(x.name, shape, x.layout);
    }
    const inverse = new Array<number>(perm.length);
    perm.forEach((a, j) => { inverse[a] = j; });
    return tensorValue(x.name, shape, { axes: x.layout.axes.map((a) => inverse[a]) });
  },
};

/** Concat of run-time tensors along the axis Kiln holds innermost (channels), all in the same layout. */
const concat: OnnxLowering = {
  attrs: ["axis"],
  lower(ctx) {
    const parts: TensorValue[] = ctx.node.inputs.map((_n, i) => ctx.tensor(i));
    if (parts.length === 0) throw new Error("has no inputs");
    const first = parts[0];
    if (!ctx.node.attrs.has("axis")) throw new Error("needs the attribute 'axis'");
    const axis = normalizeAxis(attrInt(ctx.node, "axis", 0), first.shape.length);
    if (parts.length === 1) return first;
    if (axis === 1 && parts.some((p) => "order" in p.layout) && parts.every((p) => p.shape.length === 2 && p.shape[0] === 1)) return concatRows(ctx, parts);
    for (const p of parts) {
      if (!("axes" in p.layout) || !("axes" in first.layout) || !sameList(p.layout.axes, first.layout.axes)) {
        throw new Error(`inputs are held in different layouts (${describeLayout(first)} and ${describeLayout(p)}); Kiln concatenates same-layout tensors`);
      }
      if (p.shape.length !== first.shape.length || p.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw new Error(`inputs [${first.shape}] and [${p.shape}] differ outside axis ${axis}`);
      }
    }
    if ((first.layout as { axes: number[] }).axes.at(-1) !== axis) {
      throw new Error(`axis ${axis} is not the axis Kiln holds innermost (${describeLayout(first)}); Kiln concatenates channels only`);
    }
    const shape = first.shape.map((d, i) => (i === axis ? parts.reduce((s, p) => s + p.shape[axis], 0) : d));
    return tensorValue(ctx.emit("concat", parts.map((p) => p.name)), shape, first.layout);
  },
};

/**
 * Rows [1, n] of which some are flattened feature maps (torch.cat([a.flatten(1), b.flatten(1)], 1)): Kiln joins its
 * memory as it is, and the result's order says where each ONNX element went, for the Gemm/MatMul that reads it.
 */
function concatRows(ctx: LowerContext, parts: TensorValue[]): TensorValue {
  const total = parts.reduce((s, p) => s + p.shape[1], 0);
  const order = new Int32Array(total);
  let at = 0;
  for (const p of parts) {
    const own = memoryOrder(p);
    for (let k = 0; k < p.shape[1]; k++) order[at + k] = at + (own ? own[k] : k);
    at += p.shape[1];
  }
  return tensorValue(ctx.emit("concat", parts.map((p) => p.name)), [1, total], { order });
}

/** Identity, and Dropout at inference (its ratio and training_mode inputs are checked: training mode is refused). */
const passThrough: OnnxLowering = { attrs: [], lower: (ctx) => ctx.tensor(0) };

const dropout: OnnxLowering = {
  attrs: ["ratio", "is_test", "seed"],
  lower(ctx) {
    const training = ctx.optionalConstant(2);
    if (training && ints(training).some((v) => v !== 0)) throw new Error("training_mode is true; Kiln compiles inference, where Dropout passes its input through");
    return ctx.tensor(0);
  },
};

export const SHAPE_LOWERINGS: Record<string, OnnxLowering> = {
  Flatten: flatten, Reshape: reshape, Squeeze: squeeze, Unsqueeze: unsqueeze, Transpose: transpose, Concat: concat,
  Identity: passThrough, Dropout: dropout,
};

