// Int8 dense codegen: one zero-padded weight row per output channel, and the dense_i8 call (every target).
import { int8Params, tensorOf } from "../ir.js";
import { quoteName } from "../errors.js";
import { roundUp } from "./emit.js";
import { packBiasAndMultipliers } from "./requant-params.js";
import type { ConvKernel } from "./conv-variant.js";

/** dense_i8 reads its rows eight bytes at a time and its bias and multipliers four channels at a time. */
const K_BLOCK = 8, OC_BLOCK = 4;

/** Dense weights [c][oc] → one zero-padded row of roundUp(c, 8) bytes per output channel. */
export function packDenseWeights(w: Int8Array, c: number, oc: number): Uint8Array {
  const row = roundUp(c, K_BLOCK);
  const out = new Int8Array(oc * row);
  for (let o = 0; o < oc; o++) for (let i = 0; i < c; i++) out[o * row + i] = w[i * oc + o];
  return new Uint8Array(out.buffer);
}

export const denseKernel: ConvKernel = {
  kernel: "dense_i8",
  applies: (node) => node.op === "dense",
  pack(node, graph) {
    const w = tensorOf(graph, node.inputs[1]);
    if (!(w.data instanceof Int8Array)) throw new Error(`internal: node ${quoteName(node.name)} weights are not int8`);
    const [c, oc] = w.shape;
    // dense_i8 multiplies raw inputs: −zp·Σw is folded into the bias.
    return new Map([[`${node.name}#w`, packDenseWeights(w.data, c, oc)], ...packBiasAndMultipliers(node, graph, roundUp(oc, OC_BLOCK), true)]);
  },
  scratchBytes: () => 0,
  persistentBytes: () => 0,
  emit({ node, inputShapes: [xs], outputShape, addr }) {
    const p = int8Params(node, "producer");
    return `dense_i8(${addr(node.inputs[0])}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ${addr(`${node.name}#m`)}, ` +
      `${addr(node.outputs[0])}, ${xs[1]}, ${outputShape[1]}, ${p.outputZp}, ${p.clampLo}, ${p.clampHi});`;
  },
};
