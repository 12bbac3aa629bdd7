// The PyTorch-made ONNX fixtures (models/onnx, written by make_fixtures.py) through Kiln, checked against ONNX Runtime:
// float blobs within 1e-4, int8 blobs within a stated bound, the trained MNIST CNN's int8 accuracy on all 10k test
// digits, the pre-quantized (QDQ) model against ONNX Runtime's own int8 arithmetic, and `kiln compile`/`kiln eval`.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileFile, DEFAULT_COMPILE_OPTIONS } from "../compiler/compile.js";
import { calibrationImages } from "../bin/calibration.js";
import { mnistPaths, readLabelledImages, type LabelledImages } from "../io/idx.js";
import { Model } from "../runtime/model.js";
import { tempDir } from "./helpers.js";
import {
  argmax, blobScores, describeResults, floatInitializer, int8Error, ortRun, outputQuant, pixelsToFloats, randomImages, type FixtureResult,
} from "./onnx-models-helpers.js";

const ROOT = join(import.meta.dirname, "..");
const DIR = join(ROOT, "models", "onnx");
const CLI = join(ROOT, "dist", "bin", "kiln.js");
const PIXELS = 28 * 28;
const CLASSES = 10;

/**
 * Every float fixture, what it exercises, and its int8 bound: the largest |int8 − ONNX Runtime float| allowed on 1000
 * test digits, in the int8 blob's output steps (one step = its output scale), the reference clamped to the range the
 * int8 output can hold (beyond the calibrated range int8 saturates by design). Each int8 layer rounds its output to
 * half a step of its scale and its weights to half a step per channel; through 3–8 quantized layers (and residual adds,
 * a softmax) these add up to a few output steps. The bounds are about twice what was measured (models/onnx/README.md:
 * 1.4–2.0 steps for the plain CNNs, 6.3 for the MobileNet block's 8 layers and 2 adds, 8.6 for the softmax's
 * probabilities in 1/256 steps), so an int8 result off by more than rounding (a wrong scale, a misplaced channel, a
 * dropped bias) fails while another calibration order does not.
 */
const FIXTURES = [
  { file: "mnist_cnn.onnx", maxSteps: 3, exercises: "opset 13: Conv, Relu, MaxPool, Flatten after a pool, Gemm" },
  { file: "lenet5.onnx", maxSteps: 4, exercises: "opset 11: Tanh, Pad + AveragePool, the x.view(x.size(0), -1) shape subgraph, Gemm" },
  { file: "bn_dropout_cnn.onnx", maxSteps: 4, exercises: "opset 14: BatchNormalization after Conv and after Gemm (2-D), Dropout, Identity" },
  { file: "mobilenet_block.onnx", maxSteps: 12, exercises: "opset 17: stride 2, 1×1 expand, depthwise 3×3, Clip(0, 6), residual Add, GlobalAveragePool" },
  { file: "flatten_after_conv.onnx", maxSteps: 4, exercises: "opset 9: Flatten right after a Conv (C=5, H=13, W=8), Gemm, MatMul + Add" },
  { file: "shape_subgraph.onnx", maxSteps: 16, exercises: "opset 13: LeakyRelu, x.reshape(x.size(0), -1) with Unsqueeze axes as input, Softmax" },
];

/** Real digits per float comparison and per int8 comparison; random images in [0, 1) per float comparison. */
const REAL = 200, INT8_REAL = 1000, RANDOM = 20;
/** Float: ONNX Runtime and the blob sum in different orders; 1e-4 is the bound (logits reach ~±30). */
const FLOAT_TOLERANCE = 1e-4;

/** Top-1 of the int8 blob = ONNX Runtime float's on ≥ 98 % of 1000 test digits (a near-tie may flip). */
const INT8_MIN_AGREEMENT = 0.98;

let test: LabelledImages;
let realFloats: Float32Array;
const random = randomImages(RANDOM, PIXELS, 15);
const results: FixtureResult[] = [];

beforeAll(() => {
  const paths = mnistPaths();
  test = readLabelledImages(paths.testImages, paths.testLabels);
  realFloats = pixelsToFloats(test.pixels, test.count * PIXELS);
});

afterAll(() => {
  // The numbers in models/onnx/README.md.
  if (results.length > 0) console.log(describeResults(results));
});

/** Correct top-1 answers of ONNX Runtime's scores on the first `count` test digits. */
function correct(scores: Float32Array, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (argmax(scores.subarray(i * CLASSES, (i + 1) * CLASSES)) === test.labels[i]) n++;
  return n;
}

describe.each(FIXTURES)("$file ($exercises)", ({ file, maxSteps }) => {
  const path = join(DIR, file);
  const result: FixtureResult = { file };
  results.push(result);

  it("float blob = ONNX Runtime within 1e-4 with the same top-1, on real and random digits", async () => {
    const blob = await Model.load((await compileFile(path, { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" })).wasm);
    result.floatDiff = 0;
    for (const [inputs, count] of [[realFloats.subarray(0, REAL * PIXELS), REAL], [random, RANDOM]] as const) {
      const reference = await ortRun(path, inputs, count);
      const ours = blobScores(blob, inputs, count);
      let diff = 0;
      for (let i = 0; i < reference.length; i++) diff = Math.max(diff, Math.abs(reference[i] - ours[i]));
      result.floatDiff = Math.max(result.floatDiff, diff);
      expect(diff).toBeLessThanOrEqual(FLOAT_TOLERANCE);
      for (let i = 0; i < count; i++) {
        const r = reference.subarray(i * CLASSES, (i + 1) * CLASSES);
        const [first, second] = [...r].sort((a, b) => b - a);
        // A near-tie (two logits within the tolerance) may break either way; anything clearer must agree.
        if (first - second > 2 * FLOAT_TOLERANCE) expect(argmax(ours.subarray(i * CLASSES, (i + 1) * CLASSES))).toBe(argmax(r));
      }
    }
  });

  it(`int8 blob (calibrated on MNIST training digits) within ${maxSteps} output steps of ONNX Runtime's float, top-1 agreement ≥ ${100 * INT8_MIN_AGREEMENT} %`, async () => {
    const compiled = await compileFile(path, { ...DEFAULT_COMPILE_OPTIONS, quantize: "int8", calibration: calibrationImages(), calibrationCount: 200 });
    const blob = await Model.load(compiled.wasm);
    const reference = await ortRun(path, realFloats.subarray(0, INT8_REAL * PIXELS), INT8_REAL);
    result.int8 = int8Error(reference, blob, test.pixels, INT8_REAL);
    expect(result.int8.maxSteps).toBeLessThanOrEqual(maxSteps);
    expect(result.int8.agreement).toBeGreaterThanOrEqual(INT8_MIN_AGREEMENT);
  });
});

describe("the PyTorch-trained MNIST CNN (mnist_cnn.onnx) on all 10k test digits", () => {
  it("int8 accuracy ≥ float accuracy (ONNX Runtime) − 0.3 pp", async () => {
    const path = join(DIR, "mnist_cnn.onnx");
    const floatCorrect = correct(await ortRun(path, realFloats, test.count), test.count);
    // The CLI's defaults: 500 MNIST training digits, min-max calibration; pixels fed as uint8, as `kiln run` does.
    const blob = await Model.load((await compileFile(path, { ...DEFAULT_COMPILE_OPTIONS, quantize: "int8", calibration: calibrationImages() })).wasm);
    let int8Correct = 0;
    for (let i = 0; i < test.count; i++) if (blob.predict(test.pixels.subarray(i * PIXELS, (i + 1) * PIXELS)).index === test.labels[i]) int8Correct++;
    console.log(`mnist_cnn.onnx on the 10k test digits: float (ONNX Runtime) ${(floatCorrect / 100).toFixed(2)} %, Kiln int8 ${(int8Correct / 100).toFixed(2)} %`);
    expect(floatCorrect / test.count).toBeGreaterThanOrEqual(0.98);
    expect(int8Correct / test.count).toBeGreaterThanOrEqual(floatCorrect / test.count - 0.003);
  });
});

describe("the pre-quantized MNIST CNN (mnist_cnn_qdq.onnx)", () => {
  const path = join(DIR, "mnist_cnn_qdq.onnx");
  const result: FixtureResult = { file: "mnist_cnn_qdq.onnx" };
  results.push(result);

  it("compiles with the model's own scales, no calibration, and is within 1 output step of the QDQ arithmetic (ONNX Runtime) on 1000 digits", async () => {
    const log: string[] = [];
    const blob = await Model.load((await compileFile(path, { ...DEFAULT_COMPILE_OPTIONS, quantize: "int8", log: (l) => log.push(l) })).wasm);
    expect(log.join("\n")).toMatch(/no calibration/);
    // The model's own input and output quantization (uint8 zero points shifted by −128 to int8).
    expect(blob.info.input.scale).toBeCloseTo(floatInitializer(path, "input_scale")[0], 9);
    expect(blob.info.input.zeroPoint).toBe(-128);
    expect(outputQuant(blob).scale).toBeCloseTo(floatInitializer(path, "logits_scale")[0], 9);
    // ONNX Runtime without graph optimizations: DequantizeLinear, the float op, QuantizeLinear, as the spec says (see
    // ortRun for why not its fused int8 kernels). Its output lies on the blob's grid. Both round the same real numbers
    // at each requantization; Kiln requantizes in f32, so a value within f32 rounding of a half step may round the
    // other way: one step, which the next layers may carry to the logits as about one step (measured: max 1 step,
    // 99.99 % of outputs on the same step).
    const reference = await ortRun(path, realFloats.subarray(0, INT8_REAL * PIXELS), INT8_REAL, true);
    result.int8 = int8Error(reference, blob, test.pixels, INT8_REAL);
    expect(result.int8.maxSteps).toBeLessThanOrEqual(1 + 1e-4);
    expect(result.int8.exact).toBeGreaterThanOrEqual(0.99);
    expect(result.int8.agreement).toBeGreaterThanOrEqual(0.995);
    expect(correct(reference, INT8_REAL) / INT8_REAL).toBeGreaterThanOrEqual(0.97);
  });
});

describe("the CLI on .onnx files", () => {
  const kiln = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 300_000, env: { ...process.env, KILN_DEBUG: "" } });
  const paths = mnistPaths();
  const out = tempDir("kiln-onnx-cli-");

  it("kiln compile mnist_cnn.onnx -o …, then kiln eval on the blob and on the .onnx (float and int8)", async () => {
    const blobPath = join(out, "mnist_cnn.wasm");
    const compiled = kiln("compile", "models/onnx/mnist_cnn.onnx", "-o", blobPath, "--quiet");
    expect(compiled.stderr).toBe("");
    expect(compiled.status).toBe(0);
    const onBlob = kiln("eval", blobPath, "--images", paths.testImages, "--labels", paths.testLabels, "--count", "1000", "--json");
    expect(onBlob.status).toBe(0);
    expect(JSON.parse(onBlob.stdout).accuracy).toBeGreaterThanOrEqual(0.97);

    const onModel = kiln("eval", "models/onnx/mnist_cnn.onnx", "--images", paths.testImages, "--labels", paths.testLabels, "--count", "500", "--json");
    expect(onModel.status).toBe(0);
    const r = JSON.parse(onModel.stdout) as { count: number; float: { accuracy: number }; int8: { accuracy: number }; agreement: number };
    expect(r.count).toBe(500);
    // The float accuracy is ONNX Runtime's on the same 500 digits (give or take one near-tie digit).
    const ortCorrect = correct(await ortRun(join(DIR, "mnist_cnn.onnx"), realFloats.subarray(0, 500 * PIXELS), 500), 500);
    expect(Math.abs(r.float.accuracy - ortCorrect / 500)).toBeLessThanOrEqual(1 / 500);
    expect(r.int8.accuracy).toBeGreaterThanOrEqual(r.float.accuracy - 0.01);
    expect(r.agreement).toBeGreaterThanOrEqual(0.98);
  });

  it("kiln compile mnist_cnn_qdq.onnx says it uses the model's own quantization instead of calibrating", () => {
    const r = kiln("compile", "models/onnx/mnist_cnn_qdq.onnx", "-o", join(out, "qdq.wasm"));
    expect(r.status).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/no calibration/);
    expect(r.stderr + r.stdout).not.toMatch(/calibrating on/);
  });
});
