// The int8 reference interpreter: runs a quantized graph with each op's int8 reference (the spec of the blob).
import { sizeOf, tensorOf, type Graph, type TensorData } from "./ir.js";
import { opDef } from "./ops/registry.js";
import { fileText, quoteName } from "./errors.js";

export function runInt8All(graph: Graph, input: Int8Array): Map<string, Int8Array> {
  const inputTensor = tensorOf(graph, graph.inputs[0]);
  if (input.length !== sizeOf(inputTensor.shape)) {
    throw new Error(`input has ${input.length} values; model ${quoteName(graph.name)} expects [${inputTensor.shape}]`);
  }
  const values = new Map<string, Int8Array>([[graph.inputs[0], input]]);
  const valueOf = (name: string): TensorData => values.get(name) ?? (tensorOf(graph, name).data as TensorData);
  for (const node of graph.nodes) {
    const def = opDef(node);
    if (!def.int8) throw new Error(`node ${quoteName(node.name)} (op ${fileText(node.op)}) has no int8 reference`);
    const shapes = node.inputs.map((n) => tensorOf(graph, n).shape);
    values.set(node.outputs[0], def.int8(node, node.inputs.map(valueOf), shapes, tensorOf(graph, node.outputs[0]).shape));
  }
  return values;
}

export function runInt8(graph: Graph, input: Int8Array): Int8Array {
  return runInt8All(graph, input).get(graph.outputs[0])!;
}

/** Quantizes uint8 pixels for the graph's input exactly as the runtime does. */
export function quantizePixels(graph: Graph, pixels: Uint8Array, pixelScale: number, pixelOffset: number): Int8Array {
  const q = tensorOf(graph, graph.inputs[0]).quant!;
  return Int8Array.from(pixels, (p) => Math.max(-128, Math.min(127, Math.round((p * pixelScale + pixelOffset) / q.scale[0]) + q.zeroPoint[0])));
}
