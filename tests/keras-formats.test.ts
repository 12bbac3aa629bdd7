// Model files as users bring them: converter-quantized weights (uint8, uint16, float16) and Keras 3 style configs.
import * as tf from "@tensorflow/tfjs";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileAndLoad, maxAbsDiff, saveToTemp, useCpuBackend } from "./helpers.js";

beforeAll(useCpuBackend);

interface Spec { name: string; shape: number[]; dtype: string; quantization?: { dtype: string; scale?: number; min?: number } }

function toFloat16(v: number): number {
  const f = new Float32Array([v]), u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000, exp = ((u >>> 23) & 0xff) - 127 + 15, frac = u & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | Math.round(frac / 8192);
}

/** Re-encodes a saved model's weights the way `tensorflowjs_converter --quantize_*` does. */
function quantizeWeights(modelJson: string, dtype: "uint8" | "uint16" | "float16"): string {
  const json = JSON.parse(readFileSync(modelJson, "utf8"));
  const group = json.weightsManifest[0];
  const raw = readFileSync(join(dirname(modelJson), group.paths[0]));
  const floats = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const parts: Buffer[] = [];
  let at = 0;
  for (const spec of group.weights as Spec[]) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const w = floats.subarray(at, at + n);
    at += n;
    if (dtype === "float16") {
      parts.push(Buffer.from(Uint16Array.from(w, toFloat16).buffer));
      spec.quantization = { dtype };
      continue;
    }
    const levels = dtype === "uint8" ? 255 : 65535;
    const min = Math.min(...w), max = Math.max(...w);
    const scale = max > min ? (max - min) / levels : 1;
    const q = Array.from(w, (v) => Math.round((v - min) / scale));
    parts.push(Buffer.from((dtype === "uint8" ? Uint8Array.from(q) : Uint16Array.from(q)).buffer));
    spec.quantization = { dtype, scale, min };
  }
  const out = join(dirname(modelJson), `model-${dtype}.json`);
  group.paths = [`weights-${dtype}.bin`];
  writeFileSync(join(dirname(modelJson), group.paths[0]), Buffer.concat(parts));
  writeFileSync(out, JSON.stringify(json));
  return out;
}

/** TF.js's own loader is the reference for how quantized weights decode. */
async function tfjsLoad(modelJson: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(modelJson, "utf8"));
  const weightData = new Uint8Array(readFileSync(join(dirname(modelJson), json.weightsManifest[0].paths[0]))).buffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
}

describe("converter-quantized weights", () => {
  let base: string;
  const x = tf.randomNormal([1, 8, 8, 2], 0, 1, "float32", 3);
  beforeAll(async () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, activation: "relu" }),
      tf.layers.flatten(), tf.layers.dense({ units: 5 })] });
    base = await saveToTemp(model);
  });

  it.each(["uint8", "uint16", "float16"] as const)("%s weights decode as TF.js decodes them", async (dtype) => {
    const path = quantizeWeights(base, dtype);
    const reference = await tfjsLoad(path);
    const expected = (reference.predict(x) as tf.Tensor).dataSync();
    const blob = await compileAndLoad(path, { quantize: "none" });
    expect(maxAbsDiff(blob.predict(x.dataSync() as Float32Array).scores, expected)).toBeLessThanOrEqual(1e-4);
  });
});

describe("Keras 3 style config", () => {
  it("reads Functional + batch_shape + keras_history inbound nodes + nested configs", async () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: "relu", name: "c1" }),
      tf.layers.flatten({ name: "f" }), tf.layers.dense({ units: 4, name: "d" })] });
    const path = await saveToTemp(model);
    const json = JSON.parse(readFileSync(path, "utf8"));
    const policy = { module: "keras", class_name: "DTypePolicy", config: { name: "float32" }, registered_name: null };
    const history = (name: string) => ({ args: [{ class_name: "__keras_tensor__", config: { shape: [null], dtype: "float32", keras_history: [name, 0, 0] } }], kwargs: {} });
    const layers = json.modelTopology.config.layers.map((l: { class_name: string; config: Record<string, unknown> }) => ({
      module: "keras.layers", class_name: l.class_name, registered_name: null, name: l.config.name,
      config: { ...l.config, dtype: policy, batch_input_shape: undefined },
    }));
    layers.unshift({ module: "keras.layers", class_name: "InputLayer", name: "inp", config: { batch_shape: [null, 6, 6, 1], dtype: "float32", name: "inp" }, inbound_nodes: [] });
    layers.forEach((l: Record<string, unknown>, i: number) => { if (i > 0) l.inbound_nodes = [history(layers[i - 1].name as string)]; });
    json.modelTopology = { class_name: "Functional", config: { name: "k3", layers, input_layers: [["inp", 0, 0]], output_layers: [["d", 0, 0]] } };
    writeFileSync(path, JSON.stringify(json));
    const x = tf.randomNormal([1, 6, 6, 1], 0, 1, "float32", 9);
    const expected = (model.predict(x) as tf.Tensor).dataSync();
    const blob = await compileAndLoad(path, { quantize: "none" });
    expect(maxAbsDiff(blob.predict(x.dataSync() as Float32Array).scores, expected)).toBeLessThanOrEqual(1e-4);
  });
});
