// Runs one ONNX node test (libonnx-testdata) through Kiln's float path and says whether it passed, was refused, or failed.
//
// A node test feeds every operand as a graph input; Kiln compiles a model with one input and constant weights. So the
// first input stays the model's input and the others (weights, biases, shapes, pads, the second operand) become
// initializers holding the test's own values, which is how an exported model carries them.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { KilnError } from "../compiler/errors.js";
import { sizeOf, type Graph } from "../compiler/ir.js";
import { runFloat } from "../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../compiler/passes/pipeline.js";
import { inputTensorProto, testData, type NodeTest, type TestTensor } from "./onnx-testdata.js";

const { onnx } = onnxProto;

/** |kiln − expected| ≤ TOLERANCE · max(1, |expected|): absolute near zero, relative for large values. */
export const TOLERANCE = 1e-4;

/**
 * Ops whose node tests were written at an opset below Kiln's minimum (7) although their definition has not changed
 * since (GlobalAveragePool-1, GlobalMaxPool-1, HardSigmoid-6 are still current at opset 21): read at opset 7, the
 * same op. Any other test below opset 7 is run as written (and refused).
 */
const UNCHANGED_SINCE: Record<string, number> = { GlobalAveragePool: 1, GlobalMaxPool: 1, HardSigmoid: 6 };

export type Outcome =
  | { kind: "pass"; maxDiff: number; graph: Graph; input: Float32Array; expected: Float32Array }
  | { kind: "reject"; message: string }
  | { kind: "fail"; why: string };

/**
 * Element-wise ops: each output element depends only on the same input element (and on scalars, or on a second operand
 * broadcast to the input's shape). Their node tests use inputs such as [3, 4, 5], which Kiln refuses (batch 3); viewed
 * as one row [1, 60], with a second operand broadcast and viewed alike, the same values must give the same results.
 */
export const ELEMENTWISE_OPS: readonly string[] = ["Relu", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish", "Clip", "Neg", "Dropout", "Identity", "Add", "Sub", "Mul", "Div"];
const BINARY_OPS = ["Add", "Sub", "Mul", "Div"];

/** Whether the test also runs viewed as a row: an element-wise op on a float input that is not a row already. */
export function viewableAsRow(test: NodeTest): boolean {
  if (!ELEMENTWISE_OPS.includes(test.opTypes[0]) || !test.tensorsOnly) return false;
  const x = testData(test).inputs[0];
  return x.dtype === "float32" && !(x.dims.length === 2 && x.dims[0] === 1);
}

/** `t`'s values broadcast (numpy rules) to `dims`, in row-major order. */
export function broadcastTo(t: TestTensor, dims: readonly number[]): number[] {
  const offset = dims.length - t.dims.length;
  if (offset < 0 || t.dims.some((d, i) => d !== 1 && d !== dims[i + offset])) throw new Error(`[${t.dims}] does not broadcast to [${dims}]`);
  const strides = new Array<number>(dims.length).fill(0);
  for (let i = t.dims.length - 1, step = 1; i >= 0; step *= t.dims[i], i--) strides[i + offset] = t.dims[i] === 1 ? 0 : step;
  return Array.from({ length: sizeOf([...dims]) }, (_v, k) => {
    let at = 0;
    for (let d = dims.length - 1, rest = k; d >= 0; rest = Math.floor(rest / dims[d]), d--) at += (rest % dims[d]) * strides[d];
    return t.values[at];
  });
}

const rowShape = (n: number): onnxProto.onnx.ITensorShapeProto => ({ dim: [{ dimValue: 1 }, { dimValue: n }] });

/**
 * The test's model with inputs 1… turned into initializers, written to `dir`; returns its path. `asRow`: the input and
 * outputs declared [1, N], and a binary op's second operand broadcast to the input's shape and stored as [1, N].
 */
export function modelWithConstants(test: NodeTest, dir: string, asRow = false): string {
  const model = onnx.ModelProto.decode(onnx.ModelProto.encode(test.model).finish());
  const graph = model.graph!;
  const inputs = graph.input ?? [];
  const x = asRow ? testData(test).inputs[0] : undefined;
  for (let i = 1; i < inputs.length; i++) {
    let t = inputTensorProto(test, i);
    if (x && BINARY_OPS.includes(test.opTypes[0]) && i === 1) {
      t = onnx.TensorProto.create({ dataType: onnx.TensorProto.DataType.FLOAT, dims: [1, x.values.length], floatData: broadcastTo(testData(test).inputs[1], x.dims) });
    }
    t.name = inputs[i].name ?? "";
    graph.initializer = [...(graph.initializer ?? []), t];
  }
  graph.input = inputs.slice(0, 1);
  if (x) {
    for (const v of [...graph.input, ...(graph.output ?? [])]) if (v.type?.tensorType) v.type.tensorType.shape = rowShape(x.values.length);
  }
  const op = test.opTypes[0];
  if (UNCHANGED_SINCE[op] !== undefined && test.opset >= UNCHANGED_SINCE[op] && test.opset < 7) {
    for (const o of model.opsetImport ?? []) if (!o.domain || o.domain === "ai.onnx") o.version = 7;
  }
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${test.name}${asRow ? "-row" : ""}.onnx`);
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

/** NCHW [n, c, h, w] as Kiln's NHWC [n, h, w, c]. */
export function nhwcShape(dims: readonly number[]): number[] {
  return [dims[0], dims[2], dims[3], dims[1]];
}

/** The tensor's values in Kiln's memory order: NHWC when `nchw` (a feature map), else ONNX's own row-major order. */
export function toKilnOrder(t: TestTensor, nchw: boolean): Float32Array {
  if (!nchw) return Float32Array.from(t.values);
  const [n, c, h, w] = t.dims;
  const out = new Float32Array(t.values.length);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    out[((b * h + y) * w + x) * c + ch] = t.values[((b * c + ch) * h + y) * w + x];
  }
  return out;
}

/**
 * How Kiln holds a model's input or output: the lowering says (graph.meta.onnx) whether it is a feature map held NHWC;
 * the Kiln shape must then be the NHWC of the ONNX dims, and otherwise the ONNX dims themselves (same row-major order).
 */
function kilnLayout(graph: Graph, which: "input" | "output", dims: readonly number[], kilnShape: readonly number[]): { nchw: boolean } | string {
  const meta = graph.meta.onnx as Record<string, { layout?: string }> | undefined;
  const nchw = meta?.[which]?.layout?.startsWith("NCHW") === true;
  const want = nchw && dims.length === 4 ? nhwcShape(dims) : [...dims];
  if (nchw && dims.length !== 4) return `${which} [${dims}] is said to be NCHW`;
  if (want.join() !== kilnShape.join() && !(which === "output" && !nchw && sizeOf(kilnShape) === sizeOf(dims))) {
    return `${which} [${dims}] became Kiln ${which} [${kilnShape}], not [${want}]`;
  }
  return { nchw };
}

/** A Kiln error is a clean refusal when it is one line and not a wrapped JavaScript failure. */
export function cleanRefusal(e: unknown): string | undefined {
  if (!(e instanceof KilnError)) return undefined;
  const m = e.message;
  if (m.includes("\n") || /internal|TypeError|RangeError|is not a function|Cannot read prop|undefined is not|of undefined|of null/.test(m)) return undefined;
  return m;
}

const describeError = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Largest |a − b| / max(1, |b|) (Infinity on a length mismatch or a NaN). */
export function scaledMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(diff <= d)) d = Number.isNaN(diff) ? Infinity : diff;
  }
  return d;
}

/**
 * Loads the test's model with `load` (the ONNX frontend), runs the float passes (with the consistency check) and the
 * float reference interpreter, and compares every output with ONNX's expected one (`asRow`: see modelWithConstants).
 */
export function runNodeTest(test: NodeTest, dir: string, load: (path: string) => Graph, asRow = false): Outcome {
  if (!test.tensorsOnly) {
    // Its data is no TensorProto to compare with; Kiln reads tensors only, so it must refuse the model.
    try {
      load(test.modelPath);
    } catch (e) {
      const refusal = cleanRefusal(e);
      return refusal ? { kind: "reject", message: refusal } : { kind: "fail", why: `not a clean Kiln error: ${describeError(e)}` };
    }
    return { kind: "fail", why: "accepted a model whose inputs or outputs are not tensors" };
  }
  const data = testData(test);
  // Viewed as a row: the same values, declared [1, N] (the second operand is part of the model then).
  const row = (t: TestTensor): TestTensor => ({ ...t, dims: [1, t.values.length] });
  const { inputs, outputs } = asRow ? { inputs: data.inputs.map((t, i) => (i === 0 ? row(t) : t)), outputs: data.outputs.map(row) } : data;
  if (inputs.length !== test.inputNames.length || outputs.length !== test.outputNames.length || outputs.length === 0) {
    return { kind: "fail", why: `test data incomplete (${inputs.length} inputs, ${outputs.length} outputs)` };
  }
  let graph: Graph;
  try {
    graph = runPipeline(load(modelWithConstants(test, dir, asRow)), FLOAT_PIPELINE, { check: true });
  } catch (e) {
    const refusal = cleanRefusal(e);
    return refusal ? { kind: "reject", message: refusal } : { kind: "fail", why: `not a clean Kiln error: ${describeError(e)}` };
  }
  // Accepting the model means computing what it computes: every output of it.
  if (graph.outputs.length !== outputs.length) return { kind: "fail", why: `accepted a model with ${outputs.length} outputs but computes ${graph.outputs.length}` };
  const x = inputs[0], want = outputs[0];
  const inLayout = kilnLayout(graph, "input", x.dims, graph.tensors.get(graph.inputs[0])?.shape ?? []);
  const outLayout = kilnLayout(graph, "output", want.dims, graph.tensors.get(graph.outputs[0])?.shape ?? []);
  if (typeof inLayout === "string") return { kind: "fail", why: inLayout };
  if (typeof outLayout === "string") return { kind: "fail", why: outLayout };
  const input = toKilnOrder(x, inLayout.nchw);
  let actual: Float32Array;
  try {
    actual = runFloat(graph, input);
  } catch (e) {
    return { kind: "fail", why: `float reference threw ${describeError(e)}` };
  }
  const expected = toKilnOrder(want, outLayout.nchw);
  const maxDiff = scaledMaxDiff(actual, expected);
  if (!(maxDiff <= TOLERANCE)) return { kind: "fail", why: `wrong result: max scaled |difference| ${maxDiff} > ${TOLERANCE}` };
  return { kind: "pass", maxDiff, graph, input, expected };
}
