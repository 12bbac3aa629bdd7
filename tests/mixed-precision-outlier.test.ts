// A layer int8 ruins and --keep-float repairs: a dense head whose every output column has one huge weight on an input
// that is always 0 (a dead conv channel), so per-channel int8 weights round all its real weights to 0. Agreement is
// measured against TF.js on MNIST digits; --keep-float auto must find the head by itself.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { compileFile, DEFAULT_COMPILE_OPTIONS, type CompileOptions } from "../compiler/compile.js";
import { AUTO_KEEP_FLOAT } from "../compiler/passes/quantize.js";
import { calibrationImages } from "../bin/calibration.js";
import { mnistPaths, readLabelledImages, type LabelledImages } from "../io/idx.js";
import { Model } from "../runtime/model.js";
import { saveToTemp, useCpuBackend } from "./helpers.js";
import { seededRandom } from "./seeded-random.js";

const IMAGES = 300;
const CHANNELS = 8;
const DEAD = CHANNELS - 1;

/** 28×28×1 → conv "features" (8 filters 3×3 stride 2, ReLU; channel 7 always 0) → flatten → dense "head" (10). */
function outlierModel(): tf.LayersModel {
  const random = seededRandom(18);
  const uniform = (n: number, r: number): number[] => Array.from({ length: n }, () => (2 * random() - 1) * r);
  const m = tf.sequential({ name: "outlier", layers: [
    tf.layers.conv2d({ name: "features", inputShape: [28, 28, 1], filters: CHANNELS, kernelSize: 3, strides: 2, activation: "relu" }),
    tf.layers.flatten({ name: "flatten" }),
    tf.layers.dense({ name: "head", units: 10 }),
  ] });
  const bias = Array.from({ length: CHANNELS }, (_v, c) => (c === DEAD ? -1000 : 0));
  m.getLayer("features").setWeights([tf.tensor4d(uniform(9 * CHANNELS, 0.5), [3, 3, 1, CHANNELS]), tf.tensor1d(bias)]);
  const features = 13 * 13 * CHANNELS;
  // Each output column's largest |weight| sits on the dead channel: 5000× the others.
  const w = uniform(features * 10, 0.1).map((v, i) => (Math.floor(i / 10) % CHANNELS === DEAD ? 500 : v));
  m.getLayer("head").setWeights([tf.tensor2d(w, [features, 10]), tf.zeros([10])]);
  return m;
}

let path: string;
let test: LabelledImages;
let tfjsTop1: number[];
const OPTIONS: CompileOptions = { ...DEFAULT_COMPILE_OPTIONS, calibration: calibrationImages(), calibrationCount: 300 };

beforeAll(async () => {
  await useCpuBackend();
  const model = outlierModel();
  path = await saveToTemp(model);
  const paths = mnistPaths();
  test = readLabelledImages(paths.testImages, paths.testLabels);
  const x = tf.tensor4d(Float32Array.from(test.pixels.subarray(0, IMAGES * 784), (p) => p / 255), [IMAGES, 28, 28, 1]);
  tfjsTop1 = Array.from((model.predict(x) as tf.Tensor).argMax(1).dataSync());
}, 60_000);

/** Share of the test digits whose top-1 class from the blob is TF.js's. */
async function agreementWithTfjs(wasm: Uint8Array): Promise<number> {
  const model = await Model.load(wasm);
  let agree = 0;
  for (let i = 0; i < IMAGES; i++) if (model.predict(test.pixels.subarray(i * 784, (i + 1) * 784)).index === tfjsTop1[i]) agree++;
  return agree / IMAGES;
}

describe("an outlier-weight head", () => {
  it("int8 loses the head's top-1 class; --keep-float head restores it", async () => {
    const int8 = await compileFile(path, OPTIONS);
    const kept = await compileFile(path, { ...OPTIONS, keepFloat: ["head"] });
    const [before, after] = [await agreementWithTfjs(int8.wasm), await agreementWithTfjs(kept.wasm)];
    expect(before).toBeLessThan(0.5);
    expect(after).toBeGreaterThanOrEqual(0.98);
    expect(kept.manifest.output.dtype).toBe("float32");
  }, 60_000);

  it("--keep-float auto keeps the head first and reaches the agreement target", async () => {
    const lines: string[] = [];
    const auto = await compileFile(path, { ...OPTIONS, holdout: "auto", keepFloat: AUTO_KEEP_FLOAT, log: (l) => lines.push(l) });
    const kept = auto.graph.meta.keptFloat as string[];
    expect(kept[0]).toBe("head");
    expect(auto.graph.nodes.filter((n) => n.float).map((n) => n.name)).toEqual(kept);
    const line = lines.find((l) => l.startsWith("--keep-float auto:"));
    expect(line).toMatch(new RegExp(`^--keep-float auto: kept ${kept.join(", ")} in float; top-1 agreement with float \\d+\\.\\d % on \\d+ held-out images \\(target 99\\.0 %\\)$`));
    expect(await agreementWithTfjs(auto.wasm)).toBeGreaterThanOrEqual(0.98);
  }, 120_000);

  it("a layer without an exact float kernel is refused, with the reason", async () => {
    const m = tf.sequential({ name: "gap_model", layers: [
      tf.layers.conv2d({ name: "conv", inputShape: [8, 8, 1], filters: 2, kernelSize: 3, kernelInitializer: tf.initializers.randomNormal({ seed: 3 }) }),
      tf.layers.globalAveragePooling2d({ name: "gap" }),
      tf.layers.activation({ name: "squash", activation: "sigmoid" }),
    ] });
    const small = await saveToTemp(m);
    await expect(compileFile(small, { ...DEFAULT_COMPILE_OPTIONS, keepFloat: ["squash"] })).rejects.toThrow(
      /^--keep-float: layer 'squash' cannot be kept in float: its op sigmoid has no exact float kernel: its reference computes Math\.exp in f64 and the kernels have no exact f64 exp$/);
  });
});
