// Mixed precision (--keep-float): which layers may stay float, and the quantize/dequantize steps at their edges.
import { attrString, tensorOf, type Graph, type Node } from "../ir.js";
import { fileText, fileTextList, KilnError, quoteName } from "../errors.js";
import { ACTIVATION_CODES } from "../ops/op.js";
import { allFinite } from "../ops/float-dot.js";
import { didYouMean } from "../suggest.js";

/**
 * Ops whose float kernel (the one float blobs use, the op's emitFloat) is exactly its float reference, bit for bit, on
 * both targets. add and mul: the reference computes a + b or a·b of two f32 values in f64 and rounds once to f32; f64
 * holds the exact product and a sum rounded at most once with 53 ≥ 2·24 + 2 bits, so that double rounding equals one f32
 * operation (f32x4.add and f32.add alike). max_pool and global_max_pool: the same `v > m` from −∞ in the same order
 * (ties and ±0 keep the first, NaN never wins). relu and relu6: the same compare-and-select in f32. concat, reshape:
 * copies. Everything else needs a kernel of its own (EXACT_KERNEL_OPS) or is refused.
 */
export const F32_KERNEL_EXACT_OPS: ReadonlySet<string> = new Set(["add", "mul", "max_pool", "global_max_pool", "relu", "relu6", "concat", "reshape"]);

/**
 * Ops with an exact kernel for layers kept in float: conv2d (fused pools included), dense and depthwise_conv2d
 * (runtime/kernels/exact-f64.ts: the reference's f64 sums in its order), avg_pool and global_avg_pool
 * (exact-f64-pool.ts: f64 sum, one f64 division, one rounding), clamp and leaky_relu (exact-f64-elementwise.ts: the
 * reference's Math.max/Math.min or product with f64 attributes).
 */
export const EXACT_KERNEL_OPS: ReadonlySet<string> = new Set(["conv2d", "dense", "depthwise_conv2d", "avg_pool", "global_avg_pool", "clamp", "leaky_relu"]);

const KEEPABLE = "Kiln keeps in float conv2d, dense, depthwise_conv2d (depth multiplier 1), avg_pool, max_pool, global_avg_pool, " +
  "global_max_pool, add, mul, concat, relu, relu6, clamp, leaky_relu and reshape";

/** Ops whose float reference an f32 kernel cannot repeat bit for bit, and why (the rest have no exact kernel yet). */
const REFUSED: Record<string, string> = {
  sigmoid: "its reference computes Math.exp in f64 and the kernels have no exact f64 exp",
  tanh: "its reference computes Math.tanh in f64 and the kernels have no exact f64 tanh",
  softmax: "its reference computes Math.exp in f64 and the kernels have no exact f64 exp",
};

/**
 * Why `node` cannot run in float inside an int8 blob, or undefined if it can. A kept layer must compute exactly its
 * float reference (the mixed reference is the blob's spec), so only ops whose kernel provably does qualify
 * (F32_KERNEL_EXACT_OPS, EXACT_KERNEL_OPS); an f32 kernel that sums in f32 would differ in the last bits.
 */
export function keepFloatProblem(graph: Graph, node: Node): string | undefined {
  if (!F32_KERNEL_EXACT_OPS.has(node.op) && !EXACT_KERNEL_OPS.has(node.op)) {
    return `its op ${fileText(node.op)} has no exact float kernel: ${Object.hasOwn(REFUSED, node.op) ? REFUSED[node.op] : KEEPABLE}`;
  }
  const weighted = node.op === "conv2d" || node.op === "dense" || node.op === "depthwise_conv2d";
  // A float layer reads its activations from the blob's float32 tensors; only weights and biases are packed as constants.
  const activations = weighted ? node.inputs.slice(0, 1) : node.inputs;
  if (activations.some((input) => tensorOf(graph, input).data !== undefined)) {
    return "one of its inputs is a constant, which Kiln keeps in float only as a conv, dense or depthwise weight or bias";
  }
  if (!weighted) return undefined;
  const activation = attrString(node, "activation", "linear");
  if (ACTIVATION_CODES[activation] === undefined) return `its fused activation ${fileText(activation)} has no exact float kernel`;
  const w = tensorOf(graph, node.inputs[1]).data;
  if (!(w instanceof Float32Array)) return "its weights are not float32 constants";
  if (node.inputs[2] && !(tensorOf(graph, node.inputs[2]).data instanceof Float32Array)) return "its bias is not a float32 constant";
  if (node.op !== "dense" && !allFinite(w)) return "its weights are not all finite numbers";
  if (node.op === "depthwise_conv2d" && tensorOf(graph, node.inputs[1]).shape[3] !== 1) return `its depth multiplier is not 1 (${KEEPABLE})`;
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
