// Trains a bundled example model on MNIST with TF.js in Node and saves it as a LayersModel.
import * as tf from "@tensorflow/tfjs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mnistPaths, readLabelledImages, type LabelledImages } from "../io/idx.js";
import { ARCHITECTURES } from "./architectures.js";
import { saveLayersModel } from "./save-model.js";
import { installFastConvFilterGrad } from "./conv-filter-grad.js";

const SEED = 1234;

function toTensors(set: LabelledImages, start: number, end: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const n = end - start;
  const size = set.height * set.width * set.channels;
  const floats = new Float32Array(n * size);
  for (let i = 0; i < n * size; i++) floats[i] = set.pixels[start * size + i] / 255;
  const xs = tf.tensor4d(floats, [n, set.height, set.width, set.channels]);
  const ys = tf.oneHot(tf.tensor1d(Array.from(set.labels.subarray(start, end)), "int32"), 10).toFloat() as tf.Tensor2D;
  return { xs, ys };
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? "mnist-cnn";
  const epochs = Number(process.env.KILN_EPOCHS ?? 3);
  const build = ARCHITECTURES[name];
  if (!build) {
    console.error(`kiln train: unknown model '${name}'. Known: ${Object.keys(ARCHITECTURES).join(", ")}`);
    process.exit(2);
  }
  await tf.setBackend("cpu");
  installFastConvFilterGrad();
  const paths = mnistPaths();
  const train = readLabelledImages(paths.trainImages, paths.trainLabels);
  const test = readLabelledImages(paths.testImages, paths.testLabels);
  const model = build(SEED);
  // The last layer emits logits, so the loss applies the softmax itself.
  const loss = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(yTrue, yPred);
  const optimizer = tf.train.adam(0.001);
  model.compile({ optimizer, loss, metrics: ["accuracy"] });
  model.summary();
  const batch = 8192;
  for (let epoch = 0; epoch < epochs; epoch++) {
    // Halving the step size each epoch settles the weights instead of bouncing around the minimum.
    (optimizer as unknown as { learningRate: number }).learningRate = 0.001 / 2 ** epoch;
    const started = Date.now();
    for (let start = 0; start < train.count; start += batch) {
      const { xs, ys } = toTensors(train, start, Math.min(train.count, start + batch));
      const h = await model.fit(xs, ys, { batchSize: 64, epochs: 1, shuffle: true, verbose: 0 });
      xs.dispose(); ys.dispose();
      const acc = (h.history.acc ?? h.history.accuracy)[0];
      process.stdout.write(`epoch ${epoch + 1}/${epochs} images ${Math.min(train.count, start + batch)} acc ${Number(acc).toFixed(4)} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    }
  }
  let correct = 0;
  for (let start = 0; start < test.count; start += 1000) {
    const { xs, ys } = toTensors(test, start, Math.min(test.count, start + 1000));
    const pred = (model.predict(xs) as tf.Tensor).argMax(-1).dataSync();
    const truth = ys.argMax(-1).dataSync();
    for (let i = 0; i < pred.length; i++) if (pred[i] === truth[i]) correct++;
    xs.dispose(); ys.dispose();
  }
  console.log(`float accuracy on the 10k MNIST test set: ${(100 * correct / test.count).toFixed(2)} %`);
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "models", name);
  await saveLayersModel(model, root);
  console.log(`saved ${root}/model.json`);
}

main().catch((e) => { console.error(e); process.exit(1); });
