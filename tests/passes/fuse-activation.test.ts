// fuse-activation: a relu/relu6 that alone reads a linear conv or dense output becomes that producer's activation.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/compile.js";
import { runFloat } from "../../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../../compiler/passes/pipeline.js";
import { fuseActivation } from "../../compiler/passes/fuse-activation.js";
import { maxAbsDiff, saveToTemp, useCpuBackend } from "../helpers.js";
import { activation, constant, expectRewrite, expectSameOutputs, expectUnchanged, graphOf, node, ops, type GraphSpec } from "./graph-fixture.js";

beforeAll(useCpuBackend);

const conv = { strides: [1, 1], pads: [0, 0, 0, 0] };
const weights = { w: constant([1, 1, 1, 2], [1, -2]), b: constant([2], [0.5, -0.5]) };

describe("fuse-activation", () => {
  it("sets the conv's activation, records it in fused, and the conv writes the activation's output", () => {
    const before: GraphSpec = {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 3, 3, 1), ...weights, y: activation(1, 3, 3, 2), z: activation(1, 3, 3, 2) },
      nodes: [node("conv", "conv2d", ["x", "w", "b"], ["y"], conv), node("act", "relu6", ["y"], ["z"])],
    };
    const after = expectRewrite(fuseActivation, before, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 3, 3, 1), ...weights, z: activation(1, 3, 3, 2) },
      nodes: [node("conv", "conv2d", ["x", "w", "b"], ["z"], { ...conv, activation: "relu6" }, ["conv2d", "relu6"])],
    });
    expectSameOutputs(graphOf(before), after);
  });

  it("appends to what a dense already absorbed", () => {
    const dense = { w: constant([2, 2], [1, 2, 3, 4]) };
    expectRewrite(fuseActivation, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2), ...dense, y: activation(1, 2), z: activation(1, 2) },
      nodes: [node("d", "dense", ["x", "w"], ["y"], { activation: "linear" }, ["batch_norm", "dense"]), node("act", "relu", ["y"], ["z"])],
    }, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2), ...dense, z: activation(1, 2) },
      nodes: [node("d", "dense", ["x", "w"], ["z"], { activation: "relu" }, ["batch_norm", "dense", "relu"])],
    });
  });

  it("leaves an activation whose input has two readers (built by hand)", () => {
    // y is read by the relu and by the concat: fusing would lose the un-activated y the concat needs.
    expectUnchanged(fuseActivation, {
      inputs: ["x"], outputs: ["s"],
      tensors: { x: activation(1, 3, 3, 1), ...weights, y: activation(1, 3, 3, 2), z: activation(1, 3, 3, 2), s: activation(1, 3, 3, 4) },
      nodes: [node("conv", "conv2d", ["x", "w", "b"], ["y"], conv), node("act", "relu", ["y"], ["z"]), node("cat", "concat", ["z", "y"], ["s"])],
    });
  });

  it("leaves an activation after an already activated producer, after a non-producer, and one reading the graph's output", () => {
    const t = { x: activation(1, 3, 3, 1), ...weights, y: activation(1, 3, 3, 2), z: activation(1, 3, 3, 2) };
    const activated: GraphSpec = {
      inputs: ["x"], outputs: ["z"], tensors: t,
      nodes: [node("conv", "conv2d", ["x", "w", "b"], ["y"], { ...conv, activation: "relu" }), node("act", "relu6", ["y"], ["z"])],
    };
    expectUnchanged(fuseActivation, activated);
    expectUnchanged(fuseActivation, { ...activated, nodes: [node("conv", "conv2d", ["x", "w", "b"], ["y"], conv), node("act", "relu6", ["y"], ["z"])], outputs: ["y"] });
    expectUnchanged(fuseActivation, {
      inputs: ["x"], outputs: ["z"], tensors: { x: activation(1, 4, 4, 2), y: activation(1, 2, 2, 2), z: activation(1, 2, 2, 2) },
      nodes: [node("pool", "max_pool", ["x"], ["y"], { pool: [2, 2], strides: [2, 2] }), node("act", "relu", ["y"], ["z"])],
    });
  });

  it("leaves an activation whose input has two readers (a Keras model), with TF.js's outputs", async () => {
    const input = tf.input({ shape: [4] });
    const d = tf.layers.dense({ units: 4 }).apply(input) as tf.SymbolicTensor;
    const r = tf.layers.reLU().apply(d) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.concatenate().apply([r, d]) as tf.SymbolicTensor });
    const before = loadModel(await saveToTemp(model));
    expect(ops(before)).toEqual(["dense", "relu", "concat"]);
    const after = runPipeline(before, FLOAT_PIPELINE, { check: true });
    expect(ops(after)).toEqual(["dense", "relu", "concat"]);
    const x = tf.randomNormal([1, 4], 0, 1, "float32", 3);
    expect(maxAbsDiff(runFloat(after, x.dataSync() as Float32Array), (model.predict(x) as tf.Tensor).dataSync())).toBeLessThanOrEqual(1e-5);
  });

  it("fuses an activation whose input has one reader (a Keras model)", async () => {
    const input = tf.input({ shape: [4] });
    const d = tf.layers.dense({ units: 4 }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.reLU().apply(d) as tf.SymbolicTensor });
    expect(ops(runPipeline(loadModel(await saveToTemp(model)), FLOAT_PIPELINE, { check: true }))).toEqual(["dense+relu"]);
  });
});
