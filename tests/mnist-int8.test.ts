// The bundled MNIST CNN in int8: accuracy and agreement with float on the 10k test set, bit-exactness, size.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { mnistPaths, readLabelledImages, type LabelledImages } from "../io/idx.js";
import { compileFile, DEFAULT_COMPILE_OPTIONS, type CompiledModel } from "../compiler/compile.js";
import { calibrationImages } from "../bin/calibration.js";
import { quantizePixels, runInt8 } from "../compiler/int8-interpreter.js";
import { Model } from "../runtime/model.js";

const MODEL = join(import.meta.dirname, "..", "models", "mnist-cnn", "model.json");
const REFERENCE_COUNT = 1000;

let test: LabelledImages;
const compiled: Partial<Record<"simd" | "scalar" | "float", CompiledModel>> = {};
const outputs: Partial<Record<"simd" | "scalar", Int8Array[]>> = {};
const predictions: Partial<Record<"simd" | "float", Int32Array>> = {};

beforeAll(async () => {
  const paths = mnistPaths();
  test = readLabelledImages(paths.testImages, paths.testLabels);
  compiled.float = await compileFile(MODEL, { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" });
  for (const target of ["simd", "scalar"] as const) compiled[target] = await compileFile(MODEL, { ...DEFAULT_COMPILE_OPTIONS, quantize: "int8", target, calibration: calibrationImages() });
  for (const kind of ["simd", "scalar", "float"] as const) {
    const model = await Model.load(compiled[kind]!.wasm);
    const preds = new Int32Array(test.count);
    const raws: Int8Array[] = [];
    for (let i = 0; i < test.count; i++) {
      preds[i] = model.predict(test.pixels.subarray(i * 784, (i + 1) * 784)).index;
      if (kind !== "float") raws.push(model.rawOutput() as Int8Array);
    }
    if (kind !== "float") outputs[kind] = raws;
    if (kind !== "scalar") predictions[kind] = preds;
  }
});

describe("mnist-cnn int8", () => {
  it("simd and scalar blobs give identical outputs on all 10k test images", () => {
    let differing = 0;
    for (let i = 0; i < test.count; i++) if (outputs.simd![i].some((v, j) => v !== outputs.scalar![i][j])) differing++;
    expect(differing).toBe(0);
  });

  it(`the blobs equal the int8 reference bit for bit on ${REFERENCE_COUNT} test images`, () => {
    const graph = compiled.simd!.graph;
    let differing = 0;
    for (let i = 0; i < REFERENCE_COUNT; i++) {
      const ref = runInt8(graph, quantizePixels(graph, test.pixels.subarray(i * 784, (i + 1) * 784), 1 / 255, 0));
      if (ref.some((v, j) => v !== outputs.simd![i][j])) differing++;
    }
    expect(differing).toBe(0);
  });

  it("loses at most 0.3 pp of accuracy and agrees with float on ≥ 99.5 % of the 10k test images", () => {
    let floatCorrect = 0, int8Correct = 0, agree = 0;
    for (let i = 0; i < test.count; i++) {
      if (predictions.float![i] === test.labels[i]) floatCorrect++;
      if (predictions.simd![i] === test.labels[i]) int8Correct++;
      if (predictions.float![i] === predictions.simd![i]) agree++;
    }
    expect(floatCorrect / test.count).toBeGreaterThanOrEqual(0.985);
    expect(int8Correct / test.count).toBeGreaterThanOrEqual(floatCorrect / test.count - 0.003);
    expect(agree / test.count).toBeGreaterThanOrEqual(0.995);
  });

  it("fuses conv+relu+maxpool and quantizes the pixels exactly", () => {
    const m = compiled.simd!.manifest;
    expect(m.layers.map((l) => l.fused.join("+"))).toEqual(["conv2d+relu+max_pool", "conv2d+relu+max_pool", "reshape", "dense+relu", "dense"]);
    expect(m.input).toMatchObject({ dtype: "int8", scale: 1 / 255, zeroPoint: -128 });
  });

  it("is at most int8 weight + bias bytes + 6 KiB, has no imports and validates", () => {
    for (const target of ["simd", "scalar"] as const) {
      const { wasm, graph } = compiled[target]!;
      let parameterBytes = 0;
      for (const node of graph.nodes) for (const input of node.inputs.slice(1)) parameterBytes += graph.tensors.get(input)?.data?.byteLength ?? 0;
      expect(wasm.length).toBeLessThanOrEqual(parameterBytes + 6 * 1024);
      expect(WebAssembly.validate(wasm)).toBe(true);
      expect(WebAssembly.Module.imports(new WebAssembly.Module(wasm))).toEqual([]);
    }
  });
});
