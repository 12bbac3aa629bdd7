// Pass: folds a max or avg pool that is the only reader of a conv's output into the conv (int8 pipeline).
import { attrInts, type Graph } from "../ir.js";
import { absorbReader, rewriteEach, soleProducer } from "./rewrite.js";

export function fusePool(input: Graph): Graph {
  return rewriteEach(input, (graph, pool) => {
    if (pool.op !== "max_pool" && pool.op !== "avg_pool") return;
    const conv = soleProducer(graph, pool.inputs[0]);
    if (!conv || conv.op !== "conv2d" || conv.attrs.pool_kind !== undefined) return;
    // Averaging commutes with requantization only for a linear or ReLU activation (both exact on int32 sums).
    const activation = conv.attrs.activation ?? "linear";
    if (pool.op === "avg_pool" && activation !== "linear" && activation !== "relu") return;
    conv.attrs.pool_kind = pool.op === "max_pool" ? "max" : "avg";
    conv.attrs.pool_size = attrInts(pool, "pool");
    conv.attrs.pool_strides = attrInts(pool, "strides");
    conv.attrs.pool_pads = attrInts(pool, "pads", [0, 0, 0, 0]);
    absorbReader(graph, conv, pool, pool.op);
  });
}
