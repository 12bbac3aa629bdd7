// The benchmark's models: the trained MNIST ones in models/, and a random-weight MobileNet-style net built with TF.js.
import * as tf from "@tensorflow/tfjs";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mnistPaths, readIdx } from "../../io/idx.js";
import { saveLayersModel } from "../../models/save-model.js";
import { KilnError } from "../../compiler/errors.js";
import { MOBILENETV2_SIDE, nsfwjsVersion, syntheticImages, unpackNsfwjsMobileNetV2 } from "./nsfwjs-model.js";

export interface BenchModel {
  name: string;
  /** The TF.js LayersModel file that every engine starts from. */
  modelJson: string;
  /** NHWC input shape without the batch dimension. */
  shape: [number, number, number];
  /** The one input every engine runs on: uint8 pixels, NHWC; model units are pixel / 255. */
  pixels: Uint8Array;
  /** Calibration images for int8 (undefined: Kiln's default, MNIST training digits). */
  calibration?: string;
  /** What the weights are, for the report. */
  weights: string;
  /** Share of --runs and --warmup this model gets (default 1): big models take fewer, so the bench stays short. */
  runShare?: number;
  /** Run the pure-JS tfjs cpu reference only for the checks, not timed (it is seconds per run on a big model). */
  untimedReference?: boolean;
}

export const MODEL_NAMES = ["mnist-cnn", "lenet5", "mobilenet-96", "mobilenetv2-224"] as const;

/** Calibration images for the real MobileNetV2: enough for stable minmax ranges, few enough for a short compile. */
const MOBILENETV2_CALIBRATION_IMAGES = 32;

/** The repository root, found from this file's place in dist/bin/bench/. */
export function repoRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
}

/** A fixed pseudo-random byte stream (LCG), so runs are repeatable without Math.random. */
export function randomBytes(count: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** The first image of the MNIST test set: a real digit, so activations look like they do in use. */
function firstTestDigit(): Uint8Array {
  const images = readIdx(mnistPaths().testImages);
  return images.data.slice(0, 28 * 28);
}

function mnistModel(name: string): BenchModel {
  const modelJson = join(repoRoot(), "models", name, "model.json");
  if (!existsSync(modelJson)) throw new KilnError(`${modelJson} not found: train it first (npm run train -- ${name})`);
  return { name, modelJson, shape: [28, 28, 1], pixels: firstTestDigit(), weights: "trained on MNIST" };
}

/**
 * A MobileNet-style network at 96×96×3: a stride-2 stem, depthwise-separable blocks with ReLU6,
 * one inverted residual block (expand 1×1, depthwise 3×3, linear project 1×1, Add), global average pool, dense.
 */
export function mobilenet96(seed: number): tf.LayersModel {
  let n = 0;
  const init = () => tf.initializers.heNormal({ seed: seed + ++n });
  const bias = () => tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 1000 + ++n });
  const conv = (x: tf.SymbolicTensor, filters: number, kernel: number, strides: number, activation: "relu6" | "linear", name: string) =>
    tf.layers.conv2d({ filters, kernelSize: kernel, strides, padding: "same", activation, kernelInitializer: init(), biasInitializer: bias(), name }).apply(x) as tf.SymbolicTensor;
  const dw = (x: tf.SymbolicTensor, strides: number, name: string) =>
    tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: "same", activation: "relu6", depthwiseInitializer: init(), biasInitializer: bias(), name }).apply(x) as tf.SymbolicTensor;
  const input = tf.input({ shape: [96, 96, 3], name: "image" });
  let x = conv(input, 16, 3, 2, "relu6", "stem");                 // 48×48×16
  x = conv(dw(x, 1, "dw1"), 32, 1, 1, "relu6", "pw1");              // 48×48×32
  x = conv(dw(x, 2, "dw2"), 64, 1, 1, "relu6", "pw2");              // 24×24×64
  const expanded = conv(x, 128, 1, 1, "relu6", "ir_expand");        // 24×24×128
  const projected = conv(dw(expanded, 1, "ir_dw"), 64, 1, 1, "linear", "ir_project");
  x = tf.layers.add({ name: "ir_add" }).apply([x, projected]) as tf.SymbolicTensor;
  x = conv(dw(x, 2, "dw3"), 128, 1, 1, "relu6", "pw3");             // 12×12×128
  x = tf.layers.globalAveragePooling2d({ name: "gap" }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 10, kernelInitializer: init(), name: "logits" }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: "mobilenet_96" });
}

async function mobilenetModel(workDir: string): Promise<BenchModel> {
  const dir = join(workDir, "mobilenet-96");
  const model = mobilenet96(4321);
  await saveLayersModel(model, dir);
  model.dispose();
  // int8 calibration needs representative inputs; for random weights, random pixels are as representative as any.
  const calibration = join(workDir, "mobilenet-96-calibration.u8");
  writeFileSync(calibration, randomBytes(32 * 96 * 96 * 3, 99));
  return {
    name: "mobilenet-96", modelJson: join(dir, "model.json"), shape: [96, 96, 3], pixels: randomBytes(96 * 96 * 3, 7),
    calibration, weights: "random (timing only)",
  };
}

/** nsfwjs's MobileNetV2 (trained; 5 classes), calibrated and run on synthetic images. */
async function mobilenetV2Model(workDir: string): Promise<BenchModel> {
  const modelJson = await unpackNsfwjsMobileNetV2(join(workDir, "mobilenetv2-224"));
  const side = MOBILENETV2_SIDE, size = side * side * 3;
  const calibration = join(workDir, "mobilenetv2-224-calibration.u8");
  writeFileSync(calibration, syntheticImages(MOBILENETV2_CALIBRATION_IMAGES, side, 2024));
  return {
    name: "mobilenetv2-224", modelJson, shape: [side, side, 3], pixels: syntheticImages(1, side, 77).subarray(0, size),
    calibration, weights: `nsfwjs ${nsfwjsVersion()} MobileNetV2, trained, uint8-quantized weights; synthetic images`, runShare: 0.1, untimedReference: true,
  };
}

/** A temporary folder for the generated model, its calibration images and the compiled blobs. */
export function benchWorkDir(): string {
  return mkdtempSync(join(tmpdir(), "kiln-bench-"));
}

export async function loadBenchModels(names: string[], workDir: string): Promise<BenchModel[]> {
  const out: BenchModel[] = [];
  for (const name of names) {
    if (name === "mobilenet-96") out.push(await mobilenetModel(workDir));
    else if (name === "mobilenetv2-224") out.push(await mobilenetV2Model(workDir));
    else if (name === "mnist-cnn" || name === "lenet5") out.push(mnistModel(name));
    else throw new Error(`unknown model '${name}' (known: ${MODEL_NAMES.join(", ")})`);
  }
  return out;
}

/** Model units (pixel / 255) as floats in NHWC, for TF.js. */
export function nhwcFloats(m: BenchModel): Float32Array {
  return Float32Array.from(m.pixels, (p) => p / 255);
}

/** The same input in NCHW, as an ONNX Runtime user would prepare it (the exported model takes NCHW). */
export function nchwFloats(m: BenchModel): Float32Array {
  const [h, w, c] = m.shape;
  const out = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) {
    out[ch * h * w + y * w + x] = m.pixels[(y * w + x) * c + ch] / 255;
  }
  return out;
}
