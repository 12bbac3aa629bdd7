// The error report measured on the built blob (compileFile) equals, number for number, the report measured with the JS
// int8 reference interpreter on the same held-out images: mnist-cnn, LeNet-5, mixed graphs (a layer kept in float, a
// float output), a scalar blob, and a MobileNet-style graph with a depthwise conv and a residual add.
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileFile, DEFAULT_COMPILE_OPTIONS, generateModel, loadModel, type CompileOptions } from "../compiler/compile.js";
import { pixelCalibration } from "../compiler/quant/calibration-data.js";
import { pixelsToInputs } from "../compiler/quant/calibrate.js";
import { measureQuantError, measureQuantErrorAsync, type QuantReport } from "../compiler/quant/error-report.js";
import { referenceValues } from "../compiler/quant/int8-values.js";
import { probeValues } from "../compiler/quant/blob-probe.js";
import { quantizePixels, runMixedAll } from "../compiler/int8-interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../compiler/passes/pipeline.js";
import { fusePool } from "../compiler/passes/fuse-pool.js";
import { build } from "../compiler/toolchain.js";
import { Model } from "../runtime/model.js";
import { mnistPaths, readLabelledImages } from "../io/idx.js";
import { saveToTemp, useCpuBackend } from "./helpers.js";
import { ROOT } from "./device-helpers.js";

const MODELS = { "mnist-cnn": join(ROOT, "models", "mnist-cnn", "model.json"), lenet5: join(ROOT, "models", "lenet5", "model.json") };
const SIZE = 784;
/** 100 MNIST test digits: 80 calibrate, the last 20 are held out (the report's "auto" minimum). */
const IMAGES = 100;
const HELD = 20;

let pixels: Uint8Array;
beforeAll(() => {
  const paths = mnistPaths();
  pixels = readLabelledImages(paths.testImages, paths.testLabels).pixels.subarray(0, IMAGES * SIZE);
});

const options = (extra: Partial<CompileOptions> = {}): CompileOptions =>
  ({ ...DEFAULT_COMPILE_OPTIONS, calibration: pixelCalibration(pixels, "MNIST test digits"), calibrationCount: IMAGES, holdout: "auto", ...extra });

/** The report again, with the JS int8 reference, on the held-out digits of `compiled`'s int8 graph. */
function referenceReport(modelJson: string, quantized: Parameters<typeof referenceValues>[0]): QuantReport {
  const fused = runPipeline(loadModel(modelJson), [...FLOAT_PIPELINE, { name: "fuse-pool", run: fusePool }]);
  const held = pixels.subarray((IMAGES - HELD) * SIZE, IMAGES * SIZE);
  return measureQuantError(fused, quantized, pixelsToInputs(fused, held, HELD, 1 / 255, 0), {
    pixels: held, pixelScale: 1 / 255, pixelOffset: 0, int8: referenceValues(quantized),
  });
}

/** A report without its timing, the one figure that may differ. */
const figures = (report: QuantReport | undefined): QuantReport => ({ ...report!, seconds: 0 });

/** stem (conv, relu) → depthwise (relu6) → pointwise → add(stem, pointwise) → average pool → flatten → dense. */
async function residualModel(): Promise<string> {
  await useCpuBackend();
  const init = (seed: number) => tf.initializers.randomNormal({ stddev: 0.4, seed });
  const input = tf.input({ shape: [28, 28, 1] });
  const stem = tf.layers.conv2d({ name: "stem", filters: 8, kernelSize: 3, strides: 2, padding: "same", activation: "relu", kernelInitializer: init(1), biasInitializer: init(2) }).apply(input) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, padding: "same", activation: "relu6", depthwiseInitializer: init(3), biasInitializer: init(4) }).apply(stem) as tf.SymbolicTensor;
  const pw = tf.layers.conv2d({ name: "pw", filters: 8, kernelSize: 1, kernelInitializer: init(5), biasInitializer: init(6) }).apply(dw) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: "residual" }).apply([stem, pw]) as tf.SymbolicTensor;
  const pooled = tf.layers.averagePooling2d({ name: "pool", poolSize: 2 }).apply(sum) as tf.SymbolicTensor;
  const head = tf.layers.dense({ name: "head", units: 10, kernelInitializer: init(7) }).apply(tf.layers.flatten({ name: "flatten" }).apply(pooled)) as tf.SymbolicTensor;
  return saveToTemp(tf.model({ inputs: input, outputs: head }));
}

const CASES: [string, () => Promise<string>, Partial<CompileOptions>][] = [
  ["mnist-cnn", async () => MODELS["mnist-cnn"], {}],
  ["LeNet-5", async () => MODELS.lenet5, {}],
  ["LeNet-5, scalar blob", async () => MODELS.lenet5, { target: "scalar" }],
  ["mnist-cnn with conv1 kept in float (the first layer)", async () => MODELS["mnist-cnn"], { keepFloat: ["conv1"] }],
  ["mnist-cnn with conv2 kept in float", async () => MODELS["mnist-cnn"], { keepFloat: ["conv2"] }],
  ["mnist-cnn with logits kept in float (a float output)", async () => MODELS["mnist-cnn"], { keepFloat: ["logits"] }],
  ["a depthwise and residual-add graph", residualModel, {}],
  ["a depthwise and residual-add graph with dw kept in float", residualModel, { keepFloat: ["dw"] }],
];

describe.each(CASES)("the report measured on the blob: %s", (_name, model, extra) => {
  it("equals the JS int8 reference's report on the same held-out images, number for number", async () => {
    const path = await model();
    const compiled = await compileFile(path, options(extra));
    const report = compiled.graph.meta.quantReport as QuantReport;
    expect(report.images).toBe(HELD);
    expect(report.layers.length).toBeGreaterThan(3);
    expect(figures(report)).toEqual(figures(referenceReport(path, compiled.graph)));
    // And the manifest sealed into the blob carries those figures.
    expect((await Model.load(compiled.wasm)).info.quantization!.report).toEqual(JSON.parse(JSON.stringify({ ...report, seconds: undefined })));
  }, 60_000);
});

describe("measuring while the blob builds", () => {
  it("gives the same report whether the float side of an image was computed before the int8 values came or after", async () => {
    const compiled = await compileFile(MODELS.lenet5, options({ holdout: 0 }));
    const fused = runPipeline(loadModel(MODELS.lenet5), [...FLOAT_PIPELINE, { name: "fuse-pool", run: fusePool }]);
    const held = pixels.subarray(0, 6 * SIZE);
    const inputs = pixelsToInputs(fused, held, 6, 1 / 255, 0);
    const measure = { pixels: held, pixelScale: 1 / 255, pixelOffset: 0 };
    const expected = figures(measureQuantError(fused, compiled.graph, inputs, measure));
    const values = referenceValues(compiled.graph);
    // Ready at once: the first image's floats are computed early, the rest later; ready after a while: all early.
    const later = new Promise<typeof values>((resolve) => setTimeout(() => resolve(values), 300));
    for (const int8 of [Promise.resolve(values), later]) {
      expect(figures(await measureQuantErrorAsync(fused, compiled.graph, inputs, measure, int8))).toEqual(expected);
    }
  }, 60_000);
});

describe("the blob probe", () => {
  it("reads every tensor of a whole run, and each layer alone, exactly as the mixed reference computes them", async () => {
    const generated = generateModel(loadModel(MODELS["mnist-cnn"]), options({ holdout: 0, keepFloat: ["fc1"] }));
    const { graph, layout } = generated;
    const built = await build({
      source: generated.source, weights: layout.weights, weightsBase: layout.weightsBase, memoryBase: layout.end,
      simd: true, manifest: generated.manifest as unknown as Record<string, unknown>,
    });
    const probe = probeValues(graph, layout, (await Model.load(built.wasm)).exports);
    const reference = referenceValues(graph);
    const tensors = graph.nodes.map((n) => n.outputs[0]);
    for (let i = 0; i < 5; i++) {
      const input = quantizePixels(graph, pixels.subarray(i * SIZE, (i + 1) * SIZE), 1 / 255, 0);
      const expected = runMixedAll(graph, input);
      const read = probe.endToEnd(input, tensors);
      for (const name of tensors) expect(read.get(name), name).toEqual(expected.get(name));
      // Each layer alone on another image's values: what the reference's op computes on them.
      const other = runMixedAll(graph, quantizePixels(graph, pixels.subarray((i + 50) * SIZE, (i + 51) * SIZE), 1 / 255, 0));
      for (const node of graph.nodes) {
        const inputOf = (name: string) => other.get(name)!;
        expect(probe.alone(node, inputOf), node.name).toEqual(reference.alone(node, inputOf));
        expect(probe.alone(node, inputOf), node.name).toEqual(other.get(node.outputs[0]));
      }
    }
  }, 60_000);
});
