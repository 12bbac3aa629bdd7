// Real third-party CNNs shipped in an npm package (@vladmandic/human, MIT): float within 1e-4 of TF.js, int8 bit-exact.
import * as tf from "@tensorflow/tfjs";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileFile, DEFAULT_COMPILE_OPTIONS, type CompiledModel } from "../compiler/compile.js";
import { pixelCalibration } from "../compiler/quant/calibration-data.js";
import { quantizePixels, runInt8 } from "../compiler/int8-interpreter.js";
import { readIdx } from "../io/idx.js";
import { toModelInput } from "../io/images.js";
import { Model } from "../runtime/model.js";
import { maxAbsDiff, useCpuBackend } from "./helpers.js";
import { requirePath } from "./require-tool.js";

/** The package's exports map hides package.json: find its folder from the main entry instead. */
function packageDir(name: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

const MODELS = join(packageDir("@vladmandic/human"), "models");
const FASHION = "/usr/share/datasets/fashion-mnist";

/** No face or photo data set is available offline: Fashion-MNIST photos, resized, stand in for real inputs. */
function fashionImages(file: string, start: number, count: number, h: number, w: number, c: number): Uint8Array {
  const idx = readIdx(join(FASHION, file));
  const out = new Uint8Array(count * h * w * c);
  for (let i = 0; i < count; i++) {
    const gray = idx.data.subarray((start + i) * 784, (start + i + 1) * 784);
    const rgb = new Uint8Array(784 * 3);
    gray.forEach((v, j) => rgb.fill(v, 3 * j, 3 * j + 3));
    out.set(toModelInput({ height: 28, width: 28, channels: 3, pixels: rgb }, h, w, c), i * h * w * c);
  }
  return out;
}

async function loadGraphModel(name: string): Promise<tf.GraphModel> {
  const json = JSON.parse(readFileSync(join(MODELS, `${name}.json`), "utf8"));
  const bin = readFileSync(join(MODELS, json.weightsManifest[0].paths[0]));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
}

const CASES = [
  { name: "emotion", shape: [64, 64, 1], pixelScale: 2 / 255, pixelOffset: -1, agreement: 0.9 },
  { name: "liveness", shape: [32, 32, 3], pixelScale: 1 / 255, pixelOffset: 0, agreement: 0.95 },
];

beforeAll(useCpuBackend);

// Fashion-MNIST photos are the only inputs available offline (see fashionImages).
const fashionData = requirePath("dataset-fashion-mnist", FASHION, "apt-get install dataset-fashion-mnist");

describe.skipIf(!fashionData.ok)(`@vladmandic/human models${fashionData.note}`, () => {
  describe.each(CASES)("$name", (c) => {
    const [h, w, ch] = c.shape;
    const size = h * w * ch;
    let float: Model, int8: Model, compiled: CompiledModel, tests: Uint8Array;

    beforeAll(async () => {
      const calibration = pixelCalibration(fashionImages("train-images-idx3-ubyte.gz", 0, 32, h, w, ch), "32 Fashion-MNIST training images");
      const options = { ...DEFAULT_COMPILE_OPTIONS, pixelScale: c.pixelScale, pixelOffset: c.pixelOffset, calibration };
      float = await Model.load((await compileFile(join(MODELS, `${c.name}.json`), { ...options, quantize: "none" })).wasm);
      compiled = await compileFile(join(MODELS, `${c.name}.json`), options);
      int8 = await Model.load(compiled.wasm);
      tests = fashionImages("t10k-images-idx3-ubyte.gz", 0, 100, h, w, ch);
    });

    it("float blob matches TF.js's GraphModel within 1e-4", async () => {
      const reference = await loadGraphModel(c.name);
      for (let i = 0; i < 4; i++) {
        const pixels = tests.subarray(i * size, (i + 1) * size);
        const x = tf.tensor(Float32Array.from(pixels, (p) => p * c.pixelScale + c.pixelOffset), [1, h, w, ch]);
        const out = reference.predict(x) as tf.Tensor;
        expect(maxAbsDiff(float.predict(pixels).scores, out.dataSync())).toBeLessThanOrEqual(1e-4);
      }
    });

    it("int8 blob equals the int8 reference bit for bit", () => {
      for (let i = 0; i < 2; i++) {
        const pixels = tests.subarray(i * size, (i + 1) * size);
        int8.predict(pixels);
        const ref = runInt8(compiled.graph, quantizePixels(compiled.graph, pixels, c.pixelScale, c.pixelOffset));
        expect(Array.from(int8.rawOutput())).toEqual(Array.from(ref));
      }
    });

    it(`int8 top-1 agrees with float on ≥ ${100 * c.agreement} % of 100 Fashion-MNIST photos`, () => {
      let agree = 0;
      for (let i = 0; i < 100; i++) {
        const pixels = tests.subarray(i * size, (i + 1) * size);
        if (float.predict(pixels).index === int8.predict(pixels).index) agree++;
      }
      expect(agree / 100).toBeGreaterThanOrEqual(c.agreement);
    });
  });
});
