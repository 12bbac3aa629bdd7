// Mixed precision (--keep-float): which layers may stay float, and the quantize/dequantize steps at their edges.
import { attrString, tensorOf, type Graph, type Node } from "../ir.js";
import { fileText, fileTextList, KilnError, quoteName } from "../errors.js";
import { ACTIVATION_CODES } from "../ops/op.js";
import { allFinite } from "../ops/float-dot.js";
import { didYouMean } from "../suggest.js";

/**
 * Why `node` cannot run in float inside an int8 blob, or undefined if it can. A kept layer must compute exactly its
 * float reference (the mixed reference is the blob's spec), so only ops with exact kernels qualify: conv2d (fused
 * pools included), dense and depthwise_conv2d run in runtime/kernels/exact-f64.ts (the reference's f64 sums in its
 * order), reshape is a copy. An f32 kernel that sums in f32 would differ from the reference in the last bits.
 */
export function keepFloatProblem(graph: Graph, node: Node): string | undefined {
  const exact = "Kiln has exact float kernels for conv2d, dense, depthwise_conv2d (depth multiplier 1) and reshape";
  if (node.op === "reshape") return undefined;
  if (node.op !== "conv2d" && node.op !== "dense" && node.op !== "depthwise_conv2d") return `its op ${fileText(node.op)} has no exact float kernel (${exact})`;
  const activation = attrString(node, "activation", "linear");
  if (ACTIVATION_CODES[activation] === undefined) return `its fused activation ${fileText(activation)} has no exact float kernel`;
  const w = tensorOf(graph, node.inputs[1]).data;
  if (!(w instanceof Float32Array)) return "its weights are not float32 constants";
  if (node.inputs[2] && !(tensorOf(graph, node.inputs[2]).data instanceof Float32Array)) return "its bias is not a float32 constant";
  if (node.op !== "dense" && !allFinite(w)) return "its weights are not all finite numbers";
  if (node.op === "depthwise_conv2d" && tensorOf(graph, node.inputs[1]).shape[3] !== 1) return `its depth multiplier is not 1 (${exact})`;
  return undefined;
}

/** The nodes named by `names` (layer names after fusion, as `kiln inspect` shows them), checked: one-line errors. */
export function keptNodes(graph: Graph, names: readonly string[]): Set<Node> {
  const layers = graph.nodes.map((n) => n.name);
  const kept = new Set<Node>();
  for (const name of names) {
    const node = graph.nodes.find((n) => n.name === name);
    if (!node) {
      throw new KilnError(`--keep-float: no layer named ${quoteName(name)}${didYouMean(name, layers, (n) => quoteName(n))} (layers: ${fileTextList(layers, 12)})`);
    }
    const problem = keepFloatProblem(graph, node);
    if (problem) throw new KilnError(`--keep-float: layer ${quoteName(name)} cannot be kept in float: ${problem}`);
    kept.add(node);
  }
  return kept;
}

function uniqueName(taken: Set<string>, base: string): string {
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}#${i}`;
  taken.add(name);
  return name;
}

/**
 * Marks `kept` float and inserts, in topological order, a `dequantize` node where an int8 tensor (the graph input or
 * an int8 layer's output) enters a float layer and a `quantize` node where a float tensor feeds an int8 layer; one per
 * tensor, placed just before its first reader that needs it. A float graph output stays float32. The inserted nodes'
 * parameters are set by their quantize hooks (quant/quantize.ts), once the tensors they read are quantized.
 */
export function insertPrecisionEdges(graph: Graph, kept: Set<Node>): void {
  if (kept.size === 0) return;
  const floatTensors = new Set<string>();
  for (const node of kept) { node.float = true; floatTensors.add(node.outputs[0]); }
  const nodeNames = new Set(graph.nodes.map((n) => n.name));
  const converted = new Map<string, string>();
  const nodes: Node[] = [];
  const producerName = (tensor: string): string => graph.nodes.find((n) => n.outputs.includes(tensor))?.name ?? tensor;
  for (const node of graph.nodes) {
    node.inputs = node.inputs.map((input) => {
      const t = tensorOf(graph, input);
      if (t.data) return input; // a constant: a float layer reads it as float32, an int8 one quantizes it itself
      const fromFloat = floatTensors.has(input);
      if (fromFloat === (node.float === true)) return input;
      const op = fromFloat ? "quantize" : "dequantize";
      const key = `${op}:${input}`;
      const done = converted.get(key);
      if (done) return done;
      const output = uniqueName(new Set(graph.tensors.keys()), `${input}#${fromFloat ? "q" : "dq"}`);
      graph.tensors.set(output, { name: output, shape: [...t.shape], dtype: fromFloat ? "int8" : "float32" });
      const name = uniqueName(nodeNames, `${producerName(input)}/${op}`);
      nodes.push({ name, op, inputs: [input], outputs: [output], attrs: {}, fused: [op] });
      converted.set(key, output);
      return output;
    });
    nodes.push(node);
  }
  graph.nodes = nodes;
}
