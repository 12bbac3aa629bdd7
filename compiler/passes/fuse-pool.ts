// Pass: folds a max or avg pool that is the only reader of a conv's output into the conv (int8 pipeline).
import { attrInts, cloneGraph, consumersOf, type Graph } from "../ir.js";

export function fusePool(input: Graph): Graph {
  const graph = cloneGraph(input);
  for (const pool of [...graph.nodes]) {
    if (pool.op !== "max_pool" && pool.op !== "avg_pool") continue;
    const source = pool.inputs[0];
    const conv = graph.nodes.find((n) => n.outputs.includes(source));
    if (!conv || conv.op !== "conv2d" || conv.attrs.pool_kind !== undefined) continue;
    if (consumersOf(graph, source).length !== 1 || graph.outputs.includes(source)) continue;
    // Averaging commutes with requantization only for a linear or ReLU activation (both exact on int32 sums).
    const activation = conv.attrs.activation ?? "linear";
    if (pool.op === "avg_pool" && activation !== "linear" && activation !== "relu") continue;
    conv.attrs.pool_kind = pool.op === "max_pool" ? "max" : "avg";
    conv.attrs.pool_size = attrInts(pool, "pool");
    conv.attrs.pool_strides = attrInts(pool, "strides");
    conv.attrs.pool_pads = attrInts(pool, "pads", [0, 0, 0, 0]);
    conv.fused = [...(conv.fused ?? [conv.op]), pool.op];
    conv.outputs = [pool.outputs[0]];
    graph.tensors.delete(source);
    graph.nodes.splice(graph.nodes.indexOf(pool), 1);
  }
  return graph;
}
