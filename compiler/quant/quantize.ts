// The quantizer: float graph + calibrated ranges → int8 graph; each op quantizes itself through its OpDef's hook.
import { cloneGraph, type Graph } from "../ir.js";
import { fileText, KilnError, quoteName } from "../errors.js";
import { opDef } from "../ops/registry.js";
import { affineFromRange, type AffineQuant } from "./arithmetic.js";
import type { Range } from "./calibrate.js";
import { quantizeContext } from "./context.js";
import { givenActivation, givenQuantOf } from "./given.js";
import { insertPrecisionEdges, keptNodes } from "./keep-float.js";

export interface InputMapping { pixelScale: number; pixelOffset: number }

/**
 * uint8 pixels map exactly to int8 when the input scale equals the pixel scale and the zero point absorbs the offset:
 * q = pixel − 128 + offset/scale must be an integer shift.
 */
export function inputQuant(mapping: InputMapping, calibrated: Range): AffineQuant & { exact: boolean } {
  const shift = -mapping.pixelOffset / mapping.pixelScale;
  const zeroPoint = -128 + shift;
  if (mapping.pixelScale > 0 && Math.abs(shift - Math.round(shift)) < 1e-6 && zeroPoint >= -128 && zeroPoint <= 127) {
    return { scale: mapping.pixelScale, zeroPoint: Math.round(zeroPoint), exact: true };
  }
  return { ...affineFromRange(calibrated.min, calibrated.max), exact: false };
}

/**
 * A pre-quantized model's own input quantization; exact when it is the pixel mapping's (within 1e-6 relative of the
 * pixel scale, which moves no pixel 0–255 across a rounding boundary, and the zero point that absorbs the offset).
 */
export function givenInputQuant(mapping: InputMapping, given: AffineQuant): AffineQuant & { exact: boolean } {
  const shift = -mapping.pixelOffset / mapping.pixelScale;
  const exact = mapping.pixelScale > 0 && Math.abs(given.scale - mapping.pixelScale) <= 1e-6 * mapping.pixelScale
    && Math.abs(shift - Math.round(shift)) < 1e-6 && given.zeroPoint === -128 + Math.round(shift);
  return { ...given, exact };
}

/**
 * Refuses a graph with an op that has no int8 kernel or quantize hook: nothing may silently stay in float. Layers the
 * user keeps in float (`keepFloat`, --keep-float) are checked for an exact float kernel instead.
 */
export function checkInt8Support(graph: Graph, keepFloat: readonly string[] = []): void {
  const kept = keptNodes(graph, keepFloat);
  for (const node of graph.nodes) {
    if (kept.has(node)) continue;
    const def = opDef(node);
    if (!def.int8) {
      throw new KilnError(`node ${quoteName(node.name)} (op ${fileText(node.op)}) has no int8 kernel; compile with --quantize none to keep the model in float`);
    }
    if (!def.quantize) throw new KilnError(`node ${quoteName(node.name)} (op ${fileText(node.op)}) cannot be quantized; compile with --quantize none`);
  }
}

/**
 * `ranges` are the calibrated ones; a pre-quantized graph (graph.meta.givenQuant) needs none and uses its own.
 * `keepFloat` names layers that stay float32 (mixed precision): see keep-float.ts.
 */
export function quantizeGraph(input: Graph, ranges: Map<string, Range>, mapping: InputMapping, keepFloat: readonly string[] = []): Graph {
  checkInt8Support(input, keepFloat);
  const graph = cloneGraph(input);
  const given = givenQuantOf(graph);
  if (given && keepFloat.length > 0) throw new KilnError(`--keep-float: ${given.source} fixes every layer's quantization; keeping layers in float needs a model Kiln calibrates itself`);
  insertPrecisionEdges(graph, keptNodes(graph, keepFloat));
  const ctx = quantizeContext(graph, ranges, given);
  const inQ = given ? givenInputQuant(mapping, givenActivation(graph, given, graph.inputs[0])) : inputQuant(mapping, ctx.rangeOf(graph.inputs[0]));
  ctx.setQuant(graph.inputs[0], inQ);
  graph.meta.inputExact = inQ.exact;
  // checkInt8Support found a quantize hook on every node not kept in float (and quantize/dequantize have theirs).
  for (const node of graph.nodes) if (!node.float) opDef(node).quantize!(node, ctx);
  return graph;
}
