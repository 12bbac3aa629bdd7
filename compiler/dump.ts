// A readable one-line-per-node listing of a graph, for `--dump-after` and debugging.
import { tensorOf, type Graph } from "./ir.js";

export function describeGraph(graph: Graph): string {
  const lines = [`graph ${graph.name}: inputs ${graph.inputs.map((i) => `${i}[${tensorOf(graph, i).shape}]`).join(", ")}`];
  for (const node of graph.nodes) {
    const ins = node.inputs.map((i) => {
      const t = tensorOf(graph, i);
      return t.data ? `const ${i}[${t.shape}]` : `${i}[${t.shape}]`;
    });
    const attrs = Object.entries(node.attrs).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v}]` : v}`).join(" ");
    const fused = node.fused ? ` fused=${node.fused.join("+")}` : "";
    lines.push(`  ${node.name}: ${node.op}(${ins.join(", ")}) → ${node.outputs.map((o) => `${o}[${tensorOf(graph, o).shape}]`).join(", ")}${attrs ? " " + attrs : ""}${fused}`);
  }
  lines.push(`  outputs ${graph.outputs.join(", ")}`);
  return lines.join("\n");
}
