// Keras definitions of the example models that `npm run train` can train.
import * as tf from "@tensorflow/tfjs";

export type Architecture = (seed: number) => tf.LayersModel;

/** The classic course CNN for MNIST: two conv+ReLU+pool stages, then two dense layers. */
function mnistCnn(seed: number): tf.LayersModel {
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  return tf.sequential({
    name: "mnist_cnn",
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: init(1), name: "conv1" }),
      tf.layers.maxPooling2d({ poolSize: 2, name: "pool1" }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: init(2), name: "conv2" }),
      tf.layers.maxPooling2d({ poolSize: 2, name: "pool2" }),
      tf.layers.flatten({ name: "flatten" }),
      tf.layers.dense({ units: 128, activation: "relu", kernelInitializer: init(3), name: "fc1" }),
      tf.layers.dense({ units: 10, kernelInitializer: init(4), name: "logits" }),
    ],
  });
}

/** LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, Keras style: two 5×5 conv stages, then 120-84-10 dense. */
function lenet5(seed: number): tf.LayersModel {
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  return tf.sequential({
    name: "lenet5",
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: "same", activation: "relu", kernelInitializer: init(1), name: "conv1" }),
      tf.layers.maxPooling2d({ poolSize: 2, name: "pool1" }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, padding: "valid", activation: "relu", kernelInitializer: init(2), name: "conv2" }),
      tf.layers.maxPooling2d({ poolSize: 2, name: "pool2" }),
      tf.layers.flatten({ name: "flatten" }),
      tf.layers.dense({ units: 120, activation: "relu", kernelInitializer: init(3), name: "fc1" }),
      tf.layers.dense({ units: 84, activation: "relu", kernelInitializer: init(4), name: "fc2" }),
      tf.layers.dense({ units: 10, kernelInitializer: init(5), name: "logits" }),
    ],
  });
}

export const ARCHITECTURES: Record<string, Architecture> = {
  "mnist-cnn": mnistCnn,
  lenet5,
};
