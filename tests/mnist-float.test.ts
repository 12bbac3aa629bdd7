// The bundled MNIST CNN: the float blob agrees with TF.js on real test digits (1e-4, same argmax).
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { mnistPaths, readLabelledImages, type LabelledImages } from "../io/idx.js";
import { compileAndLoad, loadTfjsLayersModel, maxAbsDiff, argmax, useCpuBackend } from "./helpers.js";

const MODEL = join(import.meta.dirname, "..", "models", "mnist-cnn", "model.json");
const COUNT = 1000;

let test: LabelledImages;
let reference: tf.LayersModel;
let expected: Float32Array[];

beforeAll(async () => {
  await useCpuBackend();
  const paths = mnistPaths();
  test = readLabelledImages(paths.testImages, paths.testLabels);
  reference = await loadTfjsLayersModel(MODEL);
  const floats = Float32Array.from(test.pixels.subarray(0, COUNT * 784), (p) => p / 255);
  const logits = (reference.predict(tf.tensor4d(floats, [COUNT, 28, 28, 1])) as tf.Tensor).dataSync();
  expected = Array.from({ length: COUNT }, (_v, i) => Float32Array.from(logits.subarray(i * 10, i * 10 + 10)));
});

describe.each(["simd", "scalar"] as const)("mnist-cnn float blob (%s)", (target) => {
  it(`matches TF.js within 1e-4 with identical argmax on ${COUNT} test images`, async () => {
    const blob = await compileAndLoad(MODEL, { target, quantize: "none" });
    let worst = 0, sameArgmax = 0, correct = 0;
    for (let i = 0; i < COUNT; i++) {
      const p = blob.predict(test.pixels.subarray(i * 784, (i + 1) * 784));
      worst = Math.max(worst, maxAbsDiff(p.scores, expected[i]));
      if (p.index === argmax(expected[i])) sameArgmax++;
      if (p.index === test.labels[i]) correct++;
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(sameArgmax).toBe(COUNT);
    // A trained model, not a random one: the README reports ≥ 98.5 % on the full set.
    expect(correct / COUNT).toBeGreaterThan(0.97);
  });
});
