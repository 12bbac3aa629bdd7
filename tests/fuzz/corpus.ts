// The seed corpus: valid files made by the project itself, which the fuzzers then mutate.
import * as tf from "@tensorflow/tfjs";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { compileFile, DEFAULT_COMPILE_OPTIONS } from "../../compiler/compile.js";
import { calibrationImages } from "../../bin/calibration.js";
import { mnistPaths, readIdx } from "../../io/idx.js";
import { encodeGrayPng } from "../../io/images.js";
import { saveLayersModel } from "../../models/save-model.js";
import { convertLayersModel } from "../graph-model-writer.js";
import { ROOT } from "./paths.js";

const IMAGES = 16;

/** A small sequential CNN on MNIST-shaped input, so int8 calibration can use MNIST digits. */
function sequentialModel(): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  const m = tf.sequential({ name: "fuzz_seq" });
  m.add(tf.layers.conv2d({ name: "conv", inputShape: [28, 28, 1], filters: 4, kernelSize: 3, strides: 2, activation: "relu", kernelInitializer: init(1) }));
  m.add(tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }));
  m.add(tf.layers.flatten({ name: "flat" }));
  m.add(tf.layers.dense({ name: "logits", units: 10, activation: "softmax", kernelInitializer: init(2) }));
  return m;
}

/** A functional model: branches, Add, Concatenate, BatchNorm, depthwise conv (inbound_nodes to mutate). */
function functionalModel(): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  const input = tf.input({ shape: [28, 28, 1], name: "image" });
  const a = tf.layers.conv2d({ name: "a", filters: 4, kernelSize: 3, strides: 2, padding: "same", activation: "relu", kernelInitializer: init(3) }).apply(input) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ name: "b", filters: 4, kernelSize: 1, strides: 2, kernelInitializer: init(4) }).apply(input) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: "sum" }).apply([a, b]) as tf.SymbolicTensor;
  const norm = tf.layers.batchNormalization({ name: "norm" }).apply(sum) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, padding: "same", depthwiseInitializer: init(5) }).apply(norm) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: "cat" }).apply([dw, a]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: "gap" }).apply(cat) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: "out", units: 10, kernelInitializer: init(6) }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ name: "fuzz_func", inputs: input, outputs: out });
}

/** Splits a saved model's one shard into two files, so shard concatenation is fuzzed too. */
function splitShard(dir: string): void {
  const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as { weightsManifest: { paths: string[] }[] };
  const bin = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
  const half = 4 * Math.floor(bin.length / 8);
  writeFileSync(join(dir, "group1-shard1of2.bin"), bin.subarray(0, half));
  writeFileSync(join(dir, "group1-shard2of2.bin"), bin.subarray(half));
  json.weightsManifest[0].paths = ["group1-shard1of2.bin", "group1-shard2of2.bin"];
  writeFileSync(join(dir, "model.json"), JSON.stringify(json));
}

function idxFile(dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  header.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => new DataView(header.buffer).setUint32(4 + 4 * i, d, false));
  return Buffer.concat([header, data]);
}

/** RGBA pixels of a soft diagonal gradient (colour seeds). */
function gradient(height: number, width: number): Uint8Array {
  const rgba = new Uint8Array(height * width * 4);
  for (let p = 0; p < height * width; p++) rgba.set([(p * 7) & 255, (p * 3) & 255, 255 - (p & 255), 128 + (p & 127)], 4 * p);
  return rgba;
}

/** Builds every target's seeds under `dir` (a few seconds: two tiny compiles). */
export async function buildCorpus(dir: string): Promise<void> {
  await tf.setBackend("cpu");
  const require = createRequire(import.meta.url);
  const { PNG } = require("pngjs") as typeof import("pngjs");
  const jpeg = require("jpeg-js") as typeof import("jpeg-js");
  const sub = (name: string): string => { const d = join(dir, name); mkdirSync(d, { recursive: true }); return d; };

  const seq = sequentialModel(), func = functionalModel();
  await saveLayersModel(seq, sub("layers/sequential"));
  await saveLayersModel(func, sub("layers/functional"));
  splitShard(join(dir, "layers/functional"));
  cpSync(join(ROOT, "models/lenet5"), sub("layers/lenet5"), { recursive: true, filter: (f) => !f.endsWith(".md") });
  convertLayersModel(seq).save(sub("graph/sequential"));
  convertLayersModel(func).save(sub("graph/functional"), { quantizeUint8: true });

  const seqJson = join(dir, "layers/sequential/model.json");
  const float = await compileFile(seqJson, { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" });
  const int8 = await compileFile(seqJson, { ...DEFAULT_COMPILE_OPTIONS, calibration: calibrationImages(), calibrationCount: 8 });
  writeFileSync(join(sub("blob"), "float.wasm"), float.wasm);
  writeFileSync(join(sub("blob"), "int8.wasm"), int8.wasm);

  const mnist = readIdx(mnistPaths().testImages, IMAGES);
  const labels = readIdx(mnistPaths().testLabels, IMAGES);
  const images = idxFile([IMAGES, 28, 28], mnist.data.subarray(0, IMAGES * 784));
  writeFileSync(join(sub("idx"), "images.idx"), images);
  writeFileSync(join(dir, "idx/labels.idx"), idxFile([IMAGES], labels.data.subarray(0, IMAGES)));
  writeFileSync(join(dir, "idx/images.idx.gz"), gzipSync(images));
  writeFileSync(join(sub("u8"), "digits.u8"), mnist.data.subarray(0, 2 * 784));

  const digit = mnist.data.subarray(0, 784);
  writeFileSync(join(sub("png"), "gray.png"), encodeGrayPng(digit, 28, 28));
  for (const [name, colorType, side] of [["rgb.png", 2, 8], ["rgba.png", 6, 16]] as const) {
    const png = new PNG({ width: side, height: side });
    png.data = Buffer.from(gradient(side, side));
    writeFileSync(join(dir, "png", name), PNG.sync.write(png, { colorType }));
  }
  const grayRgba = new Uint8Array(784 * 4);
  digit.forEach((v, i) => grayRgba.set([v, v, v, 255], 4 * i));
  writeFileSync(join(sub("jpeg"), "gray.jpg"), jpeg.encode({ data: grayRgba, width: 28, height: 28 }, 90).data);
  writeFileSync(join(dir, "jpeg/color.jpg"), jpeg.encode({ data: gradient(16, 16), width: 16, height: 16 }, 50).data);
}
