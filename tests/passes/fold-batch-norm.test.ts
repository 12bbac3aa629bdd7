// fold-batch-norm: a batch norm folds into the conv/dense before it, or else into a padding-free conv/dense after it.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/compile.js";
import { runFloat } from "../../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../../compiler/passes/pipeline.js";
import { foldBatchNorm } from "../../compiler/passes/fold-batch-norm.js";
import { compileAndLoad, maxAbsDiff, saveToTemp, useCpuBackend } from "../helpers.js";
import { activation, constant, expectRewrite, expectSameOutputs, expectUnchanged, graphOf, node, ops, type GraphSpec } from "./graph-fixture.js";

beforeAll(useCpuBackend);

// Values exact in binary, so the folded constants are exact too.
const bn = { s: constant([2], [2, 3]), t: constant([2], [1, -1]) };

describe("fold-batch-norm on hand-built graphs", () => {
  it("folds into the conv before it: w·s and b·s + t per output channel, in new constants", () => {
    const before: GraphSpec = {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2, 2, 1), w: constant([1, 1, 1, 2], [1, 2]), b: constant([2], [0.5, 1]), y: activation(1, 2, 2, 2), ...bn, z: activation(1, 2, 2, 2) },
      nodes: [node("conv", "conv2d", ["x", "w", "b"], ["y"], { strides: [1, 1], pads: [0, 0, 0, 0] }), node("bn", "batch_norm", ["y", "s", "t"], ["z"])],
    };
    const after = expectRewrite(foldBatchNorm, before, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2, 2, 1), "conv/kernel_bn": constant([1, 1, 1, 2], [2, 6]), "conv/bias_bn": constant([2], [2, 2]), z: activation(1, 2, 2, 2) },
      nodes: [node("conv", "conv2d", ["x", "conv/kernel_bn", "conv/bias_bn"], ["z"], { strides: [1, 1], pads: [0, 0, 0, 0] }, ["conv2d", "batch_norm"])],
    });
    expectSameOutputs(graphOf(before), after);
  });

  it("gives a dense without a bias the shift as its bias", () => {
    expectRewrite(foldBatchNorm, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 1), w: constant([1, 2], [4, 5]), y: activation(1, 2), ...bn, z: activation(1, 2) },
      nodes: [node("d", "dense", ["x", "w"], ["y"]), node("bn", "batch_norm", ["y", "s", "t"], ["z"])],
    }, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 1), "d/kernel_bn": constant([1, 2], [8, 15]), "d/bias_bn": constant([2], [1, -1]), z: activation(1, 2) },
      nodes: [node("d", "dense", ["x", "d/kernel_bn", "d/bias_bn"], ["z"], {}, ["dense", "batch_norm"])],
    });
  });

  it("folds into the dense after it when nothing before can take it: w[ci, o]·s[ci], b[o] + Σ w[ci, o]·t[ci]", () => {
    const before: GraphSpec = {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2), ...bn, y: activation(1, 2), w: constant([2, 3], [1, 2, 3, 4, 5, 6]), b: constant([3], [0, 0, 1]), z: activation(1, 3) },
      nodes: [node("bn", "batch_norm", ["x", "s", "t"], ["y"]), node("d", "dense", ["y", "w", "b"], ["z"])],
    };
    const after = expectRewrite(foldBatchNorm, before, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2), "d/kernel_bn": constant([2, 3], [2, 4, 6, 12, 15, 18]), "d/bias_bn": constant([3], [-3, -3, -2]), z: activation(1, 3) },
      nodes: [node("d", "dense", ["x", "d/kernel_bn", "d/bias_bn"], ["z"], {}, ["batch_norm", "dense"])],
    });
    expectSameOutputs(graphOf(before), after);
  });

  it("leaves a batch norm before a padded conv (inexact at the border) and after an activated conv", () => {
    const conv = (pads: number[], activationName = "linear") => ({ strides: [1, 1], pads, activation: activationName });
    expectUnchanged(foldBatchNorm, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2, 2, 2), ...bn, y: activation(1, 2, 2, 2), w: constant([1, 1, 2, 1], [1, 1]), z: activation(1, 4, 4, 1) },
      nodes: [node("bn", "batch_norm", ["x", "s", "t"], ["y"]), node("conv", "conv2d", ["y", "w"], ["z"], conv([1, 1, 1, 1]))],
    });
    expectUnchanged(foldBatchNorm, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2, 2, 1), w: constant([1, 1, 1, 2], [1, 2]), y: activation(1, 2, 2, 2), ...bn, z: activation(1, 2, 2, 2) },
      nodes: [node("conv", "conv2d", ["x", "w"], ["y"], conv([0, 0, 0, 0], "relu")), node("bn", "batch_norm", ["y", "s", "t"], ["z"])],
    });
  });

  it("leaves a batch norm whose input has a second reader and whose output is the graph's", () => {
    expectUnchanged(foldBatchNorm, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 1), w: constant([1, 2], [4, 5]), y: activation(1, 2), ...bn, z: activation(1, 2), r: activation(1, 2) },
      nodes: [node("d", "dense", ["x", "w"], ["y"]), node("relu", "relu", ["y"], ["r"]), node("bn", "batch_norm", ["y", "s", "t"], ["z"])],
    });
  });
});

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

/** A Keras model of `layers` (random batch norm statistics), its TF.js outputs, and the graph before and after the float pipeline. */
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

describe("fold-batch-norm on Keras models, against TF.js", () => {
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
