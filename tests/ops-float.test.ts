// Every op case on the float reference interpreter and on the simd and scalar float blobs, against TF.js.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { OP_CASES, buildCase } from "./op-cases.js";
import { compileAndLoad, expectFloatReferenceMatches, maxAbsDiff, saveToTemp, useCpuBackend } from "./helpers.js";

const TOLERANCE = 1e-4;

beforeAll(useCpuBackend);

describe.each(OP_CASES)("$name", (opCase) => {
  let modelJson: string;
  let model: tf.LayersModel;
  let inputs: Float32Array[];
  let expected: Float32Array[];

  beforeAll(async () => {
    model = buildCase(opCase);
    modelJson = await saveToTemp(model);
    inputs = [0, 1, 2].map((seed) => tf.randomNormal([1, ...opCase.inputShape], 0, 1, "float32", seed).dataSync() as Float32Array);
    expected = inputs.map((x) => (model.predict(tf.tensor(x, [1, ...opCase.inputShape])) as tf.Tensor).dataSync() as Float32Array);
  });

  it("reference interpreter matches TF.js before and after the passes", () => expectFloatReferenceMatches(modelJson, inputs, expected, TOLERANCE));

  it.each(["simd", "scalar"] as const)("%s float blob matches TF.js", async (target) => {
    const blob = await compileAndLoad(modelJson, { target, quantize: "none" });
    inputs.forEach((x, i) => {
      const got = blob.predict(x).scores;
      expect(got.length).toBe(expected[i].length);
      expect(maxAbsDiff(got, expected[i])).toBeLessThanOrEqual(TOLERANCE);
    });
  });
});

describe("functional model", () => {
  it("a tf.model() graph compiles and matches TF.js", async () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const c = tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: "relu" }).apply(input) as tf.SymbolicTensor;
    const f = tf.layers.flatten().apply(c) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 4 }).apply(f) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const modelJson = await saveToTemp(model);
    const x = tf.randomNormal([1, 6, 6, 2], 0, 1, "float32", 5);
    const want = (model.predict(x) as tf.Tensor).dataSync();
    const blob = await compileAndLoad(modelJson, { quantize: "none" });
    expect(maxAbsDiff(blob.predict(x.dataSync() as Float32Array).scores, want)).toBeLessThanOrEqual(TOLERANCE);
  });
});
