// The float reference interpreter: runs a graph op by op with each op's float reference (the spec).
import { sizeOf, tensorOf, type Graph } from "./ir.js";
import { opDef } from "./ops/registry.js";
import { quoteName } from "./errors.js";

export type Activations = Map<string, Float32Array>;

/** Runs one input (NHWC floats, batch 1) and returns every tensor's value. */
export function runFloatAll(graph: Graph, input: Float32Array): Activations {
  const inputTensor = tensorOf(graph, graph.inputs[0]);
  if (input.length !== sizeOf(inputTensor.shape)) {
    throw new Error(`input has ${input.length} values; model ${quoteName(graph.name)} expects [${inputTensor.shape}] = ${sizeOf(inputTensor.shape)}`);
  }
  const values: Activations = new Map([[graph.inputs[0], input]]);
  const valueOf = (name: string): Float32Array => {
    const v = values.get(name);
    if (v) return v;
    const t = tensorOf(graph, name);
    if (!(t.data instanceof Float32Array)) throw new Error(`tensor ${quoteName(name)} has no float value`);
    return t.data;
  };
  for (const node of graph.nodes) {
    const inputs = node.inputs.map(valueOf);
    const shapes = node.inputs.map((n) => tensorOf(graph, n).shape);
    const out = tensorOf(graph, node.outputs[0]).shape;
    values.set(node.outputs[0], opDef(node).float(node, inputs, shapes, out));
  }
  return values;
}

export function runFloat(graph: Graph, input: Float32Array): Float32Array {
  const values = runFloatAll(graph, input);
  const out = values.get(graph.outputs[0]);
  if (!out) throw new Error(`graph output ${quoteName(graph.outputs[0])} was not computed`);
  return out;
}
