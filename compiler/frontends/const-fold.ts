// Constant folding for GraphModels: evaluates nodes whose inputs are all known (weight preprocessing, static shapes).
import { constDtype, intAttr, intListAttr, typeAttr, type ConstValue, type TfNode } from "./tf-attrs.js";
import { shapeProblem } from "../limits.js";
import { fileText } from "../errors.js";

/** A run-time tensor: its values are unknown, but its static shape is (which is all `Shape` needs). */
export interface ShapeOnly {
  shape: number[];
  data?: undefined;
}

export type FoldInput = ConstValue | ShapeOnly;

type Evaluator = (node: TfNode, inputs: ConstValue[]) => ConstValue;

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A folded result's shape, checked before its values are computed (a file must not make Kiln allocate gigabytes). */
function bounded(shape: number[]): number[] {
  const problem = shapeProblem(shape, 0);
  if (problem) throw new Error(`the folded constant's ${problem}`);
  return shape;
}

function make(dtype: ConstValue["dtype"], shape: number[], values: ArrayLike<number>): ConstValue {
  const data = dtype === "float32" ? Float32Array.from(values) : Int32Array.from(values, (v) => Math.trunc(v));
  return { dtype, shape, data };
}

function list(c: ConstValue): number[] {
  return Array.from(c.data);
}

/** Row-major strides of a shape. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** Calls `visit(index, flat)` for every element of `shape` in row-major order. */
function forEachIndex(shape: readonly number[], visit: (index: number[], flat: number) => void): void {
  const total = sizeOf(shape);
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < total; flat++) {
    visit(index, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** A target shape with at most one -1, resolved against `count` elements. */
function resolveShape(target: number[], count: number): number[] {
  const known = sizeOf(target.filter((d) => d !== -1));
  const shape = target.map((d) => (d === -1 ? count / known : d));
  if (target.filter((d) => d === -1).length > 1 || sizeOf(shape) !== count || !shape.every(Number.isInteger)) {
    throw new Error(`cannot reshape ${count} values to [${target}]`);
  }
  return shape;
}

/** Element-wise with NumPy broadcasting (TF's rule for Add, Mul, …); the result keeps the first operand's dtype. */
function broadcastBinary(fn: (a: number, b: number) => number): Evaluator {
  return (_node, [a, b]) => {
    const rank = Math.max(a.shape.length, b.shape.length);
    const pad = (s: number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s];
    const as = pad(a.shape), bs = pad(b.shape);
    const out = as.map((d, i) => {
      if (d !== bs[i] && d !== 1 && bs[i] !== 1) throw new Error(`shapes [${a.shape}] and [${b.shape}] do not broadcast`);
      return d === 1 ? bs[i] : d;
    });
    bounded(out);
    const ast = stridesOf(as), bst = stridesOf(bs);
    const values = new Array<number>(sizeOf(out));
    forEachIndex(out, (index, flat) => {
      let ai = 0, bi = 0;
      for (let d = 0; d < rank; d++) {
        if (as[d] !== 1) ai += index[d] * ast[d];
        if (bs[d] !== 1) bi += index[d] * bst[d];
      }
      values[flat] = fn(a.data[ai], b.data[bi]);
    });
    return make(a.dtype, out, values);
  };
}

/** Concatenation along `axis`: each outer slice copies one contiguous block from every input in turn. */
function concatAlong(parts: ConstValue[], axis: number): ConstValue {
  const first = parts[0].shape;
  const a = normalizeAxis(axis, first.length);
  for (const p of parts) {
    if (p.shape.length !== first.length || p.shape.some((d, i) => i !== a && d !== first[i])) {
      throw new Error(`cannot join shapes ${parts.map((q) => `[${q.shape}]`).join(", ")} along axis ${axis}`);
    }
  }
  const joined = [...first];
  joined[a] = parts.reduce((s, p) => s + p.shape[a], 0);
  bounded(joined);
  const outer = sizeOf(first.slice(0, a));
  const values: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const block = sizeOf(p.shape.slice(a));
      for (let i = 0; i < block; i++) values.push(p.data[o * block + i]);
    }
  }
  const shape = [...first];
  shape[a] = parts.reduce((s, p) => s + p.shape[a], 0);
  return make(parts[0].dtype, shape, values);
}

/** TF StridedSlice with begin/end/shrink masks (the Shape → StridedSlice → Pack idiom); no ellipsis or new axes. */
function stridedSlice(node: TfNode, [x, beginC, endC, stridesC]: ConstValue[]): ConstValue {
  if (intAttr(node, "ellipsis_mask", 0) !== 0 || intAttr(node, "new_axis_mask", 0) !== 0) {
    throw new Error("ellipsis_mask and new_axis_mask are not supported");
  }
  const beginMask = intAttr(node, "begin_mask", 0), endMask = intAttr(node, "end_mask", 0), shrinkMask = intAttr(node, "shrink_axis_mask", 0);
  const begin = list(beginC), end = list(endC), step = list(stridesC);
  const picks: number[][] = [];
  const outShape: number[] = [];
  x.shape.forEach((dim, d) => {
    const s = d < step.length ? step[d] : 1;
    if (s === 0) throw new Error("a stride of 0 is invalid");
    if (d >= begin.length) { picks.push([...Array(dim).keys()]); outShape.push(dim); return; }
    const bit = 1 << d;
    if (shrinkMask & bit) {
      const i = begin[d] < 0 ? begin[d] + dim : begin[d];
      if (i < 0 || i >= dim) throw new Error(`index ${begin[d]} is out of range for a dimension of ${dim}`);
      picks.push([i]);
      return;
    }
    // Explicit bounds clamp to the valid range the way TF does: [0, dim] going forward, [-1, dim-1] going back.
    const clampTo = (v: number): number => {
      const w = v < 0 ? v + dim : v;
      return s > 0 ? Math.min(Math.max(w, 0), dim) : Math.min(Math.max(w, -1), dim - 1);
    };
    const b = beginMask & bit ? (s > 0 ? 0 : dim - 1) : clampTo(begin[d]);
    const e = endMask & bit ? (s > 0 ? dim : -1) : clampTo(end[d]);
    const indices: number[] = [];
    for (let i = b; s > 0 ? i < e : i > e; i += s) indices.push(i);
    picks.push(indices);
    outShape.push(indices.length);
  });
  const xs = stridesOf(x.shape);
  const values: number[] = [];
  forEachIndex(picks.map((p) => p.length), (index) => values.push(x.data[index.reduce((acc, i, d) => acc + picks[d][i] * xs[d], 0)]));
  return make(x.dtype, outShape, values);
}

function transpose(_node: TfNode, [x, permC]: ConstValue[]): ConstValue {
  const perm = list(permC);
  if (perm.length !== x.shape.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) throw new Error(`perm [${perm}] is not a permutation of rank ${x.shape.length}`);
  const out = perm.map((p) => x.shape[p]);
  const xs = stridesOf(x.shape);
  const values = new Array<number>(x.data.length);
  forEachIndex(out, (index, flat) => { values[flat] = x.data[index.reduce((acc, i, d) => acc + i * xs[perm[d]], 0)]; });
  return make(x.dtype, out, values);
}

function squeezeAxes(node: TfNode): number[] {
  return intListAttr(node, "squeeze_dims", intListAttr(node, "axis", []));
}

const EVALUATORS: Record<string, Evaluator> = {
  Identity: (_node, [x]) => x,
  Cast(node, [x]) {
    const target = typeAttr(node, "DstT");
    const dtype = constDtype(target);
    if (!dtype) throw new Error(`cannot cast to ${fileText(target)}`);
    return make(dtype, x.shape, target === "DT_BOOL" ? Array.from(x.data, (v) => (v !== 0 ? 1 : 0)) : x.data);
  },
  Reshape: (_node, [x, shape]) => ({ ...x, shape: resolveShape(list(shape), x.data.length) }),
  ExpandDims(_node, [x, axisC]) {
    const axis = list(axisC)[0];
    const a = axis < 0 ? axis + x.shape.length + 1 : axis;
    if (a < 0 || a > x.shape.length) throw new Error(`axis ${axis} is out of range for rank ${x.shape.length}`);
    return { ...x, shape: [...x.shape.slice(0, a), 1, ...x.shape.slice(a)] };
  },
  Squeeze(node, [x]) {
    const axes = squeezeAxes(node).map((a) => normalizeAxis(a, x.shape.length));
    return { ...x, shape: x.shape.filter((d, i) => (axes.length ? !axes.includes(i) : d !== 1)) };
  },
  Pack(node, parts) {
    const axis = intAttr(node, "axis", 0);
    const a = axis < 0 ? axis + parts[0].shape.length + 1 : axis;
    const expanded = parts.map((p) => ({ ...p, shape: [...p.shape.slice(0, a), 1, ...p.shape.slice(a)] }));
    return concatAlong(expanded, a);
  },
  ConcatV2: (_node, inputs) => concatAlong(inputs.slice(0, -1), list(inputs[inputs.length - 1])[0]),
  StridedSlice: stridedSlice,
  Transpose: transpose,
  Add: broadcastBinary((a, b) => a + b),
  AddV2: broadcastBinary((a, b) => a + b),
  Sub: broadcastBinary((a, b) => a - b),
  Mul: broadcastBinary((a, b) => a * b),
  RealDiv: broadcastBinary((a, b) => a / b),
  Maximum: broadcastBinary((a, b) => Math.max(a, b)),
  Minimum: broadcastBinary((a, b) => Math.min(a, b)),
};

/** How many inputs each evaluator reads at least (1 when not listed); a file may list fewer. */
const LEAST_INPUTS: Record<string, number> = {
  Reshape: 2, ExpandDims: 2, ConcatV2: 2, StridedSlice: 4, Transpose: 2, Add: 2, AddV2: 2, Sub: 2, Mul: 2, RealDiv: 2, Maximum: 2, Minimum: 2,
};

/** Ops this module can evaluate (Shape needs only its input's static shape). */
export const FOLDABLE_OPS = [...Object.keys(EVALUATORS), "Shape"].sort();

/**
 * The node's value if every input it reads is known, else undefined (the node runs at run time).
 * Throws an Error describing the problem if the node is foldable but malformed.
 */
export function foldConstant(node: TfNode, inputs: FoldInput[]): ConstValue | undefined {
  if (node.op === "Shape") {
    if (inputs.length !== 1 || inputs[0].shape.some((d) => d < 0)) return undefined;
    return make("int32", [inputs[0].shape.length], inputs[0].shape);
  }
  const evaluate = Object.hasOwn(EVALUATORS, node.op) ? EVALUATORS[node.op] : undefined;
  if (!evaluate || !inputs.every((i): i is ConstValue => i.data !== undefined)) return undefined;
  const least = Object.hasOwn(LEAST_INPUTS, node.op) ? LEAST_INPUTS[node.op] : 1;
  if (inputs.length < least) throw new Error(`needs ${least} input${least > 1 ? "s" : ""}, got ${inputs.length}`);
  return evaluate(node, inputs);
}
