// Shared test helpers: temp dirs, saving TF.js models, compiling and loading blobs, comparing outputs.
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { saveLayersModel } from "../models/save-model.js";
import { expect } from "vitest";
import { compileFile, DEFAULT_COMPILE_OPTIONS, loadModel, type CompileOptions } from "../compiler/compile.js";
import { runFloat } from "../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../compiler/passes/pipeline.js";
import { checkGraph } from "../compiler/shapes.js";
import { Model } from "../runtime/model.js";

export function tempDir(prefix = "kiln-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function useCpuBackend(): Promise<void> {
  await tf.setBackend("cpu");
}

/** Saves a TF.js model in a fresh folder and returns the path of its model.json. */
export async function saveToTemp(model: tf.LayersModel): Promise<string> {
  const dir = tempDir();
  await saveLayersModel(model, dir);
  return join(dir, "model.json");
}

export async function compileAndLoad(modelJson: string, options: Partial<CompileOptions> = {}): Promise<Model> {
  const compiled = await compileFile(modelJson, { ...DEFAULT_COMPILE_OPTIONS, ...options });
  return Model.load(compiled.wasm);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

export { seededRandom } from "./seeded-random.js";

/** Loads a model.json + shards from disk with TF.js itself (the independent reference). */
export async function loadTfjsLayersModel(modelJson: string): Promise<tf.LayersModel> {
  const { readFileSync } = await import("node:fs");
  const { dirname } = await import("node:path");
  const json = JSON.parse(readFileSync(modelJson, "utf8")) as {
    modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const buffers = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(modelJson), p))));
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

/** The float reference interpreter, before and after the float passes, against expected outputs (e.g. TF.js). */
export function expectFloatReferenceMatches(modelJson: string, inputs: Float32Array[], expected: ArrayLike<number>[], tolerance: number): void {
  const graph = loadModel(modelJson);
  checkGraph(graph);
  const optimized = runPipeline(graph, FLOAT_PIPELINE, { check: true });
  inputs.forEach((x, i) => {
    expect(maxAbsDiff(runFloat(graph, x), expected[i])).toBeLessThanOrEqual(tolerance);
    expect(maxAbsDiff(runFloat(optimized, x), expected[i])).toBeLessThanOrEqual(tolerance);
  });
}
