// A readable one-line-per-node listing of a graph, for `--dump-after` and debugging.
import { tensorOf, type Graph, type Node } from "./ir.js";

/** Long lists (a 256-entry lookup table, per-channel multipliers of a wide layer) shown by their length only. */
const LISTED_VALUES = 8;

function formatValue(v: unknown): string {
  if (!Array.isArray(v)) return String(v);
  return v.length > LISTED_VALUES ? `[${v.length} values]` : `[${v.join(",")}]`;
}

/** `key=value` for the attrs, then the quantizer's int8 parameters as `int8.key=value`. */
function describeParams(node: Node): string {
  const attrs = Object.entries(node.attrs).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v}]` : v}`);
  const int8 = Object.entries(node.int8 ?? {}).map(([k, v]) => `int8.${k}=${formatValue(v)}`);
  return [...attrs, ...int8].join(" ");
}

export function describeGraph(graph: Graph): string {
  const lines = [`graph ${graph.name}: inputs ${graph.inputs.map((i) => `${i}[${tensorOf(graph, i).shape}]`).join(", ")}`];
  for (const node of graph.nodes) {
    const ins = node.inputs.map((i) => {
      const t = tensorOf(graph, i);
      return t.data ? `const ${i}[${t.shape}]` : `${i}[${t.shape}]`;
    });
    const params = describeParams(node);
    const fused = node.fused ? ` fused=${node.fused.join("+")}` : "";
    lines.push(`  ${node.name}: ${node.op}(${ins.join(", ")}) → ${node.outputs.map((o) => `${o}[${tensorOf(graph, o).shape}]`).join(", ")}${params ? " " + params : ""}${fused}`);
  }
  lines.push(`  outputs ${graph.outputs.join(", ")}`);
  return lines.join("\n");
}
