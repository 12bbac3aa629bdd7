// Compile-time evaluation of ONNX ops on constants: the shape subgraphs exporters write (PyTorch's x.view(x.size(0), -1)
// is Shape → Gather → Unsqueeze → Concat → Reshape) fold to a constant target shape before anything is lowered.
import { sizeOf } from "../../ir.js";
import { describe, MAX_RANK, MAX_TENSOR_ELEMENTS } from "../../limits.js";
import type { OnnxDtype, OnnxTensor } from "./model.js";
import { attrInt, attrInts } from "./lower-attrs.js";
import type { LowerContext } from "./lower-context.js";
import { axesOf, flattenShape, permOf, reshapeTarget, squeezeShape, unsqueezeShape } from "./lower-shape.js";
import { ints, normalizeAxis, permutedOrder, rowMajorStrides, type ConstValue } from "./lower-values.js";

export interface ConstFold {
  attrs: readonly string[];
  /** Every present input is a constant, except Shape's, which only needs its input's shape. */
  fold(ctx: LowerContext): ConstValue;
}

/** A folded constant, bounded like every tensor Kiln holds; float results are float32, integers exact numbers. */
export function constant(dims: number[], dtype: OnnxDtype, data: ArrayLike<number>): ConstValue {
  if (dims.length > MAX_RANK || sizeOf(dims) > MAX_TENSOR_ELEMENTS) throw new Error(`the folded constant [${dims}] is larger than Kiln's limits`);
  if (data.length !== sizeOf(dims)) throw new Error(`internal: ${data.length} values for [${dims}]`);
  return { kind: "const", dims, dtype, data: dtype === "float32" && !(data instanceof Float32Array) ? Float32Array.from(data) : data };
}

export function fromOnnxTensor(t: OnnxTensor): ConstValue {
  return constant([...t.dims], t.dtype, t.data);
}

const withDims = (c: ConstValue, dims: number[]): ConstValue => constant(dims, c.dtype, c.data);

/** Numpy-style broadcasting of two constants through `fn` (float32 if either is float, else exact integers). */
function broadcast(a: ConstValue, b: ConstValue, fn: (x: number, y: number, float: boolean) => number): ConstValue {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: number[]): number[] => [...new Array<number>(rank - d.length).fill(1), ...d];
  const da = pad(a.dims), db = pad(b.dims);
  const dims = da.map((d, i) => {
    if (d !== db[i] && d !== 1 && db[i] !== 1) throw new Error(`constants [${a.dims}] and [${b.dims}] do not broadcast`);
    return d === 1 ? db[i] : d;
  });
  if (sizeOf(dims) > MAX_TENSOR_ELEMENTS) throw new Error(`the folded constant [${dims}] is larger than Kiln's limits`);
  const sa = rowMajorStrides(da).map((s, i) => (da[i] === 1 ? 0 : s)), sb = rowMajorStrides(db).map((s, i) => (db[i] === 1 ? 0 : s));
  const float = a.dtype === "float32" || b.dtype === "float32";
  const out = new Array<number>(sizeOf(dims));
  const index = new Array<number>(rank).fill(0);
  let ia = 0, ib = 0;
  for (let k = 0; k < out.length; k++) {
    out[k] = fn(Number(a.data[ia]), Number(b.data[ib]), float);
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++; ia += sa[d]; ib += sb[d];
      if (index[d] < dims[d]) break;
      ia -= sa[d] * dims[d]; ib -= sb[d] * dims[d]; index[d] = 0;
    }
  }
  return constant(dims, float ? "float32" : a.dtype, out);
}

function arithmetic(fn: (x: number, y: number) => number, integer: (x: number, y: number) => number = fn): ConstFold {
  return { attrs: [], fold: (ctx) => broadcast(ctx.constant(0), ctx.constant(1), (x, y, float) => (float ? Math.fround(fn(x, y)) : integer(x, y))) };
}

const gather: ConstFold = {
  attrs: ["axis"],
  fold(ctx) {
    const data = ctx.constant(0), indices = ints(ctx.constant(1)), indexDims = ctx.constant(1).dims;
    const axis = normalizeAxis(attrInt(ctx.node, "axis", 0), data.dims.length);
    const n = data.dims[axis], outer = sizeOf(data.dims.slice(0, axis)), inner = sizeOf(data.dims.slice(axis + 1));
    const dims = [...data.dims.slice(0, axis), ...indexDims, ...data.dims.slice(axis + 1)];
    if (sizeOf(dims) > MAX_TENSOR_ELEMENTS) throw new Error(`the folded constant [${dims}] is larger than Kiln's limits`);
    const out: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const raw of indices) {
        if (raw < -n || raw >= n) throw new Error(`index ${raw} is outside [${-n}, ${n - 1}]`);
        const at = (o * n + (raw < 0 ? raw + n : raw)) * inner;
        for (let i = 0; i < inner; i++) out.push(Number(data.data[at + i]));
      }
    }
    return constant(dims, data.dtype, out);
  },
};

const concat: ConstFold = {
  attrs: ["axis"],
  fold(ctx) {
    const parts = ctx.node.inputs.map((_n, i) => ctx.constant(i));
    const rank = parts[0].dims.length;
    const axis = normalizeAxis(attrInt(ctx.node, "axis", 0), rank);
    for (const p of parts) {
      if (p.dims.length !== rank || p.dims.some((d, i) => i !== axis && d !== parts[0].dims[i])) throw new Error(`constants [${parts[0].dims}] and [${p.dims}] differ outside axis ${axis}`);
    }
    const dims = parts[0].dims.map((d, i) => (i === axis ? parts.reduce((s, p) => s + p.dims[axis], 0) : d));
    if (sizeOf(dims) > MAX_TENSOR_ELEMENTS) throw new Error(`the folded constant [${dims}] is larger than Kiln's limits`);
    const outer = sizeOf(dims.slice(0, axis)), inner = sizeOf(dims.slice(axis + 1));
    const out: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const p of parts) {
        const block = p.dims[axis] * inner;
        for (let i = 0; i < block; i++) out.push(Number(p.data[o * block + i]));
      }
    }
    return constant(dims, parts[0].dtype, out);
  },
};

/** Slice with ONNX's clamping rules, from attributes (opset < 10) or inputs (starts, ends, axes, steps). */
const slice: ConstFold = {
  attrs: ["starts", "ends", "axes"],
  fold(ctx) {
    const data = ctx.constant(0);
    const fromAttrs = ctx.node.attrs.has("starts");
    const list = (i: number, attr: string): number[] | undefined => (fromAttrs ? attrInts(ctx.node, attr) : ctx.optionalConstant(i) && ints(ctx.constant(i)));
    const starts = list(1, "starts"), ends = list(2, "ends");
    if (!starts || !ends || starts.length !== ends.length) throw new Error("needs starts and ends of the same length");
    const axes = (list(3, "axes") ?? starts.map((_s, i) => i)).map((a) => normalizeAxis(a, data.dims.length));
    const steps = (fromAttrs ? undefined : ctx.optionalConstant(4) && ints(ctx.constant(4))) ?? starts.map(() => 1);
    if (axes.length !== starts.length || steps.length !== starts.length) throw new Error("starts, ends, axes and steps differ in length");
    const first = data.dims.map(() => 0), step = data.dims.map(() => 1), dims = [...data.dims];
    axes.forEach((a, i) => {
      const n = data.dims[a], s = steps[i];
      if (s === 0) throw new Error("a step of 0");
      let b = starts[i] < 0 ? starts[i] + n : starts[i], e = ends[i] < 0 ? ends[i] + n : ends[i];
      if (s > 0) { b = Math.min(Math.max(b, 0), n); e = Math.min(Math.max(e, 0), n); } else { b = Math.min(Math.max(b, 0), n - 1); e = Math.min(Math.max(e, -1), n - 1); }
      first[a] = b; step[a] = s; dims[a] = Math.max(0, Math.ceil((e - b) / s));
    });
    const strides = rowMajorStrides(data.dims);
    const out: number[] = [];
    const index = dims.map(() => 0);
    for (let k = 0; k < sizeOf(dims); k++) {
      out.push(Number(data.data[index.reduce((at, j, d) => at + (first[d] + j * step[d]) * strides[d], 0)]));
      for (let d = dims.length - 1; d >= 0 && ++index[d] >= dims[d]; d--) index[d] = 0;
    }
    return constant(dims, data.dtype, out);
  },
};

/** ONNX TensorProto element types Cast may produce here. */
const CAST_TO: Record<number, OnnxDtype> = { 1: "float32", 6: "int32", 7: "int64", 9: "bool" };

const cast: ConstFold = {
  attrs: ["to", "saturate"],
  fold(ctx) {
    const c = ctx.constant(0), to = attrInt(ctx.node, "to", 0);
    const dtype = Object.hasOwn(CAST_TO, to) ? CAST_TO[to] : undefined;
    if (!dtype) throw new Error(`Cast to type ${to} is not supported at compile time (float, int32, int64, bool)`);
    const values = Array.from(c.data, (v) => (dtype === "float32" ? v : dtype === "bool" ? (v !== 0 ? 1 : 0) : Math.trunc(v)));
    if (dtype !== "float32" && values.some((v) => !Number.isSafeInteger(v))) throw new Error("casts a value that is not a safe integer");
    return constant([...c.dims], dtype, values);
  },
};

const shape: ConstFold = {
  attrs: ["start", "end"],
  fold(ctx) {
    const input = ctx.optional(0);
    if (!input) throw new Error("needs an input #0");
    const dims = input.kind === "const" ? input.dims : input.shape;
    const clampTo = (v: number): number => Math.min(Math.max(v < 0 ? v + dims.length : v, 0), dims.length);
    const picked = dims.slice(clampTo(attrInt(ctx.node, "start", 0)), clampTo(attrInt(ctx.node, "end", dims.length)));
    return constant([picked.length], "int64", picked);
  },
};

const constantOfShape: ConstFold = {
  attrs: ["value"],
  fold(ctx) {
    const dims = ints(ctx.constant(0));
    if (dims.some((d) => !Number.isSafeInteger(d) || d < 0) || dims.length > MAX_RANK || sizeOf(dims) > MAX_TENSOR_ELEMENTS) throw new Error(`shape ${describe(dims)} is not a shape Kiln can hold`);
    const value = ctx.node.attrs.get("value") as OnnxTensor | undefined;
    const fill = value && typeof value === "object" && !Array.isArray(value) ? fromOnnxTensor(value) : constant([1], "float32", [0]);
    if (fill.data.length !== 1) throw new Error("value must hold one element");
    return constant(dims, fill.dtype, new Array<number>(sizeOf(dims)).fill(Number(fill.data[0])));
  },
};

/** A Constant node the reader left (it turns them into initializers): its `value` tensor or one of the typed forms. */
const constantNode: ConstFold = {
  attrs: ["value", "value_float", "value_floats", "value_int", "value_ints"],
  fold(ctx) {
    const a = ctx.node.attrs;
    const value = a.get("value");
    if (value && typeof value === "object" && !Array.isArray(value)) return fromOnnxTensor(value);
    const v = a.get("value_float") ?? a.get("value_floats") ?? a.get("value_int") ?? a.get("value_ints");
    const float = a.has("value_float") || a.has("value_floats");
    if (typeof v === "number") return constant([], float ? "float32" : "int64", [v]);
    if (Array.isArray(v) && v.every((x) => typeof x === "number")) return constant([v.length], float ? "float32" : "int64", v as number[]);
    throw new Error("has no value Kiln reads (value, value_float(s), value_int(s))");
  },
};

export const CONST_FOLDS: Record<string, ConstFold> = {
  Shape: shape,
  Gather: gather,
  Concat: concat,
  Slice: slice,
  Cast: cast,
  ConstantOfShape: constantOfShape,
  Constant: constantNode,
  Unsqueeze: { attrs: ["axes"], fold: (ctx) => withDims(ctx.constant(0), unsqueezeShape(ctx.constant(0).dims, axesOf(ctx) ?? [])) },
  Squeeze: { attrs: ["axes"], fold: (ctx) => withDims(ctx.constant(0), squeezeShape(ctx.constant(0).dims, axesOf(ctx))) },
  Flatten: { attrs: ["axis"], fold: (ctx) => withDims(ctx.constant(0), flattenShape(ctx.constant(0).dims, attrInt(ctx.node, "axis", 1))) },
  Reshape: {
    attrs: ["allowzero"],
    fold: (ctx) => withDims(ctx.constant(0), reshapeTarget(ctx.constant(0).dims, ints(ctx.constant(1)), attrInt(ctx.node, "allowzero", 0) === 1)),
  },
  Transpose: {
    attrs: ["perm"],
    fold(ctx) {
      const c = ctx.constant(0), perm = permOf(ctx, c.dims.length);
      const order = permutedOrder(c.dims, perm);
      return constant(perm.map((a) => c.dims[a]), c.dtype, order ? Array.from(order, (i) => Number(c.data[i])) : c.data);
    },
  },
  Identity: { attrs: [], fold: (ctx) => ctx.constant(0) },
  Add: arithmetic((x, y) => x + y),
  Sub: arithmetic((x, y) => x - y),
  Mul: arithmetic((x, y) => x * y),
  Div: arithmetic((x, y) => x / y, (x, y) => {
    if (y === 0) throw new Error("integer division by zero");
    return Math.trunc(x / y);
  }),
  Neg: { attrs: [], fold: (ctx) => { const c = ctx.constant(0); return constant([...c.dims], c.dtype, Array.from(c.data, (v) => -v)); } },
};
