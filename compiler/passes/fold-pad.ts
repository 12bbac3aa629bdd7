// Pass: folds an explicit zero pad (ZeroPadding2D, TF Pad) into the padding of the conv that reads it.
import { attrInts, type Graph } from "../ir.js";
import { absorbProducer, rewriteEach, soleReader } from "./rewrite.js";

const CONVS = new Set(["conv2d", "depthwise_conv2d"]);

export function foldPad(input: Graph): Graph {
  return rewriteEach(input, (graph, pad) => {
    if (pad.op !== "pad") return;
    const conv = soleReader(graph, pad.outputs[0]);
    if (!conv || !CONVS.has(conv.op)) return;
    const extra = attrInts(pad, "pads");
    conv.attrs.pads = attrInts(conv, "pads", [0, 0, 0, 0]).map((p, i) => p + extra[i]);
    absorbProducer(graph, conv, pad, "pad");
  });
}
