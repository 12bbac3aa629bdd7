// Pass: merges two elementwise nodes in a row that one node can do (two affines, two bounds, two reshapes).
import { FLT_MAX, tensorOf, type Graph, type Node } from "../ir.js";
import { absorbReader, addConstant, deleteUnread, rewriteEach, soleProducer } from "./rewrite.js";

const BOUNDS: Record<string, (n: Node) => [number, number]> = {
  relu: () => [0, FLT_MAX],
  relu6: () => [0, 6],
  clamp: (n) => [n.attrs.min as number, n.attrs.max as number],
};

/** Merges `node` into `first` if their ops make a chain with a one-node form; false when they do not. */
function mergeInto(graph: Graph, first: Node, node: Node): boolean {
  if (node.op === "batch_norm" && first.op === "batch_norm") {
    // (x·s1 + t1)·s2 + t2 = x·(s1·s2) + (t1·s2 + t2)
    const [s1, t1, s2, t2] = [first.inputs[1], first.inputs[2], node.inputs[1], node.inputs[2]].map((n) => tensorOf(graph, n).data as Float32Array);
    const shape = tensorOf(graph, node.inputs[1]).shape;
    first.inputs[1] = addConstant(graph, `${first.name}/scale`, shape, s1.map((v, i) => v * s2[i]));
    first.inputs[2] = addConstant(graph, `${first.name}/shift`, shape, t1.map((v, i) => v * s2[i] + t2[i]));
    return true;
  }
  if (node.op === "reshape" && first.op === "reshape") {
    first.attrs = { ...node.attrs };
    return true;
  }
  if (Object.hasOwn(BOUNDS, node.op) && Object.hasOwn(BOUNDS, first.op)) {
    const [lo1, hi1] = BOUNDS[first.op](first), [lo2, hi2] = BOUNDS[node.op](node);
    const lo = Math.max(lo1, lo2), hi = Math.min(hi1, hi2);
    if (lo > hi) return false; // disjoint ranges: the result is a constant, left as two nodes
    first.op = lo === 0 && hi === FLT_MAX ? "relu" : lo === 0 && hi === 6 ? "relu6" : "clamp";
    first.attrs = first.op === "clamp" ? { min: lo, max: hi } : {};
    return true;
  }
  return false;
}

/**
 * TF spells some single Kiln ops as chains: (x − mean) / std is two affine ops, Minimum(Maximum(x, a), b) two bounds,
 * Squeeze then Reshape two reshapes; a Keras model can too (Dense(relu) then ReLU6). Merging each chain into one node
 * keeps it foldable into a conv, gives the int8 path one table instead of two and saves a copy. It is no fusion:
 * the merged node is still one core op, so `fused` does not change.
 */
export function mergeElementwiseChains(input: Graph): Graph {
  return rewriteEach(input, (graph, node) => {
    const first = soleProducer(graph, node.inputs[0]);
    if (!first) return;
    const constants = [...first.inputs.slice(1), ...node.inputs.slice(1)];
    if (!mergeInto(graph, first, node)) return;
    absorbReader(graph, first, node);
    deleteUnread(graph, constants);
  });
}
