// Tests as data: small Keras models, one per op and edge case, run on every backend Kiln has.
import * as tf from "@tensorflow/tfjs";

export interface OpCase {
  name: string;
  inputShape: [number, number, number] | [number];
  /** Layers of a Sequential model … */
  build?(seed: number): tf.layers.Layer[];
  /** … or a functional graph from the input tensor to the output. */
  functional?(input: tf.SymbolicTensor, seed: number): tf.SymbolicTensor;
  /** Int8 error budget against TF.js float, in output quantization steps (default 6: a few per quantized layer). */
  int8Steps?: number;
}

const normal = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });
export const init = (seed: number) => ({ kernelInitializer: normal(seed), biasInitializer: normal(seed + 1) });
export const depthwiseInit = (seed: number) => ({ depthwiseInitializer: normal(seed), biasInitializer: normal(seed + 1) });
export const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor => layer.apply(x) as tf.SymbolicTensor;

const MOBILENET_BLOCK = "MobileNet-ish block: conv/2 relu6 → depthwise relu6 → 1×1 conv + skip → GAP → dense softmax";

export const OP_CASES: OpCase[] = [
  { name: "conv 3×3 same, odd channels 3→5, relu", inputShape: [9, 9, 3],
    build: (s) => [tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: "same", activation: "relu", ...init(s) })] },
  { name: "conv 5×5 valid stride 2", inputShape: [13, 11, 2],
    build: (s) => [tf.layers.conv2d({ filters: 7, kernelSize: 5, strides: 2, padding: "valid", ...init(s) })] },
  { name: "conv 3×3 same stride 2 on odd size (asymmetric padding)", inputShape: [7, 7, 4],
    build: (s) => [tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: "same", ...init(s) })] },
  { name: "conv 3×3 same stride 2 on 3 channels →20, relu6 (the stem kernel: even size, padding bottom/right only; 16 + 4 filters)", inputShape: [10, 10, 3],
    build: (s) => [tf.layers.conv2d({ filters: 20, kernelSize: 3, strides: 2, padding: "same", activation: "relu6", ...init(s) })] },
  { name: "conv 4×4 same strides [2,1] (even kernel)", inputShape: [8, 6, 3],
    build: (s) => [tf.layers.conv2d({ filters: 6, kernelSize: 4, strides: [2, 1], padding: "same", ...init(s) })] },
  { name: "conv 1×1 without bias, 17 channels", inputShape: [5, 5, 17],
    build: (s) => [tf.layers.conv2d({ filters: 17, kernelSize: 1, useBias: false, ...init(s) })] },
  { name: "conv 3×1 relu6 via ReLU(max_value=6)", inputShape: [6, 6, 2],
    build: (s) => [tf.layers.conv2d({ filters: 4, kernelSize: [3, 1], padding: "same", ...init(s) }), tf.layers.reLU({ maxValue: 6 })] },
  { name: "max pool 2×2 valid", inputShape: [8, 8, 3],
    build: () => [tf.layers.maxPooling2d({ poolSize: 2 })] },
  { name: "max pool 3×3 same stride 2 on 7×7", inputShape: [7, 7, 5],
    build: () => [tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" })] },
  { name: "avg pool 3×3 same stride 1 (border divisors)", inputShape: [5, 6, 3],
    build: () => [tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: "same" })] },
  { name: "avg pool 2×2 valid on odd size", inputShape: [7, 7, 2],
    build: () => [tf.layers.averagePooling2d({ poolSize: 2, padding: "valid" })] },
  { name: "flatten + dense relu6 + dropout + dense softmax", inputShape: [4, 4, 3],
    build: (s) => [tf.layers.flatten(), tf.layers.dense({ units: 13, activation: "relu6", ...init(s) }), tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({ units: 5, activation: "softmax", ...init(s + 7) })] },
  { name: "dense sigmoid, dense tanh on a vector", inputShape: [20],
    build: (s) => [tf.layers.dense({ units: 9, activation: "sigmoid", ...init(s) }), tf.layers.dense({ units: 6, activation: "tanh", ...init(s + 3) })] },
  { name: "Activation and ReLU layers, Reshape", inputShape: [4, 4, 2],
    build: (s) => [tf.layers.conv2d({ filters: 4, kernelSize: 3, ...init(s) }), tf.layers.activation({ activation: "relu" }),
      tf.layers.reshape({ targetShape: [2, 2, 4] }), tf.layers.reLU(), tf.layers.flatten(), tf.layers.dense({ units: 3, ...init(s + 5) })] },
  { name: "conv same + max pool same + avg pool chain, 16 channels", inputShape: [10, 10, 1],
    build: (s) => [tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: "same", activation: "relu", ...init(s) }),
      tf.layers.maxPooling2d({ poolSize: 2, padding: "same" }), tf.layers.averagePooling2d({ poolSize: 2 })] },
  { name: "ZeroPadding2D then VALID conv (folded into the conv's padding)", inputShape: [6, 5, 3],
    build: (s) => [tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), tf.layers.conv2d({ filters: 4, kernelSize: 3, ...init(s) })] },
  { name: "ZeroPadding2D alone, Cropping2D, LeakyReLU", inputShape: [6, 6, 2],
    build: () => [tf.layers.zeroPadding2d({ padding: 1 }), tf.layers.cropping2D({ cropping: [[2, 1], [0, 3]] }), tf.layers.leakyReLU({ alpha: 0.2 })] },
  { name: "conv + ReLU(max_value=3) + global max pool + dense", inputShape: [7, 7, 3],
    build: (s) => [tf.layers.conv2d({ filters: 6, kernelSize: 3, ...init(s) }), tf.layers.reLU({ maxValue: 3 }), tf.layers.globalMaxPooling2d({}),
      tf.layers.dense({ units: 4, ...init(s + 2) })] },
  { name: "SeparableConv2D relu, stride 2, depth multiplier 2", inputShape: [9, 9, 3],
    build: (s) => [tf.layers.separableConv2d({ filters: 5, kernelSize: 3, strides: 2, padding: "same", depthMultiplier: 2, activation: "relu",
      depthwiseInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: s }), pointwiseInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: s + 1 }),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: s + 2 }) })] },
  { name: "Rescaling before a SAME conv (kept as a per-channel affine)", inputShape: [5, 5, 2],
    build: (s) => [tf.layers.rescaling({ scale: 2, offset: -1 }), tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same", ...init(s) })] },
  { name: "functional: two branches concatenated and multiplied", inputShape: [6, 6, 2],
    functional: (input, s) => {
      const a = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same", activation: "relu", ...init(s) }).apply(input) as tf.SymbolicTensor;
      const b = tf.layers.conv2d({ filters: 2, kernelSize: 1, ...init(s + 4) }).apply(input) as tf.SymbolicTensor;
      const joined = tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor;
      const gate = tf.layers.conv2d({ filters: 5, kernelSize: 1, activation: "sigmoid", ...init(s + 8) }).apply(input) as tf.SymbolicTensor;
      return tf.layers.multiply().apply([joined, gate]) as tf.SymbolicTensor;
    } },
  // Int8 budgets of the next six: measured worst cases are about 1.3 for one depthwise layer, 3.3 for the residual
  // model (GAP's output scale is finer than the add's, so the add's error counts double there) and 2 for the block.
  { name: "depthwise 3×3 same stride 1 dm 1, relu6, 11 channels", inputShape: [9, 9, 11], int8Steps: 2,
    build: (s) => [tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", activation: "relu6", ...depthwiseInit(s) })] },
  { name: "depthwise 3×3 same stride 2 dm 1 on an odd size, 13 channels (padding on every side, a partial block of 5)", inputShape: [9, 7, 13], int8Steps: 2,
    build: (s) => [tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: "same", ...depthwiseInit(s) })] },
  { name: "depthwise 3×3 valid stride 2 dm 2, 5 channels", inputShape: [11, 10, 5], int8Steps: 2,
    build: (s) => [tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: "valid", depthMultiplier: 2, ...depthwiseInit(s) })] },
  { name: "depthwise 5×5 same on 7×7 without bias, dm 3, 6 channels", inputShape: [7, 7, 6], int8Steps: 2,
    build: (s) => [tf.layers.depthwiseConv2d({ kernelSize: 5, padding: "same", depthMultiplier: 3, useBias: false, ...depthwiseInit(s) })] },
  // 7·7·5 = 245 values: add_i8's SIMD loop plus a scalar tail of 5.
  { name: "residual Add (conv → ReLU → conv) + input, GlobalAveragePooling2D, Dense", inputShape: [7, 7, 5], int8Steps: 5,
    functional: (input, s) => {
      const c1 = apply(tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: "same", ...init(s) }), input);
      const c2 = apply(tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: "same", ...init(s + 2) }), apply(tf.layers.reLU(), c1));
      const pooled = apply(tf.layers.globalAveragePooling2d({}), apply(tf.layers.add(), [input, c2]));
      return apply(tf.layers.dense({ units: 5, ...init(s + 4) }), pooled);
    } },
  { name: MOBILENET_BLOCK, inputShape: [12, 12, 3], int8Steps: 4,
    functional: (input, s) => {
      const stem = apply(tf.layers.conv2d({ filters: 12, kernelSize: 3, strides: 2, padding: "same", activation: "relu6", ...init(s) }), input);
      const dw = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", activation: "relu6", ...depthwiseInit(s + 2) }), stem);
      const pw = apply(tf.layers.conv2d({ filters: 12, kernelSize: 1, ...init(s + 4) }), dw);
      const pooled = apply(tf.layers.globalAveragePooling2d({}), apply(tf.layers.add(), [stem, pw]));
      return apply(tf.layers.dense({ units: 4, activation: "softmax", ...init(s + 6) }), pooled);
    } },
];

/** The case with every op of a MobileNet block (conv, depthwise, add, global average pool, dense, softmax). */
export const mobileNetBlock = (): OpCase => OP_CASES.find((c) => c.name === MOBILENET_BLOCK)!;

/** The TF.js model of a case: Sequential from `build`, or functional from `functional`. */
export function buildCase(c: OpCase, seed = 42): tf.LayersModel {
  if (c.functional) {
    const input = tf.input({ shape: c.inputShape });
    return tf.model({ inputs: input, outputs: c.functional(input, seed) });
  }
  return sequential(c.inputShape, c.build!(seed));
}

/** A Sequential model of `layers` on an input of `inputShape` (without the batch dimension). */
export function sequential(inputShape: number[], layers: tf.layers.Layer[]): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape }));
  for (const layer of layers) model.add(layer);
  return model;
}
