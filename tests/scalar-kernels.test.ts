// The scalar target's conv, depthwise and dense kernels (conv_scalar_i8, depthwise_scalar_i8: two pixels per i64
// multiply; dense_scalar_i8): the scalar blob equals the int8 reference bit for bit (and the simd blob, which never
// uses them). Odd output widths (the last pixel of a row without a partner), channel counts off 4, odd kernel rows (a padded tap), padding, stride 2,
// fused max and avg pools with partial, overlapping and 3-wide windows, 1×1 and 5×5 kernels, one-pixel outputs,
// depthwise with multiplier 1 (and 2, which stays with depthwise_i8).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_PAIR_TAPS } from "../compiler/codegen/conv-scalar-int8.js";
import { runInt8Everywhere, seededConvInit } from "./int8-harness.js";
import { saveToTemp, useCpuBackend } from "./helpers.js";

type Act = "linear" | "relu" | "relu6";
const conv = (filters: number, kernelSize: number, strides: number, padding: "same" | "valid", activation: Act, seed: number) =>
  tf.layers.conv2d({ filters, kernelSize, strides, padding, activation, ...seededConvInit(seed) });
const dense = (units: number, seed: number, activation: Act = "linear") => tf.layers.dense({ units, activation, ...seededConvInit(seed) });
const dw = (kernelSize: number, strides: number, padding: "same" | "valid", activation: Act, seed: number, depthMultiplier = 1) =>
  tf.layers.depthwiseConv2d({ kernelSize, strides, padding, activation, depthMultiplier,
    depthwiseInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed }), biasInitializer: tf.initializers.randomNormal({ stddev: 0.4, seed: seed + 1 }) });

interface ScalarCase {
  label: string;
  shape: [number, number, number];
  layers: () => tf.layers.Layer[];
  /** Calls the scalar source must make to each kernel, so a case cannot pass by not using it. */
  convs: number;
  denses: number;
  depthwises?: number;
}

const CASES: ScalarCase[] = [
  { label: "9×11×3 3×3/1 same →5 relu6 (odd width, 9-tap rows, channels off 4)", shape: [9, 11, 3], layers: () => [conv(5, 3, 1, "same", "relu6", 1)], convs: 1, denses: 0 },
  { label: "13×12×2 3×3/2 same →6 (stride 2, padding bottom/right)", shape: [13, 12, 2], layers: () => [conv(6, 3, 2, "same", "linear", 2)], convs: 1, denses: 0 },
  { label: "17×15×1 5×5/1 valid →6 + max pool 2×2 valid (LeNet-like, odd conv output)", shape: [17, 15, 1], layers: () => [conv(6, 5, 1, "valid", "relu", 3), tf.layers.maxPooling2d({ poolSize: 2 })], convs: 1, denses: 0 },
  { label: "9×9×4 3×3 same →7 + max pool 2×2 same (partial windows)", shape: [9, 9, 4], layers: () => [conv(7, 3, 1, "same", "linear", 4), tf.layers.maxPooling2d({ poolSize: 2, padding: "same" })], convs: 1, denses: 0 },
  { label: "8×9×5 3×3 same relu →9 + avg pool 2×2/1 (relu before the average, overlapping windows)", shape: [8, 9, 5], layers: () => [conv(9, 3, 1, "same", "relu", 5), tf.layers.averagePooling2d({ poolSize: 2, strides: 1 })], convs: 1, denses: 0 },
  { label: "10×11×3 3×3/2 same →4 + avg pool 2×2 same (partial windows, stride 2)", shape: [10, 11, 3], layers: () => [conv(4, 3, 2, "same", "linear", 6), tf.layers.averagePooling2d({ poolSize: 2, padding: "same" })], convs: 1, denses: 0 },
  { label: "11×11×2 3×3 →8 + max pool 3×3/2 (a pair and a single per window row)", shape: [11, 11, 2], layers: () => [conv(8, 3, 1, "valid", "relu", 7), tf.layers.maxPooling2d({ poolSize: 3, strides: 2 })], convs: 1, denses: 0 },
  { label: "7×5×7 1×1 →9 (pointwise, 7-tap rows)", shape: [7, 5, 7], layers: () => [conv(9, 1, 1, "valid", "relu6", 8)], convs: 1, denses: 0 },
  { label: "5×5×6 5×5 valid →3 (one output pixel)", shape: [5, 5, 6], layers: () => [conv(3, 5, 1, "valid", "linear", 9)], convs: 1, denses: 0 },
  { label: "6×1×3 3×3 same →4 (one-pixel-wide rows)", shape: [6, 1, 3], layers: () => [conv(4, 3, 1, "same", "relu", 10)], convs: 1, denses: 0 },
  {
    label: "conv, pool, conv, flatten, dense 13 → 7 → 1 (a small CNN; dense inputs off 4)",
    shape: [12, 12, 1],
    layers: () => [conv(8, 3, 1, "same", "relu", 11), tf.layers.maxPooling2d({ poolSize: 2 }), conv(3, 3, 2, "valid", "relu", 12),
      tf.layers.flatten(), dense(7, 13, "relu"), dense(1, 14)],
    convs: 2, denses: 2,
  },
  { label: "depthwise 3×3 same on 9×11×5 relu6 (odd width, channels off 4)", shape: [9, 11, 5], layers: () => [dw(3, 1, "same", "relu6", 17)], convs: 0, denses: 0, depthwises: 1 },
  { label: "depthwise 3×3/2 same on 12×13×8 (stride 2, padding bottom/right)", shape: [12, 13, 8], layers: () => [dw(3, 2, "same", "relu", 18)], convs: 0, denses: 0, depthwises: 1 },
  { label: "depthwise 5×5 valid on 7×9×3, then 3×3/2 valid (one-pixel-wide output)", shape: [7, 9, 3], layers: () => [dw(5, 1, "valid", "linear", 19), dw(3, 2, "valid", "linear", 20)], convs: 0, denses: 0, depthwises: 2 },
  { label: "depthwise multiplier 2 (left to depthwise_i8)", shape: [6, 7, 3], layers: () => [dw(3, 1, "same", "relu", 21, 2)], convs: 0, denses: 0, depthwises: 0 },
  {
    label: "stem, depthwise, pointwise, global average, dense (a MobileNet in small)",
    shape: [16, 15, 3],
    layers: () => [conv(8, 3, 2, "same", "relu6", 22), dw(3, 1, "same", "relu6", 23), conv(12, 1, 1, "valid", "relu6", 24),
      dw(3, 2, "same", "relu6", 25), tf.layers.globalAveragePooling2d({}), dense(5, 26)],
    convs: 2, denses: 1, depthwises: 2,
  },
  // The pair band (runtime/kernels/pair-band.ts): passes of two output rows, or a row of pool windows, hold only the
  // padded input rows they read; rows are kept, moved to the band's front, or dropped as the passes advance.
  { label: "band: 11×6×3 5×5 same →5 (odd output height: a last pass of one row; two padding rows top and bottom)", shape: [11, 6, 3], layers: () => [conv(5, 5, 1, "same", "relu", 30)], convs: 1, denses: 0 },
  { label: "band: 14×7×2 3×3/2 valid →4 (stride 2: one row kept per pass)", shape: [14, 7, 2], layers: () => [conv(4, 3, 2, "valid", "linear", 31)], convs: 1, denses: 0 },
  { label: "band: 9×9×3 1×1/2 →5 (stride above the kernel: nothing kept, rows skipped)", shape: [9, 9, 3], layers: () => [conv(5, 1, 2, "valid", "relu", 32)], convs: 1, denses: 0 },
  { label: "band: 3×9×2 3×3 valid →6 (a one-row output)", shape: [3, 9, 2], layers: () => [conv(6, 3, 1, "valid", "linear", 33)], convs: 1, denses: 0 },
  {
    label: "band: 7×8×2 1×3 same →4, 3×1 same →3 (padding only left/right, then only top/bottom)",
    shape: [7, 8, 2],
    layers: () => [tf.layers.conv2d({ filters: 4, kernelSize: [1, 3], padding: "same", activation: "relu", ...seededConvInit(34) }),
      tf.layers.conv2d({ filters: 3, kernelSize: [3, 1], padding: "same", ...seededConvInit(35) })],
    convs: 2, denses: 0,
  },
  { label: "band: 13×9×3 3×3/2 same →6 + avg pool 3×3/1 same (pool windows overlap by two conv rows, clipped at both edges)", shape: [13, 9, 3], layers: () => [conv(6, 3, 2, "same", "relu", 36), tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: "same" })], convs: 1, denses: 0 },
  { label: "band: 11×10×2 3×3 valid →5 + max pool 3×3/3 same (windows end to end; a last partial window row)", shape: [11, 10, 2], layers: () => [conv(5, 3, 1, "valid", "linear", 37), tf.layers.maxPooling2d({ poolSize: 3, strides: 3, padding: "same" })], convs: 1, denses: 0 },
  { label: "band: 4×9×3 3×3 valid →4 + max pool 2×2 same (a one-row conv output, one window row)", shape: [4, 9, 3], layers: () => [conv(4, 3, 1, "valid", "relu", 38), tf.layers.maxPooling2d({ poolSize: 2, padding: "same" })], convs: 1, denses: 0 },
  { label: "band: depthwise 5×5 same on 9×6×6, 3×3/2 same, 1×1/2 valid (odd heights, stride 2, stride above the kernel)", shape: [9, 6, 6], layers: () => [dw(5, 1, "same", "relu", 39), dw(3, 2, "same", "linear", 40), dw(1, 2, "valid", "linear", 41)], convs: 0, denses: 0, depthwises: 3 },
  { label: "band: depthwise 3×3 valid on 3×10×4 (a one-row output)", shape: [3, 10, 4], layers: () => [dw(3, 1, "valid", "relu6", 42)], convs: 0, denses: 0, depthwises: 1 },
  { label: "dense on 1 input → 5, and 5 → 4", shape: [1, 1, 1], layers: () => [tf.layers.flatten(), dense(5, 15, "relu"), dense(4, 16)], convs: 0, denses: 2 },
];

const calls = (source: string, kernel: string): number => source.match(new RegExp(`\\b${kernel}\\(`, "g"))?.length ?? 0;

beforeAll(useCpuBackend);

describe.each(CASES)("scalar kernels $label", (c) => {
  it("scalar = simd = int8 reference", async () => {
    const model = tf.sequential();
    model.add(tf.layers.inputLayer({ inputShape: c.shape }));
    c.layers().forEach((l) => model.add(l));
    const run = await runInt8Everywhere(model, await saveToTemp(model), c.shape, 16, 6);
    expect(calls(run.compiled.scalar.source, "conv_scalar_i8")).toBe(c.convs);
    expect(calls(run.compiled.scalar.source, "dense_scalar_i8")).toBe(c.denses);
    expect(calls(run.compiled.scalar.source, "depthwise_scalar_i8")).toBe(c.depthwises ?? 0);
    for (const k of ["conv_scalar_i8", "dense_scalar_i8", "depthwise_scalar_i8"]) expect(calls(run.compiled.simd.source, k)).toBe(0);
    run.reference.forEach((ref, i) => {
      expect(Array.from(run.scalar[i])).toEqual(Array.from(ref));
      expect(Array.from(run.simd[i])).toEqual(Array.from(ref));
    });
  });
});

describe("pair sums (the arithmetic conv_scalar_i8 relies on, in BigInt)", () => {
  const wrap64 = (v: bigint): bigint => BigInt.asIntN(64, v);
  const left = (a: bigint): bigint => BigInt.asIntN(32, a);
  const right = (a: bigint): bigint => BigInt.asIntN(32, (a - left(a)) >> 32n);

  it.each([
    ["the most negative left sum", -128n, 127n, 127n],
    ["the most positive left sum", -128n, -127n, 127n],
    ["opposite signs", 127n, -128n, -127n],
  ])("%s over MAX_PAIR_TAPS taps splits back into both pixels' sums", (_label, xLeft, xRight, w) => {
    let a = 0n;
    for (let t = 0; t < MAX_PAIR_TAPS; t++) a = wrap64(a + wrap64((xLeft + (xRight << 32n)) * w));
    const taps = BigInt(MAX_PAIR_TAPS);
    expect(left(a)).toBe(taps * xLeft * w);
    // The right pixel's sum as conv_i8's i32 accumulator holds it: modulo 2^32.
    expect(right(a)).toBe(BigInt.asIntN(32, taps * xRight * w));
  });

  it("one tap more could leave the low word", () => {
    expect(BigInt(MAX_PAIR_TAPS + 1) * 128n * 127n).toBeGreaterThan(2n ** 31n - 1n);
    expect(BigInt(MAX_PAIR_TAPS) * 128n * 127n).toBeLessThanOrEqual(2n ** 31n - 1n);
  });
});
