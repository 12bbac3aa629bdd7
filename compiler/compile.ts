// The compiler driver: model file → graph → passes → layout → AssemblyScript → blob.
import { readFileSync, statSync } from "node:fs";
import { sizeOf, type Graph } from "./ir.js";
import { fileText, KilnError, quoteName } from "./errors.js";
import { loadLayersModel } from "./frontends/layers-model.js";
import { loadGraphModel } from "./frontends/graph-model.js";
import { detectModelFormat } from "./frontends/detect-format.js";
import { loadOnnxModel } from "./frontends/onnx/index.js";
import { FLOAT_PIPELINE, INT8_PIPELINE, runPipeline, passNames, type Pass } from "./passes/pipeline.js";
import type { Calibration, KeepFloat } from "./passes/quantize.js";
import { codegenOf } from "./codegen/exact-float.js";
import { layoutGraph, rawConstants } from "./codegen/layout.js";
import { calibrate, pixelsToInputs, type CalibrationEvaluator, type CalibrationMethod } from "./quant/calibrate.js";
import { calibrationSet, heldOutCount, type CalibrationSource } from "./quant/calibration-data.js";
import { calibrationSetWarnings } from "./quant/calibration-checks.js";
import { measureQuantError, type QuantReport } from "./quant/error-report.js";
import type { BufferRequest } from "./memory-plan.js";
import { emitModelSource } from "./codegen/model-source.js";
import { checkGeneratedSource } from "./codegen/source-guard.js";
import { MAX_BLOB_MEMORY_BYTES, MAX_MODEL_JSON_BYTES, mib } from "./limits.js";
import type { Layout } from "./codegen/layout.js";
import { kernelLibrary, kernelsCalled } from "./codegen/kernels.js";
import { buildManifest, type Manifest } from "./codegen/manifest.js";
import type { BuiltBlob } from "./built-blob.js";
import { build, startToolchain } from "./toolchain.js";
import { layerMacs } from "./ops/registry.js";
import { tensorOf } from "./ir.js";

export interface CompileOptions {
  quantize: "none" | "int8";
  target: "simd" | "scalar";
  pixelScale: number;
  pixelOffset: number;
  labels?: string[];
  /** Where the int8 calibration images come from: the caller reads them (the compiler opens no dataset). */
  calibration?: CalibrationSource;
  calibrationCount?: number;
  calibrationMethod?: CalibrationMethod;
  /**
   * Calibration images held out for the quantization error report (compiler/quant/error-report.ts): "auto" is 10 %
   * (at least 20, at most half the set and 200), a number is that many, 0 (the default here; the CLI's is "auto") none.
   */
  holdout?: number | "auto";
  /** The float evaluator calibration runs (default "fast"; both give the same ranges bit for bit). */
  calibrationEvaluator?: CalibrationEvaluator;
  /** Layers kept in float in an int8 blob (--keep-float): names after fusion, or automatic (passes/quantize.ts). */
  keepFloat?: KeepFloat;
  /** Progress and facts worth telling the user (calibration set, …). */
  log?: (line: string) => void;
  /** Called as calibration images are processed. */
  progress?: (done: number, total: number) => void;
  /** Called with the graph after the named pass (`--dump-after`). */
  dumpAfter?: { pass: string; print(graph: Graph): void };
}

export const DEFAULT_COMPILE_OPTIONS: CompileOptions = { quantize: "int8", target: "simd", pixelScale: 1 / 255, pixelOffset: 0 };

export interface CompiledModel extends BuiltBlob {
  manifest: Manifest;
  graph: Graph;
  source: string;
}

/**
 * What JSON.parse objected to and where (line and column), for a one-line message. V8's own text may quote the file
 * around the error, raw bytes and newlines included: that quote is dropped, and what is left is escaped.
 */
export function jsonSyntaxProblem(text: string, e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const position = /at position (\d+)/.exec(message);
  const what = message.replace(/ in JSON at position \d+[^]*$/, "").replace(/, (?:\.\.\.)?"[^]*"(?:\.\.\.)? is not valid JSON$/, "")
    .replace(/^Unexpected token/, "unexpected character");
  if (!position) return fileText(what, 120);
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  return `${fileText(what, 120)} at line ${line}, column ${before.length - before.lastIndexOf("\n")}`;
}

/** Reads a model file (ONNX, or a TF.js model.json of either kind; told apart by its bytes) into the float IR; a bad file only ever gives a KilnError. */
export function loadModel(path: string): Graph {
  const format = detectModelFormat(path);
  try {
    return format === "onnx" ? loadOnnxModel(path) : loadTfjsJson(path);
  } catch (e) {
    if (e instanceof KilnError) throw e;
    // The frontends check every value they read; this is the net under them, so a file never shows a stack trace.
    throw new KilnError(`${path}: cannot read this model (internal: ${fileText(String((e as Error)?.message), 200)})`);
  }
}

/** A TF.js model.json: parsed whole (bounded), then the layers or the graph-model frontend. */
function loadTfjsJson(path: string): Graph {
  const size = statSync(path).size;
  if (size > MAX_MODEL_JSON_BYTES) throw new KilnError(`${path}: ${mib(size)} is larger than Kiln reads for a model.json (limit ${mib(MAX_MODEL_JSON_BYTES)})`);
  let json: unknown, text = "";
  try {
    text = readFileSync(path, "utf8");
    json = JSON.parse(text);
  } catch (e) {
    throw new KilnError(`${path}: not valid JSON (${jsonSyntaxProblem(text, e)})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new KilnError(`${path}: expected a TF.js model.json object`);
  const model = json as Record<string, unknown>;
  return model.format === "graph-model" ? loadGraphModel(path, model) : loadLayersModel(path, model);
}

/** The passes for a compile: the float pipeline, or the int8 one calibrated as the options say. */
export function pipelineFor(options: CompileOptions): readonly Pass[] {
  if (options.quantize === "none") return FLOAT_PIPELINE;
  const split: CalibrationSplit = { calibrated: 0, heldOut: [], pixels: new Uint8Array(0), warnings: [] };
  return INT8_PIPELINE({
    pixelScale: options.pixelScale, pixelOffset: options.pixelOffset, log: options.log, keepFloat: options.keepFloat,
    calibrate: (graph) => calibrationOf(graph, options, split),
    report: (float, quantized) => reportOf(float, quantized, options, split),
  });
}

/** What calibration kept back for the error report, handed from the calibrate callback to the report one. */
interface CalibrationSplit {
  calibrated: number;
  /** The held-out images as the float graph takes them, and their pixels (the int8 input is quantized from these). */
  heldOut: Float32Array[];
  pixels: Uint8Array;
  warnings: string[];
}

/** The quantize pass's calibration: the options' images (all but the held-out last ones) run through the fused float graph. */
function calibrationOf(graph: Graph, options: CompileOptions, split: CalibrationSplit): Calibration {
  const set = calibrationSet(graph, options.calibration, options.calibrationCount ?? 500);
  const method = options.calibrationMethod ?? "minmax";
  const held = heldOutCount(set.count, options.holdout ?? 0);
  const calibrated = set.count - held;
  const size = sizeOf(tensorOf(graph, graph.inputs[0]).shape);
  const images = held > 0 ? `${set.description}: ${calibrated} for the ranges, the last ${held} held out for the error report` : set.description;
  options.log?.(`calibrating on ${images} (${method})`);
  const inputs = pixelsToInputs(graph, set.pixels, set.count, options.pixelScale, options.pixelOffset);
  const ranges = calibrate(graph, inputs.slice(0, calibrated), method, { evaluator: options.calibrationEvaluator, progress: options.progress });
  split.calibrated = calibrated;
  split.heldOut = inputs.slice(calibrated);
  split.pixels = set.pixels.subarray(calibrated * size, set.count * size);
  split.warnings = [...(set.warnings ?? []), ...calibrationSetWarnings(set.pixels, set.count, size, calibrated)];
  if (held === 0 && options.holdout !== 0 && options.holdout !== undefined) split.warnings.push(`only ${set.count} calibration image${set.count === 1 ? "" : "s"}: none held out, so no quantization error report`);
  return { ranges, images, method };
}

/**
 * The report runs the JS int8 reference twice per image (end to end, and each layer alone), at ~0.15 GMAC/s on this
 * project's machine (mnist-cnn and MobileNetV2 alike). With holdout "auto", a budget of multiply-accumulates bounds its
 * cost to ~7 s of CPU: mnist-cnn (1.2 M MACs) and LeNet-5 measure all 50 held-out images, MobileNetV2-224 (300 M) 1.
 * A number of held-out images given explicitly (--holdout N) is measured whole.
 */
export const REPORT_MAC_BUDGET = 1e9;

/** How many of `heldOut` images the report measures for a model of `macs` per inference (at least one). */
export function reportImages(heldOut: number, macs: number): number {
  return Math.min(heldOut, Math.max(1, Math.floor(REPORT_MAC_BUDGET / (2 * Math.max(1, macs)))));
}

/** The error report on the held-out images (none without them); the counts and all warnings go to the graph's meta for the manifest. */
function reportOf(float: Graph, quantized: Graph, options: CompileOptions, split: CalibrationSplit): QuantReport | undefined {
  const macs = float.nodes.reduce((sum, node) => sum + layerMacs(float, node), 0);
  const measured = options.holdout === "auto" ? reportImages(split.heldOut.length, macs) : split.heldOut.length;
  const size = sizeOf(tensorOf(float, float.inputs[0]).shape);
  const report = measured > 0
    ? measureQuantError(float, quantized, split.heldOut.slice(0, measured),
      { pixels: split.pixels.subarray(0, measured * size), pixelScale: options.pixelScale, pixelOffset: options.pixelOffset })
    : undefined;
  quantized.meta.calibrationCounts = { calibrated: split.calibrated, heldOut: split.heldOut.length };
  quantized.meta.quantWarnings = [...split.warnings, ...(report?.warnings ?? [])];
  return report;
}

export function optimize(graph: Graph, options: CompileOptions): Graph {
  const passes = pipelineFor(options);
  const dump = options.dumpAfter;
  if (dump && !passNames(passes).includes(dump.pass)) {
    throw new KilnError(`--dump-after: no pass named ${quoteName(dump.pass)} (passes: ${passNames(passes).join(", ")})`);
  }
  return runPipeline(graph, passes, { after: (name, g) => { if (dump?.pass === name) dump.print(g); } });
}

export interface GeneratedModel {
  graph: Graph;
  layout: Layout;
  source: string;
  manifest: Manifest;
}

/** A blob's whole memory: the weights segment, then the arena (the layout's end is where asc's own data starts). */
function checkMemory(layout: Layout): void {
  if (layout.end > MAX_BLOB_MEMORY_BYTES) {
    throw new KilnError(`the model needs ${mib(layout.end)} of blob memory (weights ${mib(layout.weights.length)}, activations and scratch ${mib(layout.plan.arenaBytes)}); Kiln blobs are limited to ${mib(MAX_BLOB_MEMORY_BYTES)}`);
  }
}

function checkLabels(graph: Graph, labels: string[] | undefined): void {
  if (!labels) return;
  const outputs = sizeOf(graph.tensors.get(graph.outputs[0])?.shape ?? []);
  if (labels.length !== outputs) throw new KilnError(`${labels.length} labels given, but the model has ${outputs} outputs; give one label per output`);
}

/** Everything up to the toolchain: passes, layout, the AssemblyScript source (checked by the source guard), the manifest. */
export function generateModel(input: Graph, options: CompileOptions): GeneratedModel {
  const graph = optimize(input, options);
  checkLabels(graph, options.labels);
  graph.meta.target = options.target;
  const int8 = options.quantize === "int8";
  const blobs = int8 ? new Map<string, Uint8Array>() : rawConstants(graph);
  const scratch: BufferRequest[] = [];
  graph.nodes.forEach((node, step) => {
    if (!int8) return;
    const def = codegenOf(node);
    for (const [name, bytes] of def.packInt8?.(node, graph) ?? []) blobs.set(name, bytes);
    const bytes = def.scratchInt8?.(node, graph) ?? 0;
    if (bytes > 0) scratch.push({ id: `${node.name}#scratch`, size: bytes, firstUse: step, lastUse: step });
    // Live over every step, so no other buffer ever shares its bytes and they survive from one run to the next.
    const kept = def.persistentInt8?.(node, graph) ?? 0;
    if (kept > 0) scratch.push({ id: `${node.name}#persistent`, size: kept, firstUse: 0, lastUse: graph.nodes.length });
  });
  const layout = layoutGraph(graph, blobs, scratch);
  checkMemory(layout);
  const layerCode = graph.nodes.map((node) => {
    const def = codegenOf(node);
    const ctx = {
      node,
      graph,
      inputShapes: node.inputs.map((n) => tensorOf(graph, n).shape),
      outputShape: tensorOf(graph, node.outputs[0]).shape,
      addr: layout.addr,
    };
    if (!int8) return def.emitFloat(ctx);
    if (!def.emitInt8) throw new KilnError(`node ${quoteName(node.name)} (op ${fileText(node.op)}) has no int8 kernel; compile with --quantize none`);
    return def.emitInt8(ctx);
  });
  const kernels = kernelLibrary();
  const source = emitModelSource(graph, layout, layerCode, kernels);
  checkGeneratedSource(source, graph.nodes.map((n) => n.name), kernels);
  const layerKernels = layerCode.map((code) => kernelsCalled(code, kernels));
  return { graph, layout, source, manifest: buildManifest(graph, layout, options, graph.nodes.map((node) => layerMacs(graph, node)), layerKernels) };
}

export async function compileGraph(input: Graph, options: CompileOptions): Promise<CompiledModel> {
  // Before the passes: the toolchain loads on its own thread while they (and calibration) run.
  startToolchain();
  const { graph, layout, source, manifest } = generateModel(input, options);
  const built = await build({
    source, weights: layout.weights, weightsBase: layout.weightsBase, memoryBase: layout.end,
    simd: options.target === "simd", manifest: manifest as unknown as Record<string, unknown>,
  });
  return { ...built, manifest: { ...manifest, contentHash: built.contentHash }, graph, source };
}

export async function compileFile(path: string, options: CompileOptions): Promise<CompiledModel> {
  return compileGraph(loadModel(path), options);
}
