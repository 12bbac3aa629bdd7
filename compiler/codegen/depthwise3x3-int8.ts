// Int8 codegen for depthwise 3×3 layers (stride 1 or 2 each way, depth multiplier 1) on SIMD targets: when
// runtime/kernels/depthwise3x3-i8.ts applies, its weight layout (taps paired for i32x4.dot_i16x8_s), and its call.
import { attrInts, int8Params, tensorOf } from "../ir.js";
import { roundUp } from "./emit.js";
import { int8Weights, packBiasAndMultipliers } from "./requant-params.js";
import { depthwiseGeometry } from "./depthwise-int8.js";
import type { ConvKernel } from "./conv-variant.js";

const BLOCK = 8;
/** Taps (ky·3 + kx) in the kernel's dot-product pairs; tap 8's partner is itself with weight 0. */
const TAP_PAIRS: readonly [number, number | undefined][] = [[0, 1], [2, 3], [4, 5], [6, 7], [8, undefined]];

/**
 * Weights [3][3][c][1] → per block of 8 channels, per tap pair (a, b), 8 × [w(a, ch), w(b, ch)] int8 (80 bytes a
 * block), zero past c; the kernel widens each 8-byte half (channels 0–3, 4–7) with one load8x8_s.
 */
export function packDepthwise3x3Weights(w: Int8Array, c: number): Uint8Array {
  const blocks = roundUp(c, BLOCK) / BLOCK;
  const out = new Int8Array(blocks * TAP_PAIRS.length * 2 * BLOCK);
  let at = 0;
  for (let blk = 0; blk < blocks; blk++) {
    for (const [a, b] of TAP_PAIRS) {
      for (let j = 0; j < BLOCK; j++) {
        const ch = blk * BLOCK + j;
        out[at++] = ch < c ? w[a * c + ch] : 0;
        out[at++] = ch < c && b !== undefined ? w[b * c + ch] : 0;
      }
    }
  }
  return new Uint8Array(out.buffer);
}

export const depthwise3x3Kernel: ConvKernel = {
  kernel: "depthwise3x3_i8",
  applies(node, graph, target) {
    if (node.op !== "depthwise_conv2d" || target !== "simd") return false;
    const [kh, kw, , dm] = tensorOf(graph, node.inputs[1]).shape;
    const [sh, sw] = attrInts(node, "strides", [1, 1]);
    // One stride for both axes: the kernel steps columns by S·C bytes and rows by S rows.
    return kh === 3 && kw === 3 && dm === 1 && sh === sw && (sh === 1 || sh === 2);
  },
  pack(node, graph) {
    const g = depthwiseGeometry(node, graph);
    const w = int8Weights(node, graph);
    // Bias (−zp·Σw folded in: the kernel multiplies raw inputs) and multipliers padded to whole blocks.
    return new Map([[`${node.name}#w`, packDepthwise3x3Weights(w, g.c)], ...packBiasAndMultipliers(node, graph, roundUp(g.c, BLOCK), true)]);
  },
  /** One input row of the input zero point, which rows above and below the image read. */
  scratchBytes(node, graph) {
    const g = depthwiseGeometry(node, graph);
    return g.w * g.c;
  },
  persistentBytes: () => 0,
  emit({ node, inputShapes: [xs], outputShape: [, oh, ow], addr }) {
    const [pt, pl] = attrInts(node, "pads", [0, 0, 0, 0]);
    const [s] = attrInts(node, "strides", [1, 1]);
    const p = int8Params(node, "producer");
    return `depthwise3x3_i8(${addr(node.inputs[0])}, ${addr(`${node.name}#scratch`)}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ` +
      `${addr(`${node.name}#m`)}, ${addr(node.outputs[0])}, ${xs[1]}, ${xs[2]}, ${xs[3]}, ${oh}, ${ow}, ${s}, ${pt}, ${pl}, ` +
      `${p.inputZp}, ${p.outputZp}, ${p.clampLo}, ${p.clampHi});`;
  },
};
