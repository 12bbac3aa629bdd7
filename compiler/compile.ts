// The compiler driver: model file → graph → passes → layout → AssemblyScript → blob.
import { readFileSync, statSync } from "node:fs";
import { sizeOf, type Graph } from "./ir.js";
import { fileText, KilnError, quoteName } from "./errors.js";
import { loadLayersModel } from "./frontends/layers-model.js";
import { loadGraphModel } from "./frontends/graph-model.js";
import { detectModelFormat } from "./frontends/detect-format.js";
import { loadOnnxModel } from "./frontends/onnx/index.js";
import { FLOAT_PIPELINE, INT8_PIPELINE, runPipeline, passNames, type Pass } from "./passes/pipeline.js";
import type { KeepFloat } from "./passes/quantize.js";
import { codegenOf } from "./codegen/exact-float.js";
import { layoutGraph, rawConstants } from "./codegen/layout.js";
import type { CalibrationEvaluator, CalibrationMethod } from "./quant/calibrate.js";
import type { CalibrationSource } from "./quant/calibration-data.js";
import { calibrationOf, newSplit, reportOf, resealed, type CalibrationSplit } from "./quant/compile-report.js";
import type { BufferRequest } from "./memory-plan.js";
import { emitModelSource } from "./codegen/model-source.js";
import { checkGeneratedSource } from "./codegen/source-guard.js";
import { MAX_BLOB_MEMORY_BYTES, MAX_MODEL_JSON_BYTES, mib } from "./limits.js";
import type { Layout } from "./codegen/layout.js";
import { kernelLibrary, kernelsCalled } from "./codegen/kernels.js";
import { buildManifest, quantizationInfo, type Manifest } from "./codegen/manifest.js";
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

/**
 * The passes for a compile: the float pipeline, or the int8 one calibrated as the options say. `split` holds what
 * calibration keeps back for the error report (compiler/quant/compile-report.ts).
 */
export function pipelineFor(options: CompileOptions, split: CalibrationSplit = newSplit()): readonly Pass[] {
  if (options.quantize === "none") return FLOAT_PIPELINE;
  return INT8_PIPELINE({
    pixelScale: options.pixelScale, pixelOffset: options.pixelOffset, log: options.log, keepFloat: options.keepFloat,
    calibrate: (graph) => calibrationOf(graph, options, split),
    report: (float, quantized) => reportOf(float, quantized, options, split),
  });
}

export function optimize(graph: Graph, options: CompileOptions, split?: CalibrationSplit): Graph {
  const passes = pipelineFor(options, split);
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
export function generateModel(input: Graph, options: CompileOptions, split?: CalibrationSplit): GeneratedModel {
  const graph = optimize(input, options, split);
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
  // The error report changes only the manifest: it is measured on the blob, then sealed in (split.measureLater).
  const split = newSplit(true);
  const { graph, layout, source, manifest } = generateModel(input, options, split);
  const building = build({
    source, weights: layout.weights, weightsBase: layout.weightsBase, memoryBase: layout.end,
    simd: options.target === "simd", manifest: manifest as unknown as Record<string, unknown>,
  });
  if (!split.measureLater) {
    const built = await building;
    return { ...built, manifest: { ...manifest, contentHash: built.contentHash }, graph, source };
  }
  // Measured on the blob (its float side while it builds); a failed build's rejection surfaces at the await.
  const measuring = split.measureLater(building, layout);
  building.catch(() => undefined);
  await measuring;
  const reported: Manifest = { ...manifest, quantization: quantizationInfo(graph) };
  const built = await resealed(await building, reported);
  return { ...built, manifest: { ...reported, contentHash: built.contentHash }, graph, source };
}

export async function compileFile(path: string, options: CompileOptions): Promise<CompiledModel> {
  return compileGraph(loadModel(path), options);
}
