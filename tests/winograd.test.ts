// The Winograd F(2×2, 3×3) int8 kernel: wherever the compiler picks it, the simd blob equals the int8 reference
// bit for bit (and the scalar blob, which never uses it). Shapes on purpose: odd output sides (tiles overhang),
// channels off multiples of 8/16, input zero points other than −128, pools it fuses and pools it leaves alone.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, it } from "vitest";
import { useCpuBackend } from "./helpers.js";
import { expectKernelExact } from "./int8-harness.js";

interface WinoCase {
  label: string;
  shape: [number, number, number];
  layers: () => tf.layers.Layer[];
  /** How many layers must have compiled to conv_wino_i8 (so a case cannot pass by silently not using it). */
  winograd: number;
}

const init = (seed: number, stddev = 0.4) => ({
  kernelInitializer: tf.initializers.randomNormal({ stddev, seed }),
  biasInitializer: tf.initializers.randomNormal({ stddev, seed: seed + 1 }),
});
const conv = (filters: number, padding: "same" | "valid", activation: "linear" | "relu" | "relu6", seed: number, stddev?: number) =>
  tf.layers.conv2d({ filters, kernelSize: 3, padding, activation, ...init(seed, stddev) });
const maxPool = (padding: "same" | "valid", strides = 2) => tf.layers.maxPooling2d({ poolSize: 2, strides, padding });

const CASES: WinoCase[] = [
  { label: "8×8×4 same →16 relu", shape: [8, 8, 4], layers: () => [conv(16, "same", "relu", 1)], winograd: 1 },
  { label: "7×9×5 same →3 linear (odd sides: tiles overhang)", shape: [7, 9, 5], layers: () => [conv(3, "same", "linear", 2)], winograd: 1 },
  { label: "9×6×13 valid →17 relu6", shape: [9, 6, 13], layers: () => [conv(17, "valid", "relu6", 3)], winograd: 1 },
  { label: "10×10×16 valid →32 relu (even, no padding copy)", shape: [10, 10, 16], layers: () => [conv(32, "valid", "relu", 4)], winograd: 1 },
  { label: "14×14×16 same →32 relu +maxpool 2×2/2", shape: [14, 14, 16], layers: () => [conv(32, "same", "relu", 5), maxPool("valid")], winograd: 1 },
  { label: "11×9×17 same →5 linear +maxpool 2×2/2 (odd conv output)", shape: [11, 9, 17], layers: () => [conv(5, "same", "linear", 6), maxPool("valid")], winograd: 1 },
  { label: "9×9×8 same →8 +maxpool same (pool padded: not fused into Winograd)", shape: [9, 9, 8], layers: () => [conv(8, "same", "relu", 7), maxPool("same")], winograd: 0 },
  { label: "8×8×8 same →8 +avgpool (not Winograd)", shape: [8, 8, 8], layers: () => [conv(8, "same", "relu", 8), tf.layers.averagePooling2d({ poolSize: 2, strides: 2 })], winograd: 0 },
  { label: "8×8×8 same →8 +maxpool 2×2/1 (not Winograd)", shape: [8, 8, 8], layers: () => [conv(8, "same", "relu", 9), maxPool("valid", 1)], winograd: 0 },
  {
    label: "two layers, linear then 3×3 (input zero point not −128), then dense",
    shape: [9, 9, 3],
    layers: () => [conv(12, "same", "linear", 10), conv(9, "same", "relu", 11), tf.layers.flatten(), tf.layers.dense({ units: 10, ...init(12) })],
    winograd: 1,
  },
  { label: "6×6×64 same →33, large weights (sums near the int8 extremes)", shape: [6, 6, 64], layers: () => [conv(33, "same", "linear", 13, 2)], winograd: 1 },
];

beforeAll(useCpuBackend);

describe.each(CASES)("winograd $label", (wc) => {
  it("simd = scalar = int8 reference", async () => {
    await expectKernelExact(wc.shape, wc.layers(), "conv_wino_i8", wc.winograd);
  });
});
