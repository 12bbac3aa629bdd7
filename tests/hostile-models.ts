// Test fixture: writes tiny LayersModel files by hand (no TF.js), so a test can put a hostile value anywhere in them.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Json = Record<string, unknown>;

export interface WeightEntry { name: string; shape: number[]; dtype: string; quantization?: Json }

/** A model.json as a plain object plus its shard files, for a test to mutate before writing. */
export interface ModelFiles {
  json: Json & { modelTopology: { class_name: string; config: { name: string; layers: Json[] } }; weightsManifest: { paths: string[]; weights: WeightEntry[] }[] };
  shards: Map<string, Uint8Array>;
}

/** Deterministic weights in [-0.5, 0.5) (a small LCG: the values only need to be varied and reproducible). */
function weightValues(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

const SHARD = "group1-shard1of1.bin";

/**
 * 8×8×1 → Conv2D 'conv' (4 filters, 3×3, relu) → MaxPooling2D 'pool' (2×2) → Flatten 'flat' → Dense 'dense' (3 units):
 * the layer kinds whose configs carry windows, strides, paddings and activations.
 */
export function tinyModel(name = "tiny"): ModelFiles {
  const specs: [string, number[]][] = [["conv/kernel", [3, 3, 1, 4]], ["conv/bias", [4]], ["dense/kernel", [36, 3]], ["dense/bias", [3]]];
  const weights = specs.map(([n, shape]) => ({ name: n, shape, dtype: "float32" }));
  const data = specs.map(([, shape], i) => weightValues(shape.reduce((a, b) => a * b, 1), i + 1));
  const bytes = new Uint8Array(data.reduce((a, d) => a + d.byteLength, 0));
  let at = 0;
  for (const d of data) { bytes.set(new Uint8Array(d.buffer), at); at += d.byteLength; }
  const layers: Json[] = [
    { class_name: "Conv2D", config: { name: "conv", batch_input_shape: [null, 8, 8, 1], filters: 4, kernel_size: [3, 3], strides: [1, 1], padding: "valid", data_format: "channels_last", activation: "relu", use_bias: true } },
    { class_name: "MaxPooling2D", config: { name: "pool", pool_size: [2, 2], strides: [2, 2], padding: "valid", data_format: "channels_last" } },
    { class_name: "Flatten", config: { name: "flat" } },
    { class_name: "Dense", config: { name: "dense", units: 3, activation: "linear", use_bias: true } },
  ];
  return {
    json: {
      format: "layers-model", generatedBy: "tests/hostile-models.ts",
      modelTopology: { class_name: "Sequential", config: { name, layers } },
      weightsManifest: [{ paths: [SHARD], weights }],
    },
    shards: new Map([[SHARD, bytes]]),
  };
}

/** The config of layer `name` (to mutate). */
export function layerConfig(files: ModelFiles, name: string): Json {
  const layer = files.json.modelTopology.config.layers.find((l) => (l.config as Json).name === name);
  if (!layer) throw new Error(`fixture: no layer '${name}'`);
  return layer.config as Json;
}

/** Renames a layer and its weights, as a model saved with that layer name would have them. */
export function renameLayer(files: ModelFiles, from: string, to: string): void {
  layerConfig(files, from).name = to;
  for (const w of files.json.weightsManifest[0].weights) if (w.name.startsWith(`${from}/`)) w.name = to + w.name.slice(from.length);
}

/** Writes model.json and the shards into `dir`; returns the model.json path. */
export function writeModel(dir: string, files: ModelFiles): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files.shards) writeFileSync(join(dir, name), bytes);
  const path = join(dir, "model.json");
  writeFileSync(path, JSON.stringify(files.json));
  return path;
}

/** Deterministic pixels for calibration and test images. */
export function pixelsFor(count: number, size: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: count * size }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 24;
  });
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** Node names of the tiny graph model, to replace with hostile ones. */
export interface GraphNames { input: string; filter: string; conv: string; relu: string; shape: string; reshape: string; weights: string; matmul: string; output: string }

export const GRAPH_NAMES: GraphNames = {
  input: "x", filter: "conv/filter", conv: "conv/Conv2D", relu: "conv/Relu", shape: "flat/shape",
  reshape: "flat/Reshape", weights: "dense/weights", matmul: "dense/MatMul", output: "Identity",
};

/**
 * A converter-style GraphModel: Placeholder [-1, 8, 8, 1] → Conv2D (3×3, 2 filters) → Relu → Reshape [-1, 72] →
 * MatMul [72, 3] → Identity; the filter and the dense weights live in the shard, the reshape target inline.
 */
export function tinyGraphModel(names: GraphNames = GRAPH_NAMES): ModelFiles {
  const f32 = { type: "DT_FLOAT" };
  const constNode = (name: string, shape: number[]) => ({
    name, op: "Const", attr: { dtype: f32, value: { tensor: { dtype: "DT_FLOAT", tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } },
  });
  const nodes = [
    { name: names.input, op: "Placeholder", attr: { dtype: f32, shape: { shape: { dim: [-1, 8, 8, 1].map((d) => ({ size: String(d) })) } } } },
    constNode(names.filter, [3, 3, 1, 2]),
    { name: names.conv, op: "Conv2D", input: [names.input, names.filter], attr: { T: f32, strides: { list: { i: ["1", "1", "1", "1"] } }, padding: { s: b64("VALID") }, data_format: { s: b64("NHWC") } } },
    { name: names.relu, op: "Relu", input: [names.conv], attr: { T: f32 } },
    { name: names.shape, op: "Const", attr: { dtype: { type: "DT_INT32" }, value: { tensor: { dtype: "DT_INT32", tensorShape: { dim: [{ size: "2" }] }, intVal: [-1, 72] } } } },
    { name: names.reshape, op: "Reshape", input: [names.relu, names.shape], attr: { T: f32 } },
    constNode(names.weights, [72, 3]),
    { name: names.matmul, op: "MatMul", input: [names.reshape, names.weights], attr: { T: f32, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: names.output, op: "Identity", input: [names.matmul], attr: { T: f32 } },
  ];
  const filter = weightValues(18, 11), dense = weightValues(216, 12);
  const bytes = new Uint8Array(filter.byteLength + dense.byteLength);
  bytes.set(new Uint8Array(filter.buffer), 0);
  bytes.set(new Uint8Array(dense.buffer), filter.byteLength);
  return {
    json: {
      format: "graph-model", generatedBy: "tests/hostile-models.ts",
      modelTopology: { node: nodes, library: {}, versions: { producer: 1 } } as never,
      weightsManifest: [{ paths: [SHARD], weights: [
        { name: names.filter, shape: [3, 3, 1, 2], dtype: "float32" },
        { name: names.weights, shape: [72, 3], dtype: "float32" },
      ] }],
    },
    shards: new Map([[SHARD, bytes]]),
  };
}

/** The GraphDef node called `name` in a tiny graph model (to mutate). */
export function graphNode(files: ModelFiles, name: string): Json & { attr: Record<string, Json> } {
  const node = (files.json.modelTopology as unknown as { node: (Json & { name: string; attr: Record<string, Json> })[] }).node.find((n) => n.name === name);
  if (!node) throw new Error(`fixture: no node '${name}'`);
  return node;
}
