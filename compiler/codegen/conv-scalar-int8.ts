// Int8 conv2d codegen for the scalar target: conv_scalar_i8 (runtime/kernels/conv-scalar-i8.ts), two MACs per multiply.
import { type Graph, type Node } from "../ir.js";
import { roundUp } from "./emit.js";
import { packBiasAndMultipliers } from "./requant-params.js";
import { emitConv, geometry, int8Weights, paddedCopyBytes } from "./conv-int8.js";
import type { ConvKernel } from "./conv-variant.js";

/** conv_scalar_i8 computes output channels four at a time, and takes a kernel row's taps two at a time. */
const OC_BLOCK = 4;
const TAP_BLOCK = 2;

/**
 * The most taps (kh·kw·c) for which conv_scalar_i8's pair sums are exact: the left pixel's sum, at most
 * taps·128·127 in size (raw int8 inputs, weights within ±127), must stay below 2^31 in the low word of the i64.
 */
export const MAX_PAIR_TAPS = Math.floor((2 ** 31 - 1) / (128 * 127));

/**
 * Weights [kh][kw][c][oc] → per group of 4 output channels, per kernel row, per tap of the row's kw·c taps (padded
 * to even): 4 int8, one per channel. Zero beyond oc and beyond the row, so the padded tap adds nothing.
 */
export function packConvWeightsScalar(w: Int8Array, kh: number, kw: number, c: number, oc: number): Uint8Array {
  const row = kw * c, taps = roundUp(row, TAP_BLOCK), groups = roundUp(oc, OC_BLOCK) / OC_BLOCK;
  const out = new Int8Array(groups * kh * taps * OC_BLOCK);
  let at = 0;
  for (let g = 0; g < groups; g++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let t = 0; t < taps; t++) {
        for (let j = 0; j < OC_BLOCK; j++) {
          const o = g * OC_BLOCK + j;
          out[at++] = o < oc && t < row ? w[(ky * row + t) * oc + o] : 0;
        }
      }
    }
  }
  return new Uint8Array(out.buffer);
}

function taps(node: Node, graph: Graph): number {
  const g = geometry(node, graph);
  return g.kh * g.kw * g.c;
}

/** conv2d on the scalar target, with few enough taps for exact pair sums (conv_i8 takes the rest). */
export const scalarConvKernel: ConvKernel = {
  kernel: "conv_scalar_i8",
  applies: (node, graph, target) => node.op === "conv2d" && target === "scalar" && taps(node, graph) <= MAX_PAIR_TAPS,
  pack(node, graph) {
    const g = geometry(node, graph);
    // conv_scalar_i8 multiplies raw inputs: −zp·Σw is folded into the bias.
    return new Map([[`${node.name}#w`, packConvWeightsScalar(int8Weights(node, graph), g.kh, g.kw, g.c, g.oc)],
      ...packBiasAndMultipliers(node, graph, roundUp(g.oc, OC_BLOCK), true)]);
  },
  scratchBytes(node, graph) {
    const g = geometry(node, graph);
    const [t, l, b, r] = g.pads;
    // The i64 pairs of the padded input, the zero pair after them, and two pairs the kernel's look-ahead reads.
    return paddedCopyBytes(g) + 8 * ((g.h + t + b) * (g.w + l + r) * g.c + 3);
  },
  persistentBytes: () => 0,
  emit: (ctx) => emitConv(ctx, "conv_scalar_i8"),
};
