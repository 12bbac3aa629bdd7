// MobileNetV2 (Sandler et al. 2018, width 1.0) built with tf.layers, random weights: a real-sized network for timing.
import * as tf from "@tensorflow/tfjs";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { saveLayersModel } from "./save-model.js";

/** Expansion t, output channels c, repeats n, first stride s: the paper's table 2. */
const BLOCKS: [number, number, number, number][] = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

/**
 * Keras' MobileNetV2 layer for layer (conv without bias + BatchNorm + ReLU6, inverted residual blocks with a linear
 * bottleneck and Add where shapes allow, 1×1 conv to 1280, global average pool, 1000-way softmax), at `size`×`size`×3.
 * "same" padding throughout (Keras pads stride-2 depthwise convs explicitly; the MAC count is the same).
 */
export function mobilenetV2(seed: number, size = 224, classes = 1000): tf.LayersModel {
  let n = 0;
  const init = () => tf.initializers.heNormal({ seed: seed + ++n });
  const bn = (x: tf.SymbolicTensor, name: string) => tf.layers.batchNormalization({
    epsilon: 1e-3, momentum: 0.999, name,
    gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed + 1000 + ++n }),
    betaInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 2000 + ++n }),
  }).apply(x) as tf.SymbolicTensor;
  const relu6 = (x: tf.SymbolicTensor, name: string) => tf.layers.reLU({ maxValue: 6, name }).apply(x) as tf.SymbolicTensor;
  const conv = (x: tf.SymbolicTensor, filters: number, kernel: number, strides: number, name: string) =>
    tf.layers.conv2d({ filters, kernelSize: kernel, strides, padding: "same", useBias: false, kernelInitializer: init(), name }).apply(x) as tf.SymbolicTensor;
  const depthwise = (x: tf.SymbolicTensor, strides: number, name: string) =>
    tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: "same", useBias: false, depthwiseInitializer: init(), name }).apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: [size, size, 3], name: "image" });
  let x = relu6(bn(conv(input, 32, 3, 2, "Conv1"), "bn_Conv1"), "Conv1_relu");
  let channels = 32, block = 0;
  for (const [t, c, repeats, s] of BLOCKS) {
    for (let r = 0; r < repeats; r++) {
      const name = `block_${block++}`, stride = r === 0 ? s : 1;
      let y = x;
      if (t !== 1) y = relu6(bn(conv(y, channels * t, 1, 1, `${name}_expand`), `${name}_expand_BN`), `${name}_expand_relu`);
      y = relu6(bn(depthwise(y, stride, `${name}_depthwise`), `${name}_depthwise_BN`), `${name}_depthwise_relu`);
      y = bn(conv(y, c, 1, 1, `${name}_project`), `${name}_project_BN`);
      x = stride === 1 && channels === c ? tf.layers.add({ name: `${name}_add` }).apply([x, y]) as tf.SymbolicTensor : y;
      channels = c;
    }
  }
  x = relu6(bn(conv(x, 1280, 1, 1, "Conv_1"), "Conv_1_bn"), "out_relu");
  x = tf.layers.globalAveragePooling2d({ name: "global_average_pooling2d" }).apply(x) as tf.SymbolicTensor;
  const probabilities = tf.layers.dense({ units: classes, activation: "softmax", kernelInitializer: init(), name: "predictions" }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: probabilities, name: `mobilenetv2_1.00_${size}` });
}

/** A fixed pseudo-random byte stream (LCG): calibration pixels for random weights, repeatable without Math.random. */
function randomPixels(count: number, seed: number): Uint8Array {
  let state = seed >>> 0;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

/**
 * `node dist/models/mobilenet-v2.js <dir> [size] [images]`: saves the model to <dir>/model.json and `images` random
 * calibration images to <dir>/calibration.u8, e.g. for timing `kiln compile <dir>/model.json --calibration <dir>/calibration.u8`.
 */
async function main(): Promise<void> {
  const [dir, size = "224", images = "200"] = process.argv.slice(2);
  if (!dir) throw new Error("usage: node dist/models/mobilenet-v2.js <dir> [size] [images]");
  const model = mobilenetV2(1234, Number(size));
  await saveLayersModel(model, dir);
  writeFileSync(join(dir, "calibration.u8"), randomPixels(Number(images) * Number(size) ** 2 * 3, 99));
  console.log(`${join(dir, "model.json")}: ${model.countParams()} parameters; ${images} calibration images`);
  model.dispose();
}

if (process.argv[1]?.endsWith("mobilenet-v2.js")) main().catch((e) => { console.error(e); process.exit(1); });
