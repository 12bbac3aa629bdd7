// What every int8 conv-like kernel's packing reads: its int8 weights, and the bias and requantization multipliers,
// packed once for all of them.
import { int8Params, tensorOf, type Graph, type Node } from "../ir.js";
import { quoteName } from "../errors.js";

/** The node's int8 weights (its second input), as the quantizer left them. */
export function int8Weights(node: Node, graph: Graph): Int8Array {
  const w = tensorOf(graph, node.inputs[1]).data;
  if (!(w instanceof Int8Array)) throw new Error(`internal: node ${quoteName(node.name)} weights are not int8`);
  return w;
}

/**
 * `${node.name}#b` (i32 bias) and `${node.name}#m` (f32 multipliers), zero-padded to `padded` channels so kernels
 * load whole vectors. With `foldZeroPoint` the kernel multiplies raw int8 inputs, so −zp·Σw goes into the bias:
 * Σ (x − zp)·w = Σ x·w − zp·Σ w, over every tap (weights flat as [..][oc]; a padded tap holds zp, adding nothing).
 */
export function packBiasAndMultipliers(node: Node, graph: Graph, padded: number, foldZeroPoint: boolean): [string, Uint8Array][] {
  // Output channels, from the output (a depthwise weight's last dimension is its multiplier, not C·DM).
  const out = tensorOf(graph, node.outputs[0]).shape, oc = out[out.length - 1];
  const bias = new Int32Array(padded);
  if (node.inputs[2]) bias.set(tensorOf(graph, node.inputs[2]).data as Int32Array);
  if (foldZeroPoint) {
    const w = tensorOf(graph, node.inputs[1]).data as Int8Array, zpIn = int8Params(node, "producer").inputZp;
    for (let k = 0; k < w.length; k++) bias[k % oc] -= zpIn * w[k];
  }
  const multipliers = new Float32Array(padded);
  multipliers.set(int8Params(node, "producer").multipliers);
  return [[`${node.name}#b`, new Uint8Array(bias.buffer)], [`${node.name}#m`, new Uint8Array(multipliers.buffer)]];
}
