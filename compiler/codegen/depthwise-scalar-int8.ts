// Int8 depthwise codegen for the scalar target, depth multiplier 1: depthwise_scalar_i8 (runtime/kernels/depthwise-scalar-i8.ts).
import { attrInts, int8Params } from "../ir.js";
import { roundUp } from "./emit.js";
import { int8Weights, packBiasAndMultipliers } from "./requant-params.js";
import { depthwiseGeometry, packDepthwiseWeights } from "./depthwise-int8.js";
import { MAX_PAIR_TAPS, pairBandBytes } from "./conv-scalar-int8.js";
import type { ConvKernel } from "./conv-variant.js";

/** depthwise_scalar_i8 computes four channels at a time. */
const C_BLOCK = 4;

/** depthwise_conv2d with depth multiplier 1 on the scalar target (depthwise_i8 takes other multipliers). */
export const depthwiseScalarKernel: ConvKernel = {
  kernel: "depthwise_scalar_i8",
  // Pair sums are exact up to MAX_PAIR_TAPS taps (conv-scalar-int8.ts); a window's kh·kw is far below for real kernels.
  applies: (node, graph, target) => {
    if (node.op !== "depthwise_conv2d" || target !== "scalar") return false;
    const g = depthwiseGeometry(node, graph);
    return g.dm === 1 && g.kh * g.kw <= MAX_PAIR_TAPS;
  },
  pack(node, graph) {
    const g = depthwiseGeometry(node, graph);
    const w = int8Weights(node, graph);
    // The kernel multiplies raw inputs: −zp·Σw is folded into the bias.
    return new Map([[`${node.name}#w`, packDepthwiseWeights(w, g.kh * g.kw, g.c, C_BLOCK)],
      ...packBiasAndMultipliers(node, graph, roundUp(g.c, C_BLOCK), true)]);
  },
  scratchBytes(node, graph) {
    const g = depthwiseGeometry(node, graph);
    const [, l, , r] = g.pads;
    const [, sw] = attrInts(node, "strides", [1, 1]);
    // A band of kh widened rows (one output row's window), the kernel padding the input as it widens it.
    return pairBandBytes(g.kh, g.w + l + r, g.c, sw * g.c).total;
  },
  persistentBytes: () => 0,
  emit({ node, inputShapes: [xs, ws], outputShape: [, oh, ow], addr }) {
    const [kh, kw, c] = ws;
    const [pt, pl, , pr] = attrInts(node, "pads", [0, 0, 0, 0]);
    const [sh, sw] = attrInts(node, "strides", [1, 1]);
    const [h, w] = [xs[1], xs[2]];
    const wp = w + pl + pr;
    const p = int8Params(node, "producer");
    const scratch = addr(`${node.name}#scratch`);
    const pairs = scratch + pairBandBytes(0, wp, c, sw * c).rowBuf;
    return `depthwise_scalar_i8(${addr(node.inputs[0])}, ${scratch}, ${pairs}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ` +
      `${addr(`${node.name}#m`)}, ${addr(node.outputs[0])}, ${h}, ${w}, ${c}, ${pt}, ${pl}, ${wp}, ${oh}, ${ow}, ${kh}, ${kw}, ${sh}, ${sw}, ` +
      `${p.inputZp}, ${p.outputZp}, ${p.clampLo}, ${p.clampHi});`;
  },
};
