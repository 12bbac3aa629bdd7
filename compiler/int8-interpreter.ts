// The int8 reference interpreter: runs a quantized graph with each op's int8 reference (the spec of the blob).
import { tensorOf, type Graph, type TensorData } from "./ir.js";
import { evaluateGraph } from "./interpreter.js";
import { fileText, quoteName } from "./errors.js";

export function runInt8All(graph: Graph, input: Int8Array): Map<string, Int8Array> {
  return evaluateGraph<TensorData, Int8Array>(graph, input, (_name, data) => data as TensorData, (def, node, inputs, shapes, out) => {
    if (!def.int8) throw new Error(`node ${quoteName(node.name)} (op ${fileText(node.op)}) has no int8 reference`);
    return def.int8(node, inputs, shapes, out);
  });
}

export function runInt8(graph: Graph, input: Int8Array): Int8Array {
  return runInt8All(graph, input).get(graph.outputs[0])!;
}

/** Quantizes uint8 pixels for the graph's input exactly as the runtime does. */
export function quantizePixels(graph: Graph, pixels: Uint8Array, pixelScale: number, pixelOffset: number): Int8Array {
  const q = tensorOf(graph, graph.inputs[0]).quant!;
  return Int8Array.from(pixels, (p) => Math.max(-128, Math.min(127, Math.round((p * pixelScale + pixelOffset) / q.scale[0]) + q.zeroPoint[0])));
}
