// The peer engines, one thread each: TF.js (cpu, wasm/XNNPACK SIMD) and ONNX Runtime (web/wasm SIMD, node/native CPU).
import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { BenchModel } from "./models.js";
import { nchwFloats, nhwcFloats } from "./models.js";
import type { ExportedOnnx } from "./onnx-export.js";

/** One way to run a model: `run()` does a whole batch-1 inference as a user would call it. */
export interface Engine {
  name: string;
  /** "kiln" rows are Kiln's blobs; the ratio column compares against "peer" rows. */
  kind: "kiln" | "peer";
  /** Called before a block of runs (e.g. to make this engine's TF.js backend the active one). */
  activate?(): Promise<void>;
  /** Untimed, before every run: e.g. rewrite an input that the previous run overwrote. */
  prepare?(): void;
  run(): void | Promise<void>;
  /** The output of the last run, as floats in real units. */
  output(): Float32Array;
  /** Version, backend details, anything worth printing next to the numbers. */
  detail: string;
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  const main = require.resolve(name);
  let dir = dirname(main);
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === name) return pkg.version ?? "?";
    } catch { /* keep walking up */ }
  }
  return "?";
}

/** Reads a LayersModel from disk with TF.js itself (no file:// handler without tfjs-node). */
async function loadTfjs(modelJson: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(modelJson, "utf8")) as {
    modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const all = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(modelJson), p)))));
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

let wasmBackendReady: Promise<void> | undefined;

/** Registers @tensorflow/tfjs-backend-wasm with its .wasm files from node_modules (SIMD, no threads in Node). */
async function initTfjsWasm(): Promise<void> {
  wasmBackendReady ??= (async () => {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    wasm.setWasmPaths(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm")) + "/");
    await tf.setBackend("wasm");
    await tf.ready();
    if (!(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"))) throw new Error("tfjs-backend-wasm: no SIMD support detected");
    if (wasm.getThreadsCount() !== 1) throw new Error(`tfjs-backend-wasm runs ${wasm.getThreadsCount()} threads, not 1`);
  })();
  return wasmBackendReady;
}

/** TF.js on its pure-JS `cpu` backend or on `wasm` (XNNPACK, SIMD, one thread). Each backend gets its own copy of the model. */
export async function tfjsEngine(backend: "cpu" | "wasm", m: BenchModel): Promise<Engine> {
  if (backend === "wasm") await initTfjsWasm();
  await tf.setBackend(backend);
  const model = await loadTfjs(m.modelJson);
  const x = tf.tensor4d(nhwcFloats(m), [1, ...m.shape]);
  let last: Float32Array = new Float32Array(0);
  const version = packageVersion("@tensorflow/tfjs-core");
  return {
    name: backend === "cpu" ? "tfjs cpu" : "tfjs-backend-wasm",
    kind: "peer",
    detail: backend === "cpu" ? `@tensorflow/tfjs ${version}, pure-JS cpu backend` : `@tensorflow/tfjs-backend-wasm ${packageVersion("@tensorflow/tfjs-backend-wasm")}, XNNPACK, SIMD, 1 thread`,
    async activate() { if (tf.getBackend() !== backend) await tf.setBackend(backend); },
    run() {
      const y = model.predict(x) as tf.Tensor;
      last = y.dataSync() as Float32Array;
      y.dispose();
    },
    output: () => last,
  };
}

interface OrtTensor { data: unknown }
interface OrtSession { run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>> }
interface OrtModule {
  env: { wasm: { numThreads?: number; simd?: boolean; proxy?: boolean; wasmPaths?: string } };
  Tensor: new (type: "float32", data: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(bytes: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
}

function ortEngine(name: string, detail: string, ort: OrtModule, session: OrtSession, m: BenchModel, onnx: ExportedOnnx): Engine {
  const feeds = { [onnx.inputName]: new ort.Tensor("float32", nchwFloats(m), onnx.inputShape) };
  let last: Float32Array = new Float32Array(0);
  return {
    name, kind: "peer", detail,
    async run() {
      const out = await session.run(feeds);
      last = out[onnx.outputName].data as Float32Array;
    },
    output: () => last,
  };
}

/** onnxruntime-web's WebAssembly backend in Node: SIMD build, numThreads = 1, no proxy worker. */
export async function ortWebEngine(m: BenchModel, onnx: ExportedOnnx): Promise<Engine> {
  const ort = (await import("onnxruntime-web")) as unknown as OrtModule;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm")) + "/";
  const session = await ort.InferenceSession.create(onnx.bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all", executionMode: "sequential" });
  return ortEngine("onnxruntime-web", `onnxruntime-web ${packageVersion("onnxruntime-web")}, wasm EP, SIMD, 1 thread`, ort, session, m, onnx);
}

/** onnxruntime-node: the native CPU execution provider (MLAS), one intra-op and one inter-op thread. */
export async function ortNodeEngine(m: BenchModel, onnx: ExportedOnnx): Promise<Engine> {
  const ort = require("onnxruntime-node") as OrtModule;
  const session = await ort.InferenceSession.create(onnx.bytes, {
    executionProviders: ["cpu"], graphOptimizationLevel: "all", executionMode: "sequential", intraOpNumThreads: 1, interOpNumThreads: 1,
  });
  return ortEngine("onnxruntime-node", `onnxruntime-node ${packageVersion("onnxruntime-node")}, native CPU EP, 1 thread`, ort, session, m, onnx);
}

/** Largest |a − b| over two equally long outputs (Infinity if the lengths differ). */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

export function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
