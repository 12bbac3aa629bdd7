// Pass: deletes identity nodes (Dropout at inference), rewiring their readers to the identity's input.
import type { Graph } from "../ir.js";
import { opDef } from "../ops/registry.js";
import { absorbReader, bypass, rewriteEach, soleProducer } from "./rewrite.js";

export function removeIdentity(input: Graph): Graph {
  return rewriteEach(input, (graph, node) => {
    if (opDef(node).category !== "identity") return;
    const [from] = node.inputs, [to] = node.outputs;
    if (graph.outputs.includes(to)) {
      // A graph whose input is its output keeps the identity: there would be no node left to write the output.
      if (graph.inputs.includes(from)) return;
      // Keep the graph's output name: the producer of `from` writes `to` directly.
      const producer = soleProducer(graph, from);
      if (producer) return absorbReader(graph, producer, node);
    }
    bypass(graph, node);
  });
}
