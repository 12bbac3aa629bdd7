// What the mixed-precision suites share: MNIST test digits to run, the compile options, and outputs as raw bits.
import { beforeAll } from "vitest";
import { DEFAULT_COMPILE_OPTIONS, type CompileOptions } from "../compiler/compile.js";
import { calibrationImages } from "../bin/calibration.js";
import { mnistPaths, readLabelledImages, type LabelledImages } from "../io/idx.js";
import type { MixedValue } from "../compiler/int8-interpreter.js";

/** int8 with 100 MNIST training images for the ranges and none held out (the suites compare blobs, not reports). */
export const MIXED_OPTIONS: CompileOptions = { ...DEFAULT_COMPILE_OPTIONS, calibration: calibrationImages(), calibrationCount: 100, holdout: 0 };

/** The MNIST test digits, read once per suite (call at the top of a test file); `pixelsOf(i)` is digit i's 784 bytes. */
export function useMnistDigits(): { pixelsOf(i: number): Uint8Array } {
  let test: LabelledImages | undefined;
  beforeAll(() => {
    const paths = mnistPaths();
    test = readLabelledImages(paths.testImages, paths.testLabels);
  });
  return { pixelsOf: (i) => test!.pixels.subarray(i * 784, (i + 1) * 784) };
}

/** The raw bits of an output: int8 values, or float32 values as their bit patterns (−0 and NaN payloads count). */
export function bits(v: MixedValue): number[] {
  return v instanceof Float32Array ? Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length)) : Array.from(v);
}
