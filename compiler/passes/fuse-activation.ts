// Pass: folds a relu/relu6 that is the only reader of a conv or dense output into that producer.
import type { Graph } from "../ir.js";
import { opDef } from "../ops/registry.js";
import { absorbReader, rewriteEach, soleProducer } from "./rewrite.js";

export function fuseActivation(input: Graph): Graph {
  return rewriteEach(input, (graph, act) => {
    if (opDef(act).category !== "activation") return;
    const producer = soleProducer(graph, act.inputs[0]);
    if (!producer || opDef(producer).category !== "producer") return;
    if ((producer.attrs.activation ?? "linear") !== "linear") return;
    producer.attrs.activation = act.op;
    absorbReader(graph, producer, act, act.op);
  });
}
