// What an op's quantize hook works with: the graph being quantized, its calibrated ranges, and the shared steps.
import { tensorOf, type Graph, type Node } from "../ir.js";
import { KilnError, quoteName } from "../errors.js";
import { affineFromRange, type AffineQuant } from "./arithmetic.js";
import type { Range } from "./calibrate.js";

/**
 * Handed to `OpDef.quantize` for each node in order: by then every input of the node is quantized. A hook sets its
 * output's quantization (calibrated, fixed, or the input's) and `node.int8`, and may add int8 constants to `graph`.
 */
export interface QuantizeContext {
  graph: Graph;
  /** The per-tensor quantization of a tensor already quantized (the graph input or an earlier node's output). */
  quantOf(tensor: string): AffineQuant;
  /** Marks `tensor` int8 with `q`; returns q. */
  setQuant(tensor: string, q: AffineQuant): AffineQuant;
  /** The calibrated range of `tensor`, refused if the float model is not finite there. */
  rangeOf(tensor: string): Range;
  /** Quantizes the node's output from its calibrated range; returns the result. */
  calibrateOutput(node: Node): AffineQuant;
}

export function quantizeContext(graph: Graph, ranges: Map<string, Range>): QuantizeContext {
  const ctx: QuantizeContext = {
    graph,
    quantOf(name) {
      const q = tensorOf(graph, name).quant;
      if (!q) throw new Error(`internal: tensor ${quoteName(name)} is not quantized yet`);
      return { scale: q.scale[0], zeroPoint: q.zeroPoint[0] };
    },
    setQuant(name, q) {
      const t = tensorOf(graph, name);
      t.dtype = "int8";
      t.quant = { scale: [q.scale], zeroPoint: [q.zeroPoint] };
      return q;
    },
    rangeOf(name) {
      const r = ranges.get(name);
      if (!r) throw new Error(`internal: no calibration range for tensor ${quoteName(name)}`);
      if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) {
        // Finite weights can still overflow float32 (or make 0·∞): the float model itself computes garbage there.
        throw new KilnError(`tensor ${quoteName(name)} takes values that are not finite numbers on the calibration images (the float model overflows float32 there); int8 needs a finite range`);
      }
      return r;
    },
    calibrateOutput(node) {
      const r = ctx.rangeOf(node.outputs[0]);
      return ctx.setQuant(node.outputs[0], affineFromRange(r.min, r.max));
    },
  };
  return ctx;
}

/** The quantize hook of pools and layout ops: the output keeps the input's scale, so max pools and copies are exact. */
export function keepInputScale(node: Node, ctx: QuantizeContext): void {
  const input = ctx.quantOf(node.inputs[0]);
  ctx.setQuant(node.outputs[0], input);
  node.int8 = { kind: "same-scale", inputZp: input.zeroPoint };
}
