// The depthwise 3×3 int8 kernel (depthwise3x3_i8): wherever the compiler picks it, the simd blob equals the int8
// reference bit for bit (and the scalar blob, which never uses it). Channel counts off 8 (a partial last block that
// reads the next pixel's bytes and stores only its own), stride 2 on odd and even inputs, same and valid padding,
// an input zero point other than −128, a one-pixel output, and depthwise layers it must leave to depthwise_i8.
import * as tf from "@tensorflow/tfjs";
import { describeKernelCases, type KernelCase } from "./int8-harness.js";

const dwInit = (seed: number) => ({
  depthwiseInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed }),
  biasInitializer: tf.initializers.randomNormal({ stddev: 0.4, seed: seed + 1 }),
});
type Act = "linear" | "relu" | "relu6";
const dw = (strides: number, padding: "same" | "valid", activation: Act, seed: number, kernelSize = 3, depthMultiplier = 1) =>
  tf.layers.depthwiseConv2d({ kernelSize, strides, padding, activation, depthMultiplier, ...dwInit(seed) });

const CASES: KernelCase[] = [
  { label: "8×8×16 same /1 relu6", shape: [8, 8, 16], layers: () => [dw(1, "same", "relu6", 1)], uses: 1 },
  { label: "7×9×13 same /1 linear (13 = 8 + a partial block of 5)", shape: [7, 9, 13], layers: () => [dw(1, "same", "linear", 2)], uses: 1 },
  { label: "9×9×3 same /2 relu (odd input, 3 of 8 lanes)", shape: [9, 9, 3], layers: () => [dw(2, "same", "relu", 3)], uses: 1 },
  { label: "10×6×17 same /2 relu6 (even input: padding bottom/right only)", shape: [10, 6, 17], layers: () => [dw(2, "same", "relu6", 4)], uses: 1 },
  { label: "11×7×1 valid /2 linear (one channel)", shape: [11, 7, 1], layers: () => [dw(2, "valid", "linear", 5)], uses: 1 },
  { label: "3×3×33 valid /1 (a one-pixel output, a last block of 1)", shape: [3, 3, 33], layers: () => [dw(1, "valid", "linear", 6)], uses: 1 },
  {
    label: "conv, then two depthwise (input zero point not −128), then dense",
    shape: [9, 8, 3],
    layers: () => [
      tf.layers.conv2d({ filters: 12, kernelSize: 1, activation: "linear", kernelInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: 7 }) }),
      dw(1, "same", "linear", 8), dw(2, "same", "relu6", 9), tf.layers.flatten(), tf.layers.dense({ units: 5 }),
    ],
    uses: 2,
  },
  { label: "depth multiplier 2 (left to depthwise_i8)", shape: [6, 6, 4], layers: () => [dw(1, "same", "relu", 10, 3, 2)], uses: 0 },
  { label: "5×5 window (left to depthwise_i8)", shape: [7, 7, 8], layers: () => [dw(1, "same", "relu", 11, 5)], uses: 0 },
  { label: "stride 3 (left to depthwise_i8)", shape: [9, 9, 8], layers: () => [dw(3, "valid", "relu", 12)], uses: 0 },
];

describeKernelCases("depthwise 3×3", "depthwise3x3_i8", CASES);
