// What an op's quantize hook works with: the graph being quantized, its calibrated ranges, and the shared steps.
import { tensorOf, type Graph, type Node } from "../ir.js";
import { KilnError, quoteName } from "../errors.js";
import { affineFromRange, type AffineQuant } from "./arithmetic.js";
import type { Range } from "./calibrate.js";
import { checkGivenActivation, givenActivation, givenWeights, type GivenQuant } from "./given.js";

/**
 * Handed to `OpDef.quantize` for each node in order: by then every input of the node is quantized. A hook sets its
 * output's quantization (calibrated, fixed, or the input's) and `node.int8`, and may add int8 constants to `graph`.
 */
export interface QuantizeContext {
  graph: Graph;
  /** The per-tensor quantization of a tensor already quantized (the graph input or an earlier node's output). */
  quantOf(tensor: string): AffineQuant;
  /**
   * Marks `tensor` int8 with `q`; returns q. `exact`: the op computes its output exactly in `q` (its input's, for pools
   * and layout ops), so a pre-quantized model that left this tensor in float is still matched.
   */
  setQuant(tensor: string, q: AffineQuant, exact?: boolean): AffineQuant;
  /** The calibrated range of `tensor`, refused if the float model is not finite there. */
  rangeOf(tensor: string): Range;
  /** Quantizes the node's output from its calibrated range (or the model's own, see `given`); returns the result. */
  calibrateOutput(node: Node): AffineQuant;
  /** A pre-quantized model's own quantization (ONNX QDQ): outputs take its scales instead of calibrated ones. */
  given?: GivenQuant;
  /**
   * Int8 weights of a producer from the model's own scales, or undefined when the model is not pre-quantized
   * (the producer then picks symmetric per-channel scales itself).
   */
  givenWeights(node: Node, weights: string, w: Float32Array, channels: number): { data: Int8Array; scales: number[] } | undefined;
}

export function quantizeContext(graph: Graph, ranges: Map<string, Range>, given?: GivenQuant): QuantizeContext {
  const ctx: QuantizeContext = {
    graph,
    given,
    quantOf(name) {
      const q = tensorOf(graph, name).quant;
      if (!q) throw new Error(`internal: tensor ${quoteName(name)} is not quantized yet`);
      return { scale: q.scale[0], zeroPoint: q.zeroPoint[0] };
    },
    setQuant(name, q, exact = false) {
      // A pre-quantized model fixes every tensor's quantization: an op that would pick another cannot map it exactly.
      if (given && (!exact || given.activations.has(name))) checkGivenActivation(graph, given, name, q);
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
      if (given) return ctx.setQuant(node.outputs[0], givenActivation(graph, given, node.outputs[0]));
      const r = ctx.rangeOf(node.outputs[0]);
      return ctx.setQuant(node.outputs[0], affineFromRange(r.min, r.max));
    },
    givenWeights(node, weights, w, channels) {
      return given && givenWeights(given, node.name, weights, w, channels);
    },
  };
  return ctx;
}

/** The quantize hook of pools and layout ops: the output keeps the input's scale, so max pools and copies are exact. */
export function keepInputScale(node: Node, ctx: QuantizeContext): void {
  const input = ctx.quantOf(node.inputs[0]);
  ctx.setQuant(node.outputs[0], input, true);
  node.int8 = { kind: "same-scale", inputZp: input.zeroPoint };
}
