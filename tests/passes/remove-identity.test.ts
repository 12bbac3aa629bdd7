// remove-identity: identity nodes (Dropout at inference, linear Activation) disappear and their readers are rewired.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/compile.js";
import { runFloat } from "../../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../../compiler/passes/pipeline.js";
import { removeIdentity } from "../../compiler/passes/remove-identity.js";
import { maxAbsDiff, saveToTemp, useCpuBackend } from "../helpers.js";
import { activation, constant, expectRewrite, expectUnchanged, node, ops } from "./graph-fixture.js";

beforeAll(useCpuBackend);

const dense = { w: constant([2, 2], [1, 2, 3, 4]), b: constant([2], [0, 1]) };

describe("remove-identity", () => {
  it("rewires the readers of an identity in the middle to its input", () => {
    expectRewrite(removeIdentity, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2), ...dense, y: activation(1, 2), i: activation(1, 2), z: activation(1, 2) },
      nodes: [node("d", "dense", ["x", "w", "b"], ["y"]), node("drop", "identity", ["y"], ["i"]), node("r", "relu", ["i"], ["z"])],
    }, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2), ...dense, y: activation(1, 2), z: activation(1, 2) },
      nodes: [node("d", "dense", ["x", "w", "b"], ["y"]), node("r", "relu", ["y"], ["z"])],
    });
  });

  it("rewires every reader of the identity's output", () => {
    const t = activation(1, 2);
    expectRewrite(removeIdentity, {
      inputs: ["x"], outputs: ["s"], tensors: { x: t, i: t, a: t, b: t, s: activation(1, 4) },
      nodes: [node("drop", "identity", ["x"], ["i"]), node("r", "relu", ["i"], ["a"]), node("g", "sigmoid", ["i"], ["b"]),
        node("cat", "concat", ["a", "b"], ["s"])],
    }, {
      inputs: ["x"], outputs: ["s"], tensors: { x: t, a: t, b: t, s: activation(1, 4) },
      nodes: [node("r", "relu", ["x"], ["a"]), node("g", "sigmoid", ["x"], ["b"]), node("cat", "concat", ["a", "b"], ["s"])],
    });
  });

  it("keeps the graph's output name when the identity is last: its producer writes the output", () => {
    expectRewrite(removeIdentity, {
      inputs: ["x"], outputs: ["out"],
      tensors: { x: activation(1, 2), ...dense, y: activation(1, 2), out: activation(1, 2) },
      nodes: [node("d", "dense", ["x", "w", "b"], ["y"]), node("drop", "identity", ["y"], ["out"])],
    }, {
      inputs: ["x"], outputs: ["out"],
      tensors: { x: activation(1, 2), ...dense, out: activation(1, 2) },
      nodes: [node("d", "dense", ["x", "w", "b"], ["out"])],
    });
  });

  it("makes the identity's input the output when another node also reads that input", () => {
    const t = activation(1, 2);
    expectRewrite(removeIdentity, {
      inputs: ["x"], outputs: ["out"], tensors: { x: t, y: t, out: t, side: t },
      nodes: [node("r", "relu", ["x"], ["y"]), node("g", "sigmoid", ["y"], ["side"]), node("drop", "identity", ["y"], ["out"])],
    }, {
      inputs: ["x"], outputs: ["y"], tensors: { x: t, y: t, side: t },
      nodes: [node("r", "relu", ["x"], ["y"]), node("g", "sigmoid", ["y"], ["side"])],
    });
  });

  it("keeps an identity from the graph's input straight to its output (nothing else would write the output)", () => {
    expectUnchanged(removeIdentity, { inputs: ["x"], outputs: ["out"], tensors: { x: activation(1, 2), out: activation(1, 2) }, nodes: [node("drop", "identity", ["x"], ["out"])] });
  });

  it("drops Keras Dropout and Activation('linear'), and the model's outputs do not change", async () => {
    const model = tf.sequential();
    model.add(tf.layers.inputLayer({ inputShape: [3, 3, 2] }));
    [tf.layers.flatten(), tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 6, activation: "relu6" }),
      tf.layers.activation({ activation: "linear" }), tf.layers.dense({ units: 2 })].forEach((l) => model.add(l));
    const before = loadModel(await saveToTemp(model));
    expect(ops(before)).toEqual(["reshape", "identity", "dense", "relu6", "identity", "dense"]);
    expect(ops(removeIdentity(before))).toEqual(["reshape", "dense", "relu6", "dense"]);
    const after = runPipeline(before, FLOAT_PIPELINE, { check: true });
    expect(ops(after)).toEqual(["reshape", "dense+relu6", "dense"]);
    const x = tf.randomNormal([1, 3, 3, 2], 0, 1, "float32", 11);
    expect(maxAbsDiff(runFloat(after, x.dataSync() as Float32Array), (model.predict(x) as tf.Tensor).dataSync())).toBeLessThanOrEqual(1e-4);
  });
});
