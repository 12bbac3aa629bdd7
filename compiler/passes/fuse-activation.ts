// Pass: folds a relu/relu6 that is the only reader of a conv or dense output into that producer.
import { cloneGraph, consumersOf, type Graph } from "../ir.js";
import { opDef } from "../ops/registry.js";

export function fuseActivation(input: Graph): Graph {
  const graph = cloneGraph(input);
  for (const act of [...graph.nodes]) {
    if (opDef(act).category !== "activation") continue;
    const source = act.inputs[0];
    const producer = graph.nodes.find((n) => n.outputs.includes(source));
    if (!producer || opDef(producer).category !== "producer") continue;
    if ((producer.attrs.activation ?? "linear") !== "linear") continue;
    if (consumersOf(graph, source).length !== 1 || graph.outputs.includes(source)) continue;
    producer.attrs.activation = act.op;
    producer.fused = [...(producer.fused ?? [producer.op]), act.op];
    // The producer now writes the activation's output tensor; its old output disappears.
    producer.outputs = [act.outputs[0]];
    graph.tensors.delete(source);
    graph.nodes.splice(graph.nodes.indexOf(act), 1);
  }
  return graph;
}
