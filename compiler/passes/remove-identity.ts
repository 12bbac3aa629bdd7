// Pass: deletes identity nodes (Dropout at inference), rewiring their readers to the identity's input.
import { cloneGraph, type Graph } from "../ir.js";
import { opDef } from "../ops/registry.js";

export function removeIdentity(input: Graph): Graph {
  const graph = cloneGraph(input);
  for (const node of [...graph.nodes]) {
    if (opDef(node).category !== "identity") continue;
    const [from] = node.inputs, [to] = node.outputs;
    if (graph.outputs.includes(to) && graph.inputs.includes(from)) continue;
    graph.nodes.splice(graph.nodes.indexOf(node), 1);
    if (graph.outputs.includes(to)) {
      // Keep the graph's output name: the producer of `from` writes `to` directly.
      const producer = graph.nodes.find((n) => n.outputs.includes(from));
      if (producer && !graph.nodes.some((n) => n.inputs.includes(from))) {
        producer.outputs = producer.outputs.map((o) => (o === from ? to : o));
        graph.tensors.delete(from);
        continue;
      }
      graph.outputs = graph.outputs.map((o) => (o === to ? from : o));
    }
    for (const reader of graph.nodes) reader.inputs = reader.inputs.map((i) => (i === to ? from : i));
    graph.tensors.delete(to);
  }
  return graph;
}
