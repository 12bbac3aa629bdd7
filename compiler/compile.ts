// The compiler driver: model file → graph → passes → layout → AssemblyScript → blob.
import { existsSync, readFileSync } from "node:fs";
import type { Graph } from "./ir.js";
import { KilnError } from "./errors.js";
import { loadLayersModel } from "./frontends/layers-model.js";
import { FLOAT_PIPELINE, runPipeline, passNames } from "./passes/pipeline.js";
import { layoutGraph } from "./codegen/layout.js";
import { emitModelSource } from "./codegen/model-source.js";
import { kernelLibrary } from "./codegen/kernels.js";
import { buildManifest, type Manifest } from "./codegen/manifest.js";
import { buildBlob, type BuiltBlob } from "./build.js";
import { opDef } from "./ops/registry.js";
import { tensorOf } from "./ir.js";

export interface CompileOptions {
  quantize: "none" | "int8";
  target: "simd" | "scalar";
  pixelScale: number;
  pixelOffset: number;
  labels?: string[];
  /** Called with the graph after the named pass (`--dump-after`). */
  dumpAfter?: { pass: string; print(graph: Graph): void };
}

export const DEFAULT_COMPILE_OPTIONS: CompileOptions = { quantize: "none", target: "simd", pixelScale: 1 / 255, pixelOffset: 0 };

export interface CompiledModel extends BuiltBlob {
  manifest: Manifest;
  graph: Graph;
  source: string;
}

/** Reads a TF.js model.json of any supported format into the float IR. */
export function loadModel(path: string): Graph {
  if (!existsSync(path)) throw new KilnError(`${path}: file not found`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new KilnError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null) throw new KilnError(`${path}: expected a TF.js model.json object`);
  if (json.format === "graph-model") throw new KilnError(`${path}: TF.js GraphModel files are not supported yet (LayersModel only)`);
  return loadLayersModel(path, json);
}

export function optimize(graph: Graph, options: Pick<CompileOptions, "dumpAfter"> = {}): Graph {
  const dump = options.dumpAfter;
  if (dump && !passNames(FLOAT_PIPELINE).includes(dump.pass)) {
    throw new KilnError(`--dump-after: no pass named '${dump.pass}' (passes: ${passNames(FLOAT_PIPELINE).join(", ")})`);
  }
  return runPipeline(graph, FLOAT_PIPELINE, { after: (name, g) => { if (dump?.pass === name) dump.print(g); } });
}

export async function compileGraph(input: Graph, options: CompileOptions): Promise<CompiledModel> {
  if (options.quantize !== "none") throw new KilnError(`--quantize ${options.quantize} is not available yet; use --quantize none`);
  const graph = optimize(input, options);
  const layout = layoutGraph(graph);
  const layerCode = graph.nodes.map((node) => opDef(node).emitFloat({
    node,
    inputShapes: node.inputs.map((n) => tensorOf(graph, n).shape),
    outputShape: tensorOf(graph, node.outputs[0]).shape,
    addr: layout.addr,
  }));
  const source = emitModelSource(graph, layout, layerCode, kernelLibrary());
  const manifest = buildManifest(graph, layout, options);
  const built = await buildBlob({
    source, weights: layout.weights, weightsBase: layout.weightsBase, memoryBase: layout.end,
    simd: options.target === "simd", manifest: manifest as unknown as Record<string, unknown>,
  });
  return { ...built, manifest, graph, source };
}

export async function compileFile(path: string, options: CompileOptions): Promise<CompiledModel> {
  return compileGraph(loadModel(path), options);
}
