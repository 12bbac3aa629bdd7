// Quantization the model gives itself (an ONNX QDQ model's scales and zero points), used instead of calibration.
import { fileText, KilnError, quoteName } from "../errors.js";
import { producerOf, type Graph } from "../ir.js";
import { roundHalfEven, type AffineQuant } from "./arithmetic.js";

/** Set on `graph.meta.givenQuant` by a frontend that read a pre-quantized model; the quantize pass then skips calibration. */
export interface GivenQuant {
  /** Where the numbers come from, for the log and the manifest, e.g. "the model's QuantizeLinear/DequantizeLinear nodes". */
  source: string;
  /** Activation tensors (Kiln names) → int8 scale and zero point. */
  activations: Map<string, AffineQuant>;
  /** Producer weight tensors (Kiln names, float values that are exactly int8 × scale) → one scale per output channel, or one. */
  weights: Map<string, number[]>;
}

export function givenQuantOf(graph: Graph): GivenQuant | undefined {
  return graph.meta.givenQuant as GivenQuant | undefined;
}

/** Who writes `tensor`, for messages: "node 'conv1' (conv2d)", or "the graph input". */
export function writerOf(graph: Graph, tensor: string): string {
  const node = producerOf(graph, tensor);
  return node ? `node ${quoteName(node.name)} (${fileText(node.op)})` : `the graph input ${quoteName(tensor)}`;
}

/** The given quantization of an activation; a tensor the model left in float is an error (nothing is calibrated). */
export function givenActivation(graph: Graph, given: GivenQuant, tensor: string): AffineQuant {
  const q = given.activations.get(tensor);
  if (!q) {
    throw new KilnError(`${writerOf(graph, tensor)}: the pre-quantized model gives no scale for its output ${quoteName(tensor)} (no QuantizeLinear/DequantizeLinear pair after it); Kiln computes every tensor in int8 and does not calibrate a pre-quantized model — quantize this tensor in the model, or compile the float model`);
  }
  return q;
}

/** Refuses a quantization an op fixes (same scale as its input, softmax's fixed output) that differs from the model's. */
export function checkGivenActivation(graph: Graph, given: GivenQuant, tensor: string, q: AffineQuant): void {
  const want = givenActivation(graph, given, tensor);
  if (want.scale !== q.scale || want.zeroPoint !== q.zeroPoint) {
    throw new KilnError(`${writerOf(graph, tensor)}: the pre-quantized model quantizes its output with scale ${want.scale} and zero point ${want.zeroPoint}, but Kiln's int8 op gives it scale ${q.scale} and zero point ${q.zeroPoint} (its input's, or the op's fixed output); Kiln cannot map this exactly`);
  }
}

/**
 * The int8 weights behind float weights `w` (laid out with `channels` output channels innermost) and the model's scales:
 * q = w / scale must give back w exactly (as the frontend computed it, f32(q × scale)) with |q| ≤ 127. Anything else
 * means the float weights were changed after dequantization (e.g. a BatchNorm or Gemm alpha folded in), and the model's
 * int8 weights no longer describe them.
 */
export function givenWeights(given: GivenQuant, node: string, weights: string, w: Float32Array, channels: number): { data: Int8Array; scales: number[] } {
  const stated = given.weights.get(weights);
  const where = `node ${quoteName(node)}`;
  if (!stated) {
    throw new KilnError(`${where}: the pre-quantized model gives no int8 weights for it (its weights are not a DequantizeLinear of int8 values, or were changed after it); Kiln does not requantize the weights of a pre-quantized model`);
  }
  if (stated.length !== 1 && stated.length !== channels) {
    throw new KilnError(`${where}: the model gives ${stated.length} weight scales for ${channels} output channels; Kiln needs one per output channel, or one`);
  }
  const scales = stated.length === 1 ? new Array<number>(channels).fill(stated[0]) : [...stated];
  const data = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const s = scales[i % channels];
    const q = roundHalfEven(w[i] / s);
    if (Math.abs(q) > 127 || Math.fround(q * s) !== w[i]) {
      throw new KilnError(`${where}: its float weights are not the model's int8 weights times their scales (the weights were changed after DequantizeLinear, e.g. a BatchNorm or Gemm alpha folded into them); Kiln cannot map this exactly`);
    }
    data[i] = q;
  }
  return { data, scales };
}
