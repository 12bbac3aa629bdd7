// fold-pad: a zero pad read only by a conv becomes the conv's own padding; any other pad stays.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/compile.js";
import { runFloat } from "../../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../../compiler/passes/pipeline.js";
import { foldPad } from "../../compiler/passes/fold-pad.js";
import { maxAbsDiff, saveToTemp, useCpuBackend } from "../helpers.js";
import { activation, constant, expectRewrite, expectSameOutputs, expectUnchanged, graphOf, node, ops, type GraphSpec } from "./graph-fixture.js";

beforeAll(useCpuBackend);

const weights = { w: constant([2, 2, 1, 1], [1, -1, 2, 0.5]), b: constant([1], [0.25]) };

/** x[1,4,4,1] → pad(pads) → p → conv 2×2 (convPads, stride 1) → y. */
function padThenConv(pads: number[], convPads: number[], op = "conv2d"): GraphSpec {
  const [t, l, b, r] = pads, [ct, cl, cb, cr] = convPads;
  const [h, w] = [4 + t + b, 4 + l + r];
  return {
    inputs: ["x"], outputs: ["y"],
    tensors: { x: activation(1, 4, 4, 1), p: activation(1, h, w, 1), ...weights, y: activation(1, h + ct + cb - 1, w + cl + cr - 1, 1) },
    nodes: [node("pad", "pad", ["x"], ["p"], { pads }), node("conv", op, ["p", "w", "b"], ["y"], { strides: [1, 1], pads: convPads })],
  };
}

describe("fold-pad", () => {
  it("adds the pad's padding to the conv's, side by side, and the conv reads the pad's input", () => {
    const before = padThenConv([1, 2, 0, 3], [0, 1, 1, 0]);
    const after = expectRewrite(foldPad, before, {
      inputs: ["x"], outputs: ["y"],
      tensors: { x: activation(1, 4, 4, 1), ...weights, y: activation(1, 5, 9, 1) },
      nodes: [node("conv", "conv2d", ["x", "w", "b"], ["y"], { strides: [1, 1], pads: [1, 3, 1, 3] }, ["pad", "conv2d"])],
    });
    expectSameOutputs(graphOf(before), after);
  });

  it("folds into a depthwise conv too", () => {
    const before = padThenConv([1, 1, 1, 1], [0, 0, 0, 0], "depthwise_conv2d");
    const after = expectRewrite(foldPad, before, {
      inputs: ["x"], outputs: ["y"],
      tensors: { x: activation(1, 4, 4, 1), ...weights, y: activation(1, 5, 5, 1) },
      nodes: [node("conv", "depthwise_conv2d", ["x", "w", "b"], ["y"], { strides: [1, 1], pads: [1, 1, 1, 1] }, ["pad", "depthwise_conv2d"])],
    });
    expectSameOutputs(graphOf(before), after);
  });

  it("leaves a pad that a pool reads (a pool's border is not zero), that two nodes read, or that is the output", () => {
    expectUnchanged(foldPad, {
      inputs: ["x"], outputs: ["y"], tensors: { x: activation(1, 4, 4, 1), p: activation(1, 6, 6, 1), y: activation(1, 3, 3, 1) },
      nodes: [node("pad", "pad", ["x"], ["p"], { pads: [1, 1, 1, 1] }), node("pool", "max_pool", ["p"], ["y"], { pool: [2, 2], strides: [2, 2] })],
    });
    const conv = { strides: [1, 1], pads: [0, 0, 0, 0] };
    expectUnchanged(foldPad, {
      inputs: ["x"], outputs: ["s"],
      tensors: { x: activation(1, 4, 4, 1), p: activation(1, 6, 6, 1), ...weights, y: activation(1, 5, 5, 1), z: activation(1, 5, 5, 1), s: activation(1, 5, 5, 2) },
      nodes: [node("pad", "pad", ["x"], ["p"], { pads: [1, 1, 1, 1] }), node("conv", "conv2d", ["p", "w", "b"], ["y"], conv),
        node("conv2", "conv2d", ["p", "w", "b"], ["z"], conv), node("cat", "concat", ["y", "z"], ["s"])],
    });
    expectUnchanged(foldPad, { ...padThenConv([1, 1, 1, 1], [0, 0, 0, 0]), outputs: ["p"] });
  });

  it("folds a Keras ZeroPadding2D into the conv after it, with the same outputs", async () => {
    const model = tf.sequential();
    model.add(tf.layers.zeroPadding2d({ inputShape: [6, 5, 2], padding: [[1, 2], [0, 1]] }));
    model.add(tf.layers.conv2d({ filters: 3, kernelSize: 3 }));
    const before = loadModel(await saveToTemp(model));
    expect(ops(before)).toEqual(["pad", "conv2d"]);
    const after = runPipeline(before, FLOAT_PIPELINE, { check: true });
    expect(ops(after)).toEqual(["pad+conv2d"]);
    const x = tf.randomNormal([1, 6, 5, 2], 0, 1, "float32", 5);
    expect(maxAbsDiff(runFloat(after, x.dataSync() as Float32Array), (model.predict(x) as tf.Tensor).dataSync())).toBeLessThanOrEqual(1e-4);
  });
});
