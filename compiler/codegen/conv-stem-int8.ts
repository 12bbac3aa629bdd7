// Int8 codegen for the 3-channel stride-2 3×3 conv (MobileNet's stem) on SIMD targets: when
// runtime/kernels/conv-stem-i8.ts applies, its weight layout (input pairs of each 9-byte window row), and its call.
import { attrInts, fusedPoolOf, int8Params, tensorOf, type Graph, type Node } from "../ir.js";
import { roundUp } from "./emit.js";
import { int8Weights, packBiasAndMultipliers } from "./requant-params.js";
import type { ConvKernel } from "./conv-variant.js";

const OC_BLOCK = 16;
/** Bytes of one window row (3 columns × 3 channels), taken as 5 pairs: the 10th byte has weight 0. */
const ROW_BYTES = 9, ROW_PAIRS = 5;

/**
 * Weights [3][3][3][oc] → per block of 16 output channels, per window row ky, per pair p (row bytes 2p, 2p + 1,
 * byte b = kx·3 + c), 16 × [w(a, o), w(b, o)] int8: 480 bytes a block, zero past oc and for byte 9.
 */
export function packStemWeights(w: Int8Array, oc: number): Uint8Array {
  const blocks = roundUp(oc, OC_BLOCK) / OC_BLOCK;
  const out = new Int8Array(blocks * 3 * ROW_PAIRS * 2 * OC_BLOCK);
  let at = 0;
  for (let blk = 0; blk < blocks; blk++) {
    for (let ky = 0; ky < 3; ky++) {
      for (let p = 0; p < ROW_PAIRS; p++) {
        for (let j = 0; j < OC_BLOCK; j++) {
          const o = blk * OC_BLOCK + j;
          for (const b of [2 * p, 2 * p + 1]) out[at++] = o < oc && b < ROW_BYTES ? w[(ky * ROW_BYTES + b) * oc + o] : 0;
        }
      }
    }
  }
  return new Uint8Array(out.buffer);
}

function padsOf(node: Node): number[] {
  return attrInts(node, "pads", [0, 0, 0, 0]);
}

/** Bytes of the packed int8 weights for oc output channels. */
function packedBytes(oc: number): number {
  return (roundUp(oc, OC_BLOCK) / OC_BLOCK) * 3 * ROW_PAIRS * 2 * OC_BLOCK;
}

function paddedSize(node: Node, graph: Graph): { hp: number; wp: number; padded: boolean } {
  const [, h, w] = tensorOf(graph, node.inputs[0]).shape;
  const [t, l, b, r] = padsOf(node);
  return { hp: h + t + b, wp: w + l + r, padded: t + l + b + r > 0 };
}

export const stemConvKernel: ConvKernel = {
  kernel: "conv_stem_i8",
  applies(node, graph, target) {
    if (node.op !== "conv2d" || target !== "simd" || fusedPoolOf(node)) return false;
    const [kh, kw, c] = tensorOf(graph, node.inputs[1]).shape;
    const [sh, sw] = attrInts(node, "strides", [1, 1]);
    return kh === 3 && kw === 3 && c === 3 && sh === 2 && sw === 2;
  },
  /** Weights, the bias with −zp·Σw folded in (the kernel multiplies raw inputs, padding holds zp), multipliers. */
  pack(node, graph) {
    const w = int8Weights(node, graph);
    const oc = tensorOf(graph, node.inputs[1]).shape[3];
    return new Map([[`${node.name}#w`, packStemWeights(w, oc)], ...packBiasAndMultipliers(node, graph, roundUp(oc, OC_BLOCK), true)]);
  },
  /** The padded input copy (pad_i8), as conv_i8 makes it, then that copy widened to i16. */
  scratchBytes(node, graph) {
    const { hp, wp, padded } = paddedSize(node, graph);
    return (padded ? roundUp(hp * wp * 3, 16) : 0) + roundUp(2 * hp * wp * 3, 16) + 16;
  },
  /** Kept for good: a 16-byte "done" flag, then the weights widened to i16 on the first call (the blob keeps int8). */
  persistentBytes(node, graph) {
    return 16 + 2 * packedBytes(tensorOf(graph, node.inputs[1]).shape[3]);
  },
  emit({ node, graph, outputShape: [, oh, ow, oc], addr }) {
    const [pt, pl, pb, pr] = padsOf(node);
    const [, h, w, c] = tensorOf(graph, node.inputs[0]).shape;
    const { hp, wp, padded } = paddedSize(node, graph);
    const p = int8Params(node, "producer");
    const scratch = addr(`${node.name}#scratch`);
    const x = padded ? scratch : addr(node.inputs[0]);
    const xw = scratch + (padded ? roundUp(hp * wp * 3, 16) : 0);
    const lines: string[] = [];
    if (padded) lines.push(`pad_i8(${addr(node.inputs[0])}, ${x}, ${h}, ${w}, ${c}, ${pt}, ${pl}, ${pb}, ${pr}, ${p.inputZp});`);
    lines.push(`conv_stem_i8(${x}, ${xw}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#persistent`)}, ${addr(`${node.name}#b`)}, ` +
      `${addr(`${node.name}#m`)}, ${addr(node.outputs[0])}, ${hp}, ${wp}, ${oh}, ${ow}, ${oc}, ${p.outputZp}, ${p.clampLo}, ${p.clampHi});`);
    return lines.join("\n  ");
  },
};
