// Int8 codegen for pointwise convs (1×1, stride 1, no padding, no fused pool) on SIMD targets: when
// runtime/kernels/conv-pw-i8.ts applies, its weight layout, and the conv_pw_i8 call.
import { attrInts, fusedPoolOf, int8Params, tensorOf } from "../ir.js";
import { roundUp } from "./emit.js";
import { int8Weights, packBiasAndMultipliers } from "./requant-params.js";
import type { ConvKernel } from "./conv-variant.js";

const OC_BLOCK = 16;
/** Up to 5 inputs per row, conv_small_i8 does as well; from 6 on, pairs of channels fill the dot product. */
const MIN_CHANNELS = 6;

/** Weights [1][1][c][oc] → per block of 16 output channels, per input pair, 16 × [w(c, o), w(c + 1, o)]. */
export function packPointwiseWeights(w: Int8Array, c: number, oc: number): Uint8Array {
  const pairs = Math.ceil(c / 2), blocks = roundUp(oc, OC_BLOCK) / OC_BLOCK;
  const out = new Int8Array(blocks * pairs * 2 * OC_BLOCK);
  let at = 0;
  for (let b = 0; b < blocks; b++) {
    for (let p = 0; p < pairs; p++) {
      for (let j = 0; j < OC_BLOCK; j++) {
        const o = b * OC_BLOCK + j;
        for (const i of [2 * p, 2 * p + 1]) out[at++] = o < oc && i < c ? w[i * oc + o] : 0;
      }
    }
  }
  return new Uint8Array(out.buffer);
}

export const pointwiseKernel: ConvKernel = {
  kernel: "conv_pw_i8",
  applies(node, graph, target) {
    if (node.op !== "conv2d" || target !== "simd" || fusedPoolOf(node)) return false;
    const [kh, kw, c] = tensorOf(graph, node.inputs[1]).shape;
    const [sh, sw] = attrInts(node, "strides", [1, 1]);
    return kh === 1 && kw === 1 && sh === 1 && sw === 1 && c >= MIN_CHANNELS && attrInts(node, "pads", [0, 0, 0, 0]).every((p) => p === 0);
  },
  /** Weights, the bias with −zp·Σw folded in (the kernel multiplies raw inputs), multipliers; both padded to 16. */
  pack(node, graph) {
    const w = int8Weights(node, graph);
    const [, , c, oc] = tensorOf(graph, node.inputs[1]).shape;
    return new Map([[`${node.name}#w`, packPointwiseWeights(w, c, oc)], ...packBiasAndMultipliers(node, graph, roundUp(oc, OC_BLOCK), true)]);
  },
  /** Two pixels' inputs widened to i16, channels rounded up to 8. */
  scratchBytes: (node, graph) => 4 * roundUp(tensorOf(graph, node.inputs[0]).shape[3], 8),
  /** Kept for good: a 16-byte "done" flag, then the weights widened to i16 on the first call (the blob keeps int8). */
  persistentBytes(node, graph) {
    const [, , c, oc] = tensorOf(graph, node.inputs[1]).shape;
    return 16 + Math.ceil(c / 2) * roundUp(oc, OC_BLOCK) * 4;
  },
  emit({ node, inputShapes: [xs], outputShape, addr }) {
    const p = int8Params(node, "producer");
    return `conv_pw_i8(${addr(node.inputs[0])}, ${addr(`${node.name}#scratch`)}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#persistent`)}, ${addr(`${node.name}#b`)}, ${addr(`${node.name}#m`)}, ` +
      `${addr(node.outputs[0])}, ${xs[1] * xs[2]}, ${xs[3]}, ${outputShape[3]}, ${p.outputZp}, ${p.clampLo}, ${p.clampHi});`;
  },
};
