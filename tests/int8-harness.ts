// Runs a saved model through the int8 reference and both int8 blobs on the same pixels, for bit-exact checks.
import * as tf from "@tensorflow/tfjs";
import { compileFile, DEFAULT_COMPILE_OPTIONS, type CompiledModel } from "../compiler/compile.js";
import { pixelCalibration } from "../compiler/quant/calibration-data.js";
import { quantizePixels, runInt8 } from "../compiler/int8-interpreter.js";
import { Model } from "../runtime/model.js";
import { beforeAll, describe, expect, it } from "vitest";
import { saveToTemp, seededRandom, useCpuBackend } from "./helpers.js";

export interface Int8Run {
  compiled: Record<"simd" | "scalar", CompiledModel>;
  /** Per test image: reference int8 output, simd blob output, scalar blob output, TF.js float output. */
  reference: Int8Array[];
  simd: Int8Array[];
  scalar: Int8Array[];
  float: Float32Array[];
  dequantized: Float32Array[];
  outputScale: number;
}

export function randomPixels(count: number, size: number, seed: number): Uint8Array {
  const rand = seededRandom(seed);
  return Uint8Array.from({ length: count * size }, () => Math.floor(rand() * 256));
}

export async function runInt8Everywhere(model: tf.LayersModel, modelJson: string, shape: number[], calibrationCount = 32, testCount = 12, seed = 7): Promise<Int8Run> {
  const size = shape.reduce((a, b) => a * b, 1);
  const tests = randomPixels(testCount, size, seed + 1000);
  // The test images are part of the calibration set, so that the float comparison measures rounding, not clipping.
  const calibration = pixelCalibration(Buffer.concat([randomPixels(calibrationCount, size, seed), tests]), "random pixels and the test images");
  const compiled = {} as Int8Run["compiled"];
  const blobs = {} as Record<"simd" | "scalar", Model>;
  for (const target of ["simd", "scalar"] as const) {
    compiled[target] = await compileFile(modelJson, { ...DEFAULT_COMPILE_OPTIONS, quantize: "int8", target, calibration, calibrationCount: calibrationCount + testCount });
    blobs[target] = await Model.load(compiled[target].wasm);
  }
  const graph = compiled.simd.graph;
  const run: Int8Run = { compiled, reference: [], simd: [], scalar: [], float: [], dequantized: [], outputScale: blobs.simd.info.output.scale ?? 1 };
  for (let i = 0; i < testCount; i++) {
    const pixels = tests.subarray(i * size, (i + 1) * size);
    run.reference.push(runInt8(graph, quantizePixels(graph, pixels, 1 / 255, 0)));
    for (const target of ["simd", "scalar"] as const) {
      blobs[target].predict(pixels);
      run[target].push(blobs[target].rawOutput() as Int8Array);
    }
    run.dequantized.push(blobs.simd.scores());
    const x = tf.tensor(Float32Array.from(pixels, (p) => p / 255), [1, ...shape]);
    run.float.push((model.predict(x) as tf.Tensor).dataSync() as Float32Array);
  }
  return run;
}

/**
 * A Sequential model of `layers` on `shape`, compiled both ways: the simd source calls `kernel` exactly `count` times
 * (so a case cannot pass by silently not using it), the scalar one never, and both blobs equal the int8 reference.
 */
export async function expectKernelExact(shape: number[], layers: tf.layers.Layer[], kernel: string, count: number): Promise<void> {
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape: shape }));
  layers.forEach((l) => model.add(l));
  const run = await runInt8Everywhere(model, await saveToTemp(model), shape, 16, 6);
  const calls = (source: string): number => source.match(new RegExp(`\\b${kernel}\\(`, "g"))?.length ?? 0;
  expect(calls(run.compiled.simd.source)).toBe(count);
  expect(calls(run.compiled.scalar.source)).toBe(0);
  run.reference.forEach((ref, i) => {
    expect(Array.from(run.simd[i])).toEqual(Array.from(ref));
    expect(Array.from(run.scalar[i])).toEqual(Array.from(ref));
  });
}

/** A kernel-exactness case: a model of `layers` on `shape`, and how many of its layers must compile to the kernel. */
export interface KernelCase {
  label: string;
  shape: [number, number, number];
  layers: () => tf.layers.Layer[];
  /** So a case cannot pass by silently not using the kernel (0: a layer the kernel must leave alone). */
  uses: number;
}

/** Seeded weights and biases for conv and dense layers (the bias from the next seed). */
export const seededConvInit = (seed: number) => ({
  kernelInitializer: tf.initializers.randomNormal({ stddev: 0.4, seed }),
  biasInitializer: tf.initializers.randomNormal({ stddev: 0.4, seed: seed + 1 }),
});

/** One describe per case ("<title> <label>"): the simd blob, the scalar blob and the int8 reference agree bit for bit. */
export function describeKernelCases(title: string, kernel: string, cases: KernelCase[]): void {
  beforeAll(useCpuBackend);
  describe.each(cases)(`${title} $label`, (c) => {
    it("simd = scalar = int8 reference", async () => {
      await expectKernelExact(c.shape, c.layers(), kernel, c.uses);
    });
  });
}
