// Reads a .onnx file (protobuf, via onnx-proto) into an OnnxModel: checked, bounded, Constant nodes folded into initializers.
import { readFileSync, statSync, type Stats } from "node:fs";
import onnxProto from "onnx-proto";
import type { onnx as Onnx } from "onnx-proto";
import { fileText, KilnError, quoteName } from "../../errors.js";
import { MAX_GRAPH_NODES, MAX_ONNX_FILE_BYTES, MAX_WEIGHT_ELEMENTS, mib } from "../../limits.js";
import type { OnnxModel, OnnxNode, OnnxTensor } from "./model.js";
import { closeExternalFiles, type ExternalFiles } from "./external-data.js";
import { decodeTensor, safeInt, tensorLabel, type Int64, type TensorContext } from "./tensor.js";
import { decodeAttributes, graphInputs, graphOutputs } from "./reader-parts.js";
import { checkProtoStructure } from "./proto-scan.js";

const { onnx } = onnxProto;

/** The opsets (of the default ai.onnx domain) whose ops the lowering knows. */
export const MIN_OPSET = 7;
export const MAX_OPSET = 21;

/** Why decoding failed, in words a user can act on (protobufjs says "index out of range: 90 + 10 > 90" and the like). */
function decodeProblem(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof RangeError && /call stack/i.test(message)) return "its messages are nested too deeply";
  if (/index out of range/.test(message)) return `it is truncated (${fileText(message, 120)})`;
  return `it is damaged (${fileText(message, 120)})`;
}

function readBytes(path: string): Uint8Array {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch {
    throw new KilnError(`${path}: file not found`);
  }
  if (!stats.isFile()) throw new KilnError(`${path}: not a regular file; pass the .onnx file`);
  if (stats.size > MAX_ONNX_FILE_BYTES) {
    throw new KilnError(`${path}: ${mib(stats.size)} is larger than Kiln reads for an .onnx file (limit ${mib(MAX_ONNX_FILE_BYTES)}); keep large weights in an external data file`);
  }
  return readFileSync(path);
}

/** The version of the default-domain opset this model imports, checked against the range the lowering knows. */
function defaultOpset(path: string, model: Onnx.ModelProto): number {
  const entry = model.opsetImport.find((o) => o.domain === "" || o.domain === "ai.onnx" || o.domain === null || o.domain === undefined);
  if (!entry) throw new KilnError(`${path}: the model imports no ai.onnx opset (opset_import lists no default domain); re-export it with torch.onnx.export(..., opset_version=13)`);
  const version = safeInt(entry.version as Int64, () => `${path}: opset_import`);
  if (version < MIN_OPSET || version > MAX_OPSET) {
    throw new KilnError(`${path}: the model uses ONNX opset ${version}; Kiln reads opsets ${MIN_OPSET}–${MAX_OPSET} (re-export with torch.onnx.export(..., opset_version=13))`);
  }
  return version;
}

/** Constant's value attribute (value, value_float(s), value_int(s)) as the tensor it defines. */
function constantTensor(path: string, node: OnnxNode, ctx: TensorContext): OnnxTensor {
  const name = node.outputs[0] ?? "";
  const where = `${path}: Constant node ${quoteName(node.name || name)}`;
  if (node.outputs.length !== 1 || name === "") throw new KilnError(`${where} must have exactly one output`);
  if (node.attrs.size !== 1) throw new KilnError(`${where} must have exactly one value attribute (it has ${node.attrs.size})`);
  const [key, value] = [...node.attrs][0];
  const list = (v: unknown): number[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === "number") ? v : undefined);
  const take = (count: number): void => {
    if (count > ctx.budget.elements) throw new KilnError(`${where}: the model's constants exceed Kiln's limit of ${MAX_WEIGHT_ELEMENTS} values in all`);
    ctx.budget.elements -= count;
  };
  if (key === "value" && typeof value === "object" && !Array.isArray(value)) return { ...value, name };
  if ((key === "value_float" || key === "value_int") && typeof value === "number") {
    take(1);
    return { name, dims: [], dtype: key === "value_float" ? "float32" : "int64", data: key === "value_float" ? Float32Array.of(value) : [value] };
  }
  const values = list(value);
  if ((key === "value_floats" || key === "value_ints") && values) {
    take(values.length);
    return { name, dims: [values.length], dtype: key === "value_floats" ? "float32" : "int64", data: key === "value_floats" ? Float32Array.from(values) : values };
  }
  throw new KilnError(`${where} has attribute ${quoteName(key)}; Kiln reads Constant values given as value (a tensor), value_float(s) or value_int(s)`);
}

/** The graph's nodes, with Constant nodes moved into `initializers` (they are constants the lowering folds anyway). */
function readNodes(path: string, graph: Onnx.IGraphProto, ctx: TensorContext, initializers: Map<string, OnnxTensor>): OnnxNode[] {
  const nodes: OnnxNode[] = [];
  for (const [index, raw] of (graph.node ?? []).entries()) {
    const opType = raw.opType ?? "";
    const domain = raw.domain === "ai.onnx" ? "" : raw.domain ?? "";
    const name = raw.name ?? "";
    const label = `node ${quoteName(name || `#${index}`)} (${fileText(opType)})`;
    const node: OnnxNode = {
      name, opType, domain, inputs: [...(raw.input ?? [])], outputs: [...(raw.output ?? [])],
      attrs: decodeAttributes(path, raw.attribute ?? [], label, ctx),
    };
    if (opType === "Constant" && domain === "") {
      const tensor = constantTensor(path, node, ctx);
      if (initializers.has(tensor.name)) throw new KilnError(`${path}: Constant ${label} redefines ${quoteName(tensor.name)}`);
      initializers.set(tensor.name, tensor);
    } else {
      nodes.push(node);
    }
  }
  return nodes;
}

/** Every node reads only values already defined (graph inputs, initializers, earlier nodes) and defines new ones. */
function checkTopology(path: string, model: OnnxModel): void {
  const defined = new Set<string>([...model.inputs.map((i) => i.name), ...model.initializers.keys()]);
  const producedLater = new Set(model.nodes.flatMap((n) => n.outputs));
  for (const [index, node] of model.nodes.entries()) {
    const label = `node ${quoteName(node.name || `#${index}`)} (${fileText(node.opType)})`;
    for (const input of node.inputs) {
      if (input === "" || defined.has(input)) continue;
      if (producedLater.has(input)) throw new KilnError(`${path}: ${label} reads ${quoteName(input)} before any node computes it; the nodes are not in topological order as ONNX requires`);
      throw new KilnError(`${path}: ${label} reads ${quoteName(input)}, which no node, graph input or initializer provides`);
    }
    for (const output of node.outputs) {
      if (output === "") continue;
      if (defined.has(output)) throw new KilnError(`${path}: ${label} writes ${quoteName(output)}, which is already defined; ONNX values are assigned once`);
      defined.add(output);
    }
  }
  for (const output of model.outputs) {
    if (!defined.has(output.name)) throw new KilnError(`${path}: graph output ${quoteName(output.name)} is computed by no node`);
  }
}

/** Decodes the protobuf; every failure (truncated, garbage, not ONNX) is a one-line KilnError naming the file. */
function decodeModel(path: string, bytes: Uint8Array): Onnx.ModelProto {
  checkProtoStructure(path, bytes); // counts and nesting first: the decoder allocates as it goes
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new KilnError(`${path}: not a readable ONNX model: ${decodeProblem(e)}`);
  }
  if (!model.graph) throw new KilnError(`${path}: not an ONNX model: the protobuf holds no graph`);
  return model;
}

function readModel(path: string, bytes: Uint8Array, external: ExternalFiles): OnnxModel {
  const model = decodeModel(path, bytes);
  const graph = model.graph!;
  const opset = defaultOpset(path, model);
  const counts = { nodes: graph.node?.length ?? 0, initializers: graph.initializer?.length ?? 0, inputs: graph.input?.length ?? 0, outputs: graph.output?.length ?? 0 };
  for (const [what, count] of Object.entries(counts)) {
    if (count > MAX_GRAPH_NODES) throw new KilnError(`${path}: the graph has ${count} ${what}; Kiln reads at most ${MAX_GRAPH_NODES}`);
  }
  if ((graph.sparseInitializer?.length ?? 0) > 0) throw new KilnError(`${path}: the graph has sparse initializers; Kiln reads dense tensors only`);
  const ctx: TensorContext = { path, budget: { elements: MAX_WEIGHT_ELEMENTS }, external };
  const initializers = new Map<string, OnnxTensor>();
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? "";
    if (initializers.has(name)) throw new KilnError(`${path}: two initializers are named ${quoteName(name)}`);
    initializers.set(name, decodeTensor(ctx, t, tensorLabel("initializer", name)));
  }
  const nodes = readNodes(path, graph, ctx, initializers);
  const producer = `${model.producerName ?? ""} ${model.producerVersion ?? ""}`.trim();
  const result: OnnxModel = {
    path, opset, producer, nodes, initializers,
    inputs: graphInputs(path, graph.input ?? [], initializers),
    outputs: graphOutputs(path, graph.output ?? []),
  };
  if (result.outputs.length === 0) throw new KilnError(`${path}: the graph declares no outputs`);
  checkTopology(path, result);
  return result;
}

/** Reads and checks an ONNX model file (and its external data files, if it names any). */
export function readOnnx(path: string): OnnxModel {
  const external: ExternalFiles = new Map();
  try {
    return readModel(path, readBytes(path), external);
  } finally {
    closeExternalFiles(external);
  }
}
