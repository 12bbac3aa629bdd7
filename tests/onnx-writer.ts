// Writes small ONNX models from a short description with onnx-proto's encoder, and runs them in ONNX Runtime
// (the independent float reference) and through Kiln's ONNX frontend and float reference interpreter.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import type { onnx as Onnx } from "onnx-proto";
import * as ort from "onnxruntime-node";
import type { Graph } from "../compiler/ir.js";
import { readOnnx } from "../compiler/frontends/onnx/reader.js";
import { lowerOnnx } from "../compiler/frontends/onnx/lower.js";
import { runFloat } from "../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../compiler/passes/pipeline.js";
import { checkGraph } from "../compiler/shapes.js";
import { seededRandom } from "./seeded-random.js";

const { onnx } = onnxProto;

/** A float attribute whose value may be a whole number (a bare number that is an integer is written as INT). */
export const float = (f: number): { float: number } => ({ float: f });
export const floatList = (fs: number[]): { floats: number[] } => ({ floats: fs });
type Attr = number | number[] | string | { float: number } | { floats: number[] };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs?: string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, Attr>;
}

export interface Initializer { name: string; dims: number[]; data: ArrayLike<number>; type?: "float" | "int64" }

export interface ModelSpec {
  opset: number;
  input: { name: string; dims: (number | string)[] };
  output: string;
  initializers?: Initializer[];
  nodes: NodeSpec[];
}

function attribute(name: string, v: Attr): Onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === "number") return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ("float" in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}

function tensor(init: Initializer): Onnx.ITensorProto {
  if (init.type === "int64") return { name: init.name, dims: init.dims, dataType: 7, int64Data: Array.from(init.data) };
  return { name: init.name, dims: init.dims, dataType: 1, rawData: new Uint8Array(Float32Array.from(init.data).buffer) };
}

/** The model as .onnx bytes. */
export function onnxBytes(spec: ModelSpec): Uint8Array {
  const valueInfo = (name: string, dims?: (number | string)[]): Onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: 1, ...(dims ? { shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) } } : {}) } },
  });
  const model: Onnx.IModelProto = {
    irVersion: 8,
    producerName: "kiln-tests",
    opsetImport: [{ domain: "", version: spec.opset }],
    graph: {
      name: "test",
      input: [valueInfo(spec.input.name, spec.input.dims)],
      output: [valueInfo(spec.output)],
      initializer: (spec.initializers ?? []).map(tensor),
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `${n.op.toLowerCase()}_${i}`, opType: n.op, domain: n.domain ?? "", input: n.inputs, output: n.outputs ?? [n.name ?? `${n.op.toLowerCase()}_${i}`],
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

let dir: string | undefined;
let serial = 0;

/** Writes the model to a fresh file in a temp folder and returns its path. */
export function writeOnnx(spec: ModelSpec, name = "model"): string {
  dir ??= mkdtempSync(join(tmpdir(), "kiln-onnx-lower-"));
  const path = join(dir, `${name}-${serial++}.onnx`);
  writeFileSync(path, onnxBytes(spec));
  return path;
}

/** Reads and lowers a written model with Kiln's frontend, and checks the graph's consistency. */
export function lowerFile(path: string): Graph {
  const graph = lowerOnnx(readOnnx(path));
  checkGraph(graph);
  return graph;
}

/** `count` values in [lo, hi) from a seeded generator. */
export function randomValues(count: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: count }, () => lo + (hi - lo) * rand());
}

export async function runOrt(bytes: Uint8Array, inputName: string, data: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const result = await session.run({ [inputName]: new ort.Tensor("float32", data, dims) });
  const out = result[session.outputNames[0]];
  return { data: Float32Array.from(out.data as Float32Array), dims: [...out.dims] };
}

/** NCHW → NHWC (rank-4 only; anything else is returned as is). */
export function toNhwc(x: Float32Array, dims: number[]): Float32Array {
  if (dims.length !== 4) return x;
  const [, c, h, w] = dims;
  const y = new Float32Array(x.length);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) y[i * c + ch] = x[ch * h * w + i];
  return y;
}

/** NHWC → NCHW for an ONNX shape [1, C, H, W]. */
export function toNchw(y: Float32Array, dims: number[]): Float32Array {
  if (dims.length !== 4) return y;
  const [, c, h, w] = dims;
  const x = new Float32Array(y.length);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) x[ch * h * w + i] = y[i * c + ch];
  return x;
}

/** Kiln's graph output in ONNX's layout: a feature-map output (NCHW in ONNX) is NHWC in Kiln. */
export function kilnOutputAsOnnx(graph: Graph, y: Float32Array): Float32Array {
  const out = (graph.meta.onnx as { output: { shape: number[]; layout: string } }).output;
  return out.layout.startsWith("NCHW") ? toNchw(y, out.shape) : y;
}

export interface Comparison { ort: Float32Array; kiln: Float32Array; optimized: Float32Array; graph: Graph }

/** One random input through ONNX Runtime and Kiln's float reference, before and after the float passes. */
export async function compareWithOrt(spec: ModelSpec, seed = 1, range: [number, number] = [-1, 1]): Promise<Comparison> {
  const dims = spec.input.dims.map((d) => (typeof d === "number" ? d : 1));
  const x = randomValues(dims.reduce((a, b) => a * b, 1), seed, ...range);
  const bytes = onnxBytes(spec);
  const path = writeOnnx(spec);
  const graph = lowerFile(path);
  const expected = await runOrt(bytes, spec.input.name, x, dims);
  const optimized = runPipeline(graph, FLOAT_PIPELINE, { check: true });
  const input = toNhwc(x, dims);
  return {
    ort: expected.data,
    kiln: kilnOutputAsOnnx(graph, runFloat(graph, input)),
    optimized: kilnOutputAsOnnx(graph, runFloat(optimized, input)),
    graph,
  };
}
