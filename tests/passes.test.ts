// Each pass: the graph it should produce (structure) and unchanged outputs (reference interpreter and TF.js).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../compiler/compile.js";
import { runFloat } from "../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../compiler/passes/pipeline.js";
import { fusePool } from "../compiler/passes/fuse-pool.js";
import { checkGraph } from "../compiler/shapes.js";
import type { Graph } from "../compiler/ir.js";
import { compileAndLoad, maxAbsDiff, saveToTemp, useCpuBackend } from "./helpers.js";

beforeAll(useCpuBackend);

/** Gives every BatchNormalization layer non-trivial statistics, so folding has something to get wrong. */
function randomizeBatchNorms(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    const n = layer.getWeights()[0].shape[0];
    layer.setWeights([
      tf.randomUniform([n], 0.5, 1.5, "float32", seed), tf.randomNormal([n], 0, 0.3, "float32", seed + 1),
      tf.randomNormal([n], 0, 0.5, "float32", seed + 2), tf.randomUniform([n], 0.2, 2, "float32", seed + 3),
    ]);
  }
}

const ops = (g: Graph): string[] => g.nodes.map((n) => (n.fused ?? [n.op]).join("+"));

async function prepare(layers: tf.layers.Layer[], inputShape: number[]) {
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape }));
  layers.forEach((l) => model.add(l));
  randomizeBatchNorms(model, 3);
  const path = await saveToTemp(model);
  const x = tf.randomNormal([1, ...inputShape], 0, 1, "float32", 11);
  const expected = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  const before = loadModel(path);
  const after = runPipeline(before, FLOAT_PIPELINE, { check: true });
  return { path, x: x.dataSync() as Float32Array, expected, before, after };
}

describe("fold-batch-norm", () => {
  it("folds into the preceding conv, then the ReLU fuses", async () => {
    const t = await prepare([tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: "same" }), tf.layers.batchNormalization(), tf.layers.reLU()], [7, 7, 3]);
    expect(ops(t.before)).toEqual(["conv2d", "batch_norm", "relu"]);
    expect(ops(t.after)).toEqual(["conv2d+batch_norm+relu"]);
    expect(maxAbsDiff(runFloat(t.after, t.x), t.expected)).toBeLessThanOrEqual(1e-4);
    const blob = await compileAndLoad(t.path, { quantize: "none" });
    expect(maxAbsDiff(blob.predict(t.x).scores, t.expected)).toBeLessThanOrEqual(1e-4);
  });

  it("folds into the following VALID conv when nothing precedes it", async () => {
    const t = await prepare([tf.layers.batchNormalization(), tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "valid" })], [6, 6, 2]);
    expect(ops(t.after)).toEqual(["batch_norm+conv2d"]);
    expect(maxAbsDiff(runFloat(t.after, t.x), t.expected)).toBeLessThanOrEqual(1e-4);
  });

  it("folds into a dense layer", async () => {
    const t = await prepare([tf.layers.dense({ units: 8 }), tf.layers.batchNormalization(), tf.layers.dense({ units: 3 })], [5]);
    expect(ops(t.after)).toEqual(["dense+batch_norm", "dense"]);
    expect(maxAbsDiff(runFloat(t.after, t.x), t.expected)).toBeLessThanOrEqual(1e-4);
  });

  it("keeps a batch norm before a SAME conv (folding would be inexact at the border), still correct in float", async () => {
    const t = await prepare([tf.layers.batchNormalization(), tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same" })], [5, 5, 2]);
    expect(ops(t.after)).toEqual(["batch_norm", "conv2d"]);
    const blob = await compileAndLoad(t.path, { quantize: "none" });
    expect(maxAbsDiff(blob.predict(t.x).scores, t.expected)).toBeLessThanOrEqual(1e-4);
  });
});

describe("remove-identity and fuse-activation", () => {
  it("drops Dropout and Activation('linear') and fuses relu6 into dense", async () => {
    const t = await prepare([tf.layers.flatten(), tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 6, activation: "relu6" }),
      tf.layers.activation({ activation: "linear" }), tf.layers.dense({ units: 2 })], [3, 3, 2]);
    expect(ops(t.before)).toEqual(["reshape", "identity", "dense", "relu6", "identity", "dense"]);
    expect(ops(t.after)).toEqual(["reshape", "dense+relu6", "dense"]);
    expect(maxAbsDiff(runFloat(t.after, t.x), t.expected)).toBeLessThanOrEqual(1e-4);
  });

  it("leaves an activation whose input has two readers", async () => {
    const input = tf.input({ shape: [4] });
    const d = tf.layers.dense({ units: 4 }).apply(input) as tf.SymbolicTensor;
    const r = tf.layers.reLU().apply(d) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: r });
    const after = runPipeline(loadModel(await saveToTemp(model)), FLOAT_PIPELINE, { check: true });
    expect(ops(after)).toEqual(["dense+relu"]);
  });
});

describe("fuse-pool", () => {
  it("fuses max and avg pools into the conv before them, with the same float outputs", async () => {
    for (const pool of [tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: "same" })]) {
      const t = await prepare([tf.layers.conv2d({ filters: 5, kernelSize: 3, activation: "relu" }), pool], [9, 9, 2]);
      const fused = fusePool(t.after);
      checkGraph(fused);
      expect(ops(fused)).toEqual([`conv2d+relu+${pool.getClassName() === "MaxPooling2D" ? "max_pool" : "avg_pool"}`]);
      expect(maxAbsDiff(runFloat(fused, t.x), t.expected)).toBeLessThanOrEqual(1e-4);
    }
  });

  it("does not fuse an avg pool after relu6 (averaging would not commute with the int8 clamp)", async () => {
    const t = await prepare([tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: "relu6" }), tf.layers.averagePooling2d({ poolSize: 2 })], [6, 6, 1]);
    expect(ops(fusePool(t.after))).toEqual(["conv2d+relu6", "avg_pool"]);
  });
});
