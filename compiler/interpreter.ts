// The reference interpreters: run a graph op by op with each op's float reference (the spec) or int8 reference.
import { sizeOf, tensorOf, type Graph, type Node, type TensorData } from "./ir.js";
import { opDef } from "./ops/registry.js";
import type { OpDef } from "./ops/op.js";
import { quoteName } from "./errors.js";

export type Activations = Map<string, Float32Array>;

/**
 * Runs `graph` on `input` (NHWC, batch 1): `step` computes each node from its inputs' values (earlier outputs, or
 * constants as `constant` gives them). Returns every computed tensor's value, the input included.
 */
export function evaluateGraph<I extends TensorData, O extends I>(graph: Graph, input: O, constant: (name: string, data: TensorData | undefined) => I,
  step: (def: OpDef, node: Node, inputs: I[], inputShapes: number[][], outputShape: number[]) => O): Map<string, O> {
  const inputTensor = tensorOf(graph, graph.inputs[0]);
  if (input.length !== sizeOf(inputTensor.shape)) {
    throw new Error(`input has ${input.length} values; model ${quoteName(graph.name)} expects [${inputTensor.shape}] = ${sizeOf(inputTensor.shape)}`);
  }
  const values = new Map<string, O>([[graph.inputs[0], input]]);
  const valueOf = (name: string): I => values.get(name) ?? constant(name, tensorOf(graph, name).data);
  for (const node of graph.nodes) {
    const shapes = node.inputs.map((n) => tensorOf(graph, n).shape);
    values.set(node.outputs[0], step(opDef(node), node, node.inputs.map(valueOf), shapes, tensorOf(graph, node.outputs[0]).shape));
  }
  return values;
}

/** Runs one input (NHWC floats, batch 1) and returns every tensor's value. */
export function runFloatAll(graph: Graph, input: Float32Array): Activations {
  const floatConstant = (name: string, data: TensorData | undefined): Float32Array => {
    if (!(data instanceof Float32Array)) throw new Error(`tensor ${quoteName(name)} has no float value`);
    return data;
  };
  return evaluateGraph(graph, input, floatConstant, (def, node, inputs, shapes, out) => def.float(node, inputs, shapes, out));
}

export function runFloat(graph: Graph, input: Float32Array): Float32Array {
  const values = runFloatAll(graph, input);
  const out = values.get(graph.outputs[0]);
  if (!out) throw new Error(`graph output ${quoteName(graph.outputs[0])} was not computed`);
  return out;
}
