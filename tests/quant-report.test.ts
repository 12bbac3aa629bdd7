// The quantization error report: a model whose first conv has one outlier output channel (×1000), so int8's per-tensor
// scale crushes its other channels; the report must name that layer worst, and its figures must match a comparison
// computed here from TF.js float outputs and the compiled blob's outputs on the held-out images.
import * as tf from "@tensorflow/tfjs";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileFile, DEFAULT_COMPILE_OPTIONS, generateModel, loadModel, optimize, type CompiledModel, type CompileOptions } from "../compiler/compile.js";
import { build } from "../compiler/toolchain.js";
import { heldOutCount, pixelCalibration } from "../compiler/quant/calibration-data.js";
import { calibrate, pixelsToInputs } from "../compiler/quant/calibrate.js";
import { quantizeGraph } from "../compiler/quant/quantize.js";
import { measureQuantError } from "../compiler/quant/error-report.js";
import { quantizePixels, runInt8 } from "../compiler/int8-interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../compiler/passes/pipeline.js";
import { fusePool } from "../compiler/passes/fuse-pool.js";
import { inspectBlob, Model } from "../runtime/model.js";
import type { Manifest, QuantReport } from "../runtime/manifest.js";
import { MANIFEST_LIMITS, validateManifest } from "../runtime/manifest-check.js";
import { inspectCommand } from "../bin/commands/inspect.js";
import { compileCommand } from "../bin/commands/compile.js";
import { calibrationImages } from "../bin/calibration.js";
import { encodeGrayPng } from "../io/images.js";
import { randomPixels } from "./int8-harness.js";
import { argmax, saveToTemp, seededRandom, tempDir, useCpuBackend } from "./helpers.js";

const SHAPE = [8, 8, 1];
const SIZE = 64;
const IMAGES = 300;
const OUTLIER = 1000;

/** conv1 (8 filters, filter 0 ×1000) → conv2 → flatten → dense logits; seeded weights. */
function outlierModel(): tf.LayersModel {
  const rand = seededRandom(11);
  const weights = (shape: number[], scale: number) => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() * 2 - 1) * scale), shape);
  const input = tf.input({ shape: SHAPE });
  const conv1 = tf.layers.conv2d({ name: "conv1", filters: 8, kernelSize: 3, activation: "relu" });
  const conv2 = tf.layers.conv2d({ name: "conv2", filters: 8, kernelSize: 3, activation: "relu" });
  const dense = tf.layers.dense({ name: "logits", units: 10 });
  const out = dense.apply(tf.layers.flatten({ name: "flatten" }).apply(conv2.apply(conv1.apply(input)))) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const k1 = weights([3, 3, 1, 8], 0.5).arraySync() as number[][][][];
  for (const row of k1) for (const col of row) col[0][0] *= OUTLIER;
  conv1.setWeights([tf.tensor(k1), weights([8], 0.1)]);
  conv2.setWeights([weights([3, 3, 8, 8], 0.3), weights([8], 0.1)]);
  dense.setWeights([weights([128, 10], 0.2), weights([10], 0.1)]);
  return model;
}

let modelJson: string;
let tfModel: tf.LayersModel;
let pixels: Uint8Array;
let compiled: CompiledModel;

const options = (pixels: Uint8Array, extra: Partial<CompileOptions> = {}): CompileOptions =>
  ({ ...DEFAULT_COMPILE_OPTIONS, quantize: "int8", calibration: pixelCalibration(pixels, "test pixels"), calibrationCount: 1000, holdout: "auto", ...extra });

beforeAll(async () => {
  await useCpuBackend();
  tfModel = outlierModel();
  modelJson = await saveToTemp(tfModel);
  pixels = randomPixels(IMAGES, SIZE, 5);
  compiled = await compileFile(modelJson, options(pixels));
});

/** 10·log10(Σ f² / Σ (f − q)²), written out here independently of the compiler. */
function sqnr(float: number[][], quantized: number[][]): number {
  let signal = 0, noise = 0;
  float.forEach((f, i) => f.forEach((v, k) => { signal += v * v; noise += (v - quantized[i][k]) ** 2; }));
  return 10 * Math.log10(signal / noise);
}

describe("the quantization error report", () => {
  it("holds out the last 10 % (at least 20, at most half) and says so in the manifest", () => {
    expect([heldOutCount(1, "auto"), heldOutCount(30, "auto"), heldOutCount(100, "auto"), heldOutCount(300, "auto"), heldOutCount(5000, "auto")]).toEqual([0, 15, 20, 30, 200]);
    expect(heldOutCount(300, 0)).toBe(0);
    const q = compiled.manifest.quantization!;
    expect(q.calibrated).toBe(270);
    expect(q.heldOut).toBe(30);
    expect(q.report!.images).toBe(30);
  });

  it("names the layer with the outlier channel worst, and warns about it", () => {
    const report = compiled.manifest.quantization!.report!;
    expect(report.layers.map((l) => l.name)).toEqual(["conv1", "conv2", "flatten", "logits"]);
    expect(report.worst[0]).toBe("conv1");
    // A reshape adds no error of its own (its figures are conv2's rounding): it ranks last, the convs do not pass through.
    expect(report.layers.map((l) => l.passThrough === true)).toEqual([false, false, true, false]);
    expect(report.worst.at(-1)).toBe("flatten");
    const conv1 = report.layers[0];
    // Its whole tensor is the outlier channel's (well quantized); its other channels are crushed to a few levels.
    expect(conv1.channelSqnrDb!).toBeLessThan(20);
    expect(conv1.ownSqnrDb!).toBeGreaterThan(conv1.channelSqnrDb! + 10);
    for (const l of report.layers.slice(1)) expect(Math.min(l.ownSqnrDb ?? Infinity, l.channelSqnrDb ?? Infinity)).toBeGreaterThan(20);
    const warnings = compiled.manifest.quantization!.warnings!;
    expect(warnings.filter((w) => w.includes("'conv1'"))).toHaveLength(1);
    expect(warnings.some((w) => /'conv2'|'logits'|'flatten'/.test(w))).toBe(false);
    expect(warnings.some((w) => w.includes("calibration used only"))).toBe(false);
  });

  it("agrees with TF.js float against the blob's dequantized outputs on the held-out images", async () => {
    const heldOut = Array.from({ length: 30 }, (_v, i) => pixels.subarray((270 + i) * SIZE, (271 + i) * SIZE));
    const floats = heldOut.map((p) => Array.from((tfModel.predict(tf.tensor(Array.from(p, (v) => v / 255), [1, ...SHAPE])) as tf.Tensor).dataSync()));
    const blob = await Model.load(compiled.wasm);
    const { scale, zeroPoint } = compiled.manifest.output;
    const ints = heldOut.map((p) => { blob.predict(p); return Array.from(blob.rawOutput() as Int8Array, (q) => (q - zeroPoint!) * scale!); });
    const report = compiled.manifest.quantization!.report!;
    const logits = report.layers.find((l) => l.name === "logits")!;
    expect(logits.sqnrDb!).toBeCloseTo(sqnr(floats, ints), 1);
    const maxError = Math.max(...floats.flatMap((f, i) => f.map((v, k) => Math.abs(v - ints[i][k]))));
    expect(logits.maxAbsError).toBeCloseTo(maxError, 3);
    const agreement = floats.filter((f, i) => argmax(f) === argmax(ints[i])).length / floats.length;
    expect(report.agreement).toBe(agreement);
  });

  it("warns about a small calibration set and about all-zero images", async () => {
    const few = await compileFile(modelJson, options(pixels.subarray(0, 30 * SIZE)));
    expect(few.manifest.quantization!.heldOut).toBe(15);
    expect(few.manifest.quantization!.warnings!.some((w) => /calibration used only 15 images/.test(w))).toBe(true);
    const zeros = await compileFile(modelJson, options(new Uint8Array(200 * SIZE)));
    expect(zeros.manifest.quantization!.warnings!.some((w) => /all 200 calibration images are all zero/.test(w))).toBe(true);
    const narrow = await compileFile(modelJson, options(pixels.map((p) => 100 + (p % 20))));
    expect(narrow.manifest.quantization!.warnings!.some((w) => /use only the values 100–119 of 0–255/.test(w))).toBe(true);
    const folder = join(tempDir(), "wide");
    mkdirSync(folder);
    for (let i = 0; i < 24; i++) writeFileSync(join(folder, `${i}.png`), encodeGrayPng(randomPixels(1, 8 * 16, 40 + i), 8, 16));
    const wide = await compileFile(modelJson, options(pixels, { calibration: calibrationImages(folder) }));
    expect(wide.manifest.quantization!.warnings!.some((w) => /24 of 24 calibration images have another aspect ratio than the model's 8×8 and were stretched \(e\.g\. 16×8 grey → 8×8 grey, stretched\)/.test(w))).toBe(true);
    // None of these on the real set.
    expect(compiled.manifest.quantization!.warnings!.some((w) => /zero|values .* of 0–255/.test(w))).toBe(false);
  });

  it("is off with --holdout 0 and without held-out images; the same compile gives the same bytes", async () => {
    const off = await compileFile(modelJson, options(pixels, { holdout: 0 }));
    expect(off.manifest.quantization!.report).toBeUndefined();
    expect(off.manifest.quantization!.calibrated).toBe(IMAGES);
    const one = await compileFile(modelJson, options(pixels.subarray(0, SIZE)));
    expect(one.manifest.quantization!.report).toBeUndefined();
    expect(one.manifest.quantization!.warnings!.some((w) => /none held out/.test(w))).toBe(true);
    const again = await compileFile(modelJson, options(pixels));
    expect(Buffer.from(again.wasm).equals(Buffer.from(compiled.wasm))).toBe(true);
    // compileFile measures the report while the blob builds and seals the manifest again; built in one go, it is the same file.
    const generated = generateModel(loadModel(modelJson), options(pixels));
    expect(generated.manifest.quantization!.report).toBeDefined();
    const direct = await build({
      source: generated.source, weights: generated.layout.weights, weightsBase: generated.layout.weightsBase, memoryBase: generated.layout.end,
      simd: true, manifest: generated.manifest as unknown as Record<string, unknown>,
    });
    expect(Buffer.from(direct.wasm).equals(Buffer.from(compiled.wasm))).toBe(true);
    expect(compiled.sizes.total).toBe(compiled.wasm.length);
  });

  it("round-trips through the blob's manifest and kiln inspect", async () => {
    const info = (await inspectBlob(compiled.wasm)).info;
    const expected: QuantReport = JSON.parse(JSON.stringify(compiled.manifest.quantization!.report));
    expect(info.quantization!.report).toEqual(expected);
    const path = join(tempDir(), "outlier.wasm");
    writeFileSync(path, compiled.wasm);
    const out: string[] = [];
    await inspectCommand([path], { out: (l) => out.push(l), err: (l) => out.push(l) });
    const text = out.join("\n");
    expect(text).toMatch(/quantization error on 30 held-out images \(not among the 270 calibrated on\)/);
    expect(text).toMatch(/warning: layer 'conv1' \(conv2d\+relu\): int8 hurts/);
    const rows = out.filter((l) => /^ {2}(conv1|conv2|flatten|logits) /.test(l)).map((l) => l.trim().split(/\s+/)[0]);
    expect(rows).toEqual(expected.worst);
  });

  it("kiln compile prints the report after the sizes and the warnings on stderr; --json carries it", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "calibration.u8"), pixels);
    const run = async (...extra: string[]) => {
      const out: string[] = [], err: string[] = [];
      await compileCommand([modelJson, "-o", join(dir, "m.wasm"), "--calibration", join(dir, "calibration.u8"), ...extra], { out: (l) => out.push(l), err: (l) => err.push(l) });
      return { out, err };
    };
    const text = await run();
    const at = text.out.findIndex((l) => l.startsWith("quantization error on 30 held-out images"));
    expect(at).toBeGreaterThan(text.out.findIndex((l) => l.startsWith("  arena")));
    expect(text.out[at + 1]).toMatch(/top-1 agreement int8 vs float: \d+\.\d\d %/);
    expect(text.err.filter((l) => l.startsWith("warning: layer 'conv1'"))).toHaveLength(1);
    const json = JSON.parse((await run("--json", "--holdout", "40")).out[0]) as { quantization: { heldOut: number; report: QuantReport } };
    expect(json.quantization.heldOut).toBe(40);
    expect(json.quantization.report.worst[0]).toBe("conv1");
    expect(json.quantization.report.seconds).toBeGreaterThan(0);
  });

  it("a hostile manifest's report fields are refused, naming the field", () => {
    const good = JSON.parse(JSON.stringify(compiled.manifest)) as Manifest;
    expect(validateManifest(good).quantization!.report!.worst[0]).toBe("conv1");
    const broken = (edit: (q: Record<string, unknown>, r: Record<string, unknown>, layer: Record<string, unknown>) => void): unknown => {
      const m = JSON.parse(JSON.stringify(good)) as { quantization: Record<string, unknown> & { report: Record<string, unknown> & { layers: Record<string, unknown>[] } } };
      edit(m.quantization, m.quantization.report, m.quantization.report.layers[0]);
      return m;
    };
    const cases: [string, (q: Record<string, unknown>, r: Record<string, unknown>, l: Record<string, unknown>) => void, RegExp][] = [
      ["agreement above 1", (_q, r) => { r.agreement = 1.5; }, /quantization\.report\.agreement must be within 0…1/],
      ["an unknown layer among the worst", (_q, r) => { r.worst = ["nope"]; }, /quantization\.report\.worst\[0\] must name a layer of the report/],
      ["a string SQNR", (_q, _r, l) => { l.sqnrDb = "40"; }, /quantization\.report\.layers\[0\]\.sqnrDb must be a finite number/],
      ["a negative max error", (_q, _r, l) => { l.maxAbsError = -1; }, /layers\[0\]\.maxAbsError must not be negative/],
      ["a zero scale", (_q, _r, l) => { l.scale = 0; }, /layers\[0\]\.scale must be positive or null/],
      ["a non-number image count", (_q, r) => { r.images = "30"; }, /quantization\.report\.images must be a whole number/],
      ["too many report layers", (_q, r) => { r.layers = new Array(MANIFEST_LIMITS.layers + 1).fill(0); }, /quantization\.report\.layers has 10001 entries/],
      ["a warning that is not a string", (q) => { q.warnings = [{}]; }, /quantization\.warnings\[0\] must be a string/],
      ["too many warnings", (q) => { q.warnings = new Array(MANIFEST_LIMITS.warnings + 1).fill("x"); }, /quantization\.warnings has \d+ entries/],
      ["a fractional held-out count", (q) => { q.heldOut = 2.5; }, /quantization\.heldOut must be a whole number/],
      ["a report that is a list", (q) => { q.report = []; }, /quantization\.report must be an object/],
    ];
    for (const [what, edit, message] of cases) expect(() => validateManifest(broken(edit)), what).toThrow(message);
  });

  it("compares a layer kept in float directly and leaves the quantize/dequantize steps out (a mixed graph)", () => {
    const mixed = optimize(loadModel(modelJson), options(pixels, { keepFloat: ["conv1"] }));
    expect(mixed.nodes.some((n) => n.op === "dequantize" || n.op === "quantize")).toBe(true);
    const report = mixed.meta.quantReport as QuantReport;
    expect(report.layers.map((l) => l.name)).toEqual(["conv1", "conv2", "flatten", "logits"]);
    const conv1 = report.layers[0];
    // Alone on the float model's input, a float layer computes the float reference itself: no error, no scale.
    expect(conv1.ownSqnrDb).toBeNull();
    expect(conv1.scale).toBeNull();
    expect(report.worst[0]).not.toBe("conv1");
  });

  it("warns when top-1 agreement drops below 98 % (ranges calibrated on blank images, measured on real ones)", () => {
    const fused = runPipeline(loadModel(modelJson), [...FLOAT_PIPELINE, { name: "fuse-pool", run: fusePool }]);
    const blank = new Uint8Array(20 * SIZE).fill(128);
    const quantized = quantizeGraph(fused, calibrate(fused, pixelsToInputs(fused, blank, 20, 1 / 255, 0)), { pixelScale: 1 / 255, pixelOffset: 0 });
    const held = pixels.subarray(0, 50 * SIZE);
    const report = measureQuantError(fused, quantized, pixelsToInputs(fused, held, 50, 1 / 255, 0), { pixels: held, pixelScale: 1 / 255, pixelOffset: 0 });
    // Agreement recomputed with TF.js (float) and the int8 reference interpreter, image by image.
    let agree = 0;
    for (let i = 0; i < 50; i++) {
      const p = held.subarray(i * SIZE, (i + 1) * SIZE);
      const float = (tfModel.predict(tf.tensor(Array.from(p, (v) => v / 255), [1, ...SHAPE])) as tf.Tensor).dataSync();
      if (argmax(float) === argmax(runInt8(quantized, quantizePixels(quantized, p, 1 / 255, 0)))) agree++;
    }
    expect(report.agreement).toBe(agree / 50);
    expect(report.agreement).toBeLessThan(0.98);
    expect(report.warnings.filter((w) => /agrees with float on the top-1 class of \d+\.\d % of 50 held-out images \(below 98 %\)/.test(w))).toHaveLength(1);
  });
});
