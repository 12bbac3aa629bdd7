// The 3-channel stride-2 3×3 conv kernel (conv_stem_i8, MobileNet's first layer): wherever the compiler picks it,
// the simd blob equals the int8 reference bit for bit (and the scalar blob, which never uses it). Odd and even
// inputs (same padding on all sides or only bottom/right), valid padding, output channels off 16 (partial stores),
// an odd output width (the last pixel paired with itself), a depthwise layer after it, and convs it must leave alone.
import * as tf from "@tensorflow/tfjs";
import { describeKernelCases, type KernelCase, seededConvInit } from "./int8-harness.js";

type Act = "linear" | "relu" | "relu6";
const stem = (filters: number, padding: "same" | "valid", activation: Act, seed: number, strides = 2, kernelSize = 3) =>
  tf.layers.conv2d({ filters, kernelSize, strides, padding, activation, ...seededConvInit(seed) });

const CASES: KernelCase[] = [
  { label: "12×12×3 same →16 relu6 (even: padding bottom/right only)", shape: [12, 12, 3], layers: () => [stem(16, "same", "relu6", 1)], uses: 1 },
  { label: "9×11×3 same →5 linear (odd: padding on every side, odd output width)", shape: [9, 11, 3], layers: () => [stem(5, "same", "linear", 2)], uses: 1 },
  { label: "7×10×3 valid →19 relu (a second block of 3)", shape: [7, 10, 3], layers: () => [stem(19, "valid", "relu", 3)], uses: 1 },
  { label: "3×3×3 valid →32 (a one-pixel output)", shape: [3, 3, 3], layers: () => [stem(32, "valid", "linear", 4)], uses: 1 },
  {
    label: "stem, depthwise, pointwise, dense (a MobileNet start)",
    shape: [10, 9, 3],
    layers: () => [stem(8, "same", "relu6", 5),
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", activation: "relu6", depthwiseInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: 6 }) }),
      tf.layers.conv2d({ filters: 12, kernelSize: 1, activation: "relu6", ...seededConvInit(7) }), tf.layers.flatten(), tf.layers.dense({ units: 4, ...seededConvInit(8) })],
    uses: 1,
  },
  { label: "3×3/1 on 3 channels (not the stem)", shape: [8, 8, 3], layers: () => [stem(8, "same", "relu", 9, 1)], uses: 0 },
  { label: "3×3/2 on 4 channels (not the stem)", shape: [8, 8, 4], layers: () => [stem(8, "same", "relu", 10)], uses: 0 },
  { label: "3×3/2 with a fused max pool (not the stem)", shape: [12, 12, 3], layers: () => [stem(8, "same", "relu", 11), tf.layers.maxPooling2d({ poolSize: 2 })], uses: 0 },
];

describeKernelCases("conv stem", "conv_stem_i8", CASES);
