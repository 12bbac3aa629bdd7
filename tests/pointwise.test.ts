// The pointwise (1×1) int8 kernel: wherever the compiler picks it, the simd blob equals the int8 reference bit for
// bit (and the scalar blob, which never uses it). Channels off multiples of 2 and 16, an odd pixel count, an input
// zero point other than −128, and 1×1 convs it must leave to other kernels. Every case runs 6 images on one
// instance: the first call widens the weights into the persistent buffer, the later ones reuse them.
import * as tf from "@tensorflow/tfjs";
import { describeKernelCases, type KernelCase, seededConvInit } from "./int8-harness.js";

const pw = (filters: number, activation: "linear" | "relu" | "relu6", seed: number, strides = 1) =>
  tf.layers.conv2d({ filters, kernelSize: 1, strides, activation, ...seededConvInit(seed) });

const CASES: KernelCase[] = [
  { label: "6×6×16 →32 relu6", shape: [6, 6, 16], layers: () => [pw(32, "relu6", 1)], uses: 1 },
  { label: "5×7×7 →5 linear (odd C, odd pixel count, 5 of 16 channels)", shape: [5, 7, 7], layers: () => [pw(5, "linear", 2)], uses: 1 },
  { label: "3×3×33 →30 relu (a second block of 14: partial stores of 8 + 4 + 2)", shape: [3, 3, 33], layers: () => [pw(30, "relu", 3)], uses: 1 },
  {
    label: "two layers, linear then pointwise (input zero point not −128), then dense",
    shape: [4, 5, 9],
    layers: () => [pw(12, "linear", 4), pw(23, "relu", 5), tf.layers.flatten(), tf.layers.dense({ units: 7, ...seededConvInit(6) })],
    uses: 2,
  },
  { label: "4×5×13 →40 relu6 (13 channels: the widened input's last 8 lanes hold 5, three blocks of 16)", shape: [4, 5, 13], layers: () => [pw(40, "relu6", 9)], uses: 1 },
  { label: "1×1×130 →17 (one pixel, paired with itself; 130 channels)", shape: [1, 1, 130], layers: () => [pw(17, "linear", 10)], uses: 1 },
  { label: "1×1 stride 2 (not pointwise)", shape: [6, 6, 8], layers: () => [pw(8, "relu", 7, 2)], uses: 0 },
  { label: "1×1 with a fused max pool (not pointwise)", shape: [6, 6, 8], layers: () => [pw(8, "relu", 8), tf.layers.maxPooling2d({ poolSize: 2 })], uses: 0 },
];

describeKernelCases("pointwise", "conv_pw_i8", CASES);
