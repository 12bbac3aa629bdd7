// The int8 reference interpreter: runs a quantized graph with each op's int8 reference (the spec of the blob).
import { tensorOf, type Graph, type TensorData } from "./ir.js";
import { evaluateGraph } from "./interpreter.js";
import { fileText, quoteName } from "./errors.js";

/** A value of the mixed reference: int8, or float32 inside (and at the output of) layers kept in float. */
export type MixedValue = Int8Array | Float32Array;

/**
 * The reference of an int8 graph, mixed precision included: layers kept in float (node.float) run their float reference
 * on float32 values (constants as float32), `dequantize` turns int8 into float32, every other node runs its int8
 * reference (`quantize` reads float32). The blob matches it bit for bit.
 */
export function runMixedAll(graph: Graph, input: Int8Array): Map<string, MixedValue> {
  return evaluateGraph<TensorData, MixedValue>(graph, input, (_name, data) => data as TensorData, (def, node, inputs, shapes, out) => {
    if (node.float || node.op === "dequantize") return def.float(node, inputs as Float32Array[], shapes, out);
    if (!def.int8) throw new Error(`node ${quoteName(node.name)} (op ${fileText(node.op)}) has no int8 reference`);
    return def.int8(node, inputs, shapes, out);
  });
}

/** The mixed reference's graph output: Int8Array, or Float32Array when the last layer is kept in float. */
export function runMixed(graph: Graph, input: Int8Array): MixedValue {
  return runMixedAll(graph, input).get(graph.outputs[0])!;
}

/** The graph output of an int8 graph without layers kept in float (see runMixed otherwise). */
export function runInt8(graph: Graph, input: Int8Array): Int8Array {
  const out = runMixed(graph, input);
  if (!(out instanceof Int8Array)) throw new Error(`internal: graph ${quoteName(graph.name)} has a float output; use runMixed`);
  return out;
}

/** Quantizes uint8 pixels for the graph's input exactly as the runtime does. */
export function quantizePixels(graph: Graph, pixels: Uint8Array, pixelScale: number, pixelOffset: number): Int8Array {
  const q = tensorOf(graph, graph.inputs[0]).quant!;
  return Int8Array.from(pixels, (p) => Math.max(-128, Math.min(127, Math.round((p * pixelScale + pixelOffset) / q.scale[0]) + q.zeroPoint[0])));
}
