// Tests as data: small Keras models, one per op and edge case, run on every backend Kiln has.
import * as tf from "@tensorflow/tfjs";

export interface OpCase {
  name: string;
  inputShape: [number, number, number] | [number];
  /** Layers of a Sequential model … */
  build?(seed: number): tf.layers.Layer[];
  /** … or a functional graph from the input tensor to the output. */
  functional?(input: tf.SymbolicTensor, seed: number): tf.SymbolicTensor;
}

const init = (seed: number) => ({
  kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed }),
  biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: seed + 1 }),
});

export const OP_CASES: OpCase[] = [
  { name: "conv 3×3 same, odd channels 3→5, relu", inputShape: [9, 9, 3],
    build: (s) => [tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: "same", activation: "relu", ...init(s) })] },
  { name: "conv 5×5 valid stride 2", inputShape: [13, 11, 2],
    build: (s) => [tf.layers.conv2d({ filters: 7, kernelSize: 5, strides: 2, padding: "valid", ...init(s) })] },
  { name: "conv 3×3 same stride 2 on odd size (asymmetric padding)", inputShape: [7, 7, 4],
    build: (s) => [tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: "same", ...init(s) })] },
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
];

/** The TF.js model of a case: Sequential from `build`, or functional from `functional`. */
export function buildCase(c: OpCase, seed = 42): tf.LayersModel {
  if (c.functional) {
    const input = tf.input({ shape: c.inputShape });
    return tf.model({ inputs: input, outputs: c.functional(input, seed) });
  }
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape: c.inputShape }));
  for (const layer of c.build!(seed)) model.add(layer);
  return model;
}
