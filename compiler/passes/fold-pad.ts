// Pass: folds an explicit zero pad (ZeroPadding2D, TF Pad) into the padding of the conv that reads it.
import { attrInts, cloneGraph, consumersOf, type Graph } from "../ir.js";

const CONVS = new Set(["conv2d", "depthwise_conv2d"]);

export function foldPad(input: Graph): Graph {
  const graph = cloneGraph(input);
  for (const pad of [...graph.nodes]) {
    if (pad.op !== "pad") continue;
    const readers = consumersOf(graph, pad.outputs[0]);
    if (readers.length !== 1 || !CONVS.has(readers[0].op) || graph.outputs.includes(pad.outputs[0])) continue;
    const conv = readers[0];
    const extra = attrInts(pad, "pads");
    conv.attrs.pads = attrInts(conv, "pads", [0, 0, 0, 0]).map((p, i) => p + extra[i]);
    conv.inputs[0] = pad.inputs[0];
    conv.fused = ["pad", ...(conv.fused ?? [conv.op])];
    graph.tensors.delete(pad.outputs[0]);
    graph.nodes.splice(graph.nodes.indexOf(pad), 1);
  }
  return graph;
}
