// The graph consistency check run after every pass in tests: order, names, constant sizes, each op's shape rule.
import { sizeOf, tensorOf, type Graph } from "./ir.js";
import { opDef } from "./ops/registry.js";
import { quoteName } from "./errors.js";

/** Throws on the first broken invariant: order, dangling names, shapes, constant sizes. */
export function checkGraph(graph: Graph): void {
  const defined = new Set<string>(graph.inputs);
  for (const [name, t] of graph.tensors) {
    if (t.name !== name) throw new Error(`tensor ${quoteName(name)} is stored under another name (${quoteName(t.name)})`);
    if (t.data) {
      defined.add(name);
      if (t.data.length !== sizeOf(t.shape)) throw new Error(`constant ${quoteName(name)} has ${t.data.length} values for shape [${t.shape}]`);
    }
  }
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      if (!defined.has(input)) throw new Error(`node ${quoteName(node.name)} reads ${quoteName(input)} before it is produced`);
    }
    const def = opDef(node);
    const expected = def.inferShape(node, node.inputs.map((n) => tensorOf(graph, n).shape));
    for (const output of node.outputs) {
      if (defined.has(output)) throw new Error(`tensor ${quoteName(output)} is produced twice (again by ${quoteName(node.name)})`);
      defined.add(output);
    }
    const actual = tensorOf(graph, node.outputs[0]).shape;
    if (expected.join(",") !== actual.join(",")) {
      throw new Error(`node ${quoteName(node.name)}: output shape [${actual}] but its inputs give [${expected}]`);
    }
  }
  for (const output of graph.outputs) if (!defined.has(output)) throw new Error(`graph output ${quoteName(output)} is never produced`);
}
