// Int8 depthwise codegen: packs weights, bias, multipliers and gather masks for depthwise_i8 and emits its call.
import { attrInts, int8Params, tensorOf, type Graph, type Node } from "../ir.js";
import { roundUp } from "./emit.js";
import { int8Weights, packBiasAndMultipliers } from "./requant-params.js";
import type { ConvKernel } from "./conv-variant.js";

/** The SIMD kernel computes eight output channels at a time (one i16x8 multiply per tap). */
const DW_BLOCK = 8;

export interface DepthwiseGeometry { h: number; w: number; c: number; dm: number; kh: number; kw: number; pads: number[] }

export function depthwiseGeometry(node: Node, graph: Graph): DepthwiseGeometry {
  const x = tensorOf(graph, node.inputs[0]).shape;
  const [kh, kw, c, dm] = tensorOf(graph, node.inputs[1]).shape;
  return { h: x[1], w: x[2], c, dm, kh, kw, pads: attrInts(node, "pads", [0, 0, 0, 0]) };
}

/**
 * Weights [kh][kw][c·dm] → for each block of `block` output channels (8 here; the scalar kernel's 4), each tap
 * (ky, kx): `block` int8, zero beyond the last channel. One block's taps are contiguous, so the kernel's inner loop
 * walks the weights linearly.
 */
export function packDepthwiseWeights(w: Int8Array, taps: number, oc: number, block = DW_BLOCK): Uint8Array {
  const blocks = roundUp(oc, block) / block;
  const out = new Int8Array(blocks * taps * block);
  let at = 0;
  for (let b = 0; b < blocks; b++) {
    for (let t = 0; t < taps; t++) {
      for (let j = 0; j < block; j++) {
        const o = b * block + j;
        out[at++] = o < oc ? w[t * oc + o] : 0;
      }
    }
  }
  return new Uint8Array(out.buffer);
}

/**
 * With dm > 1 the eight outputs of a block read fewer than eight input channels: an i8x16.swizzle mask per
 * full block picks, for lane j, the byte of input channel ⌊(o0 + j)/dm⌋ counted from ⌊o0/dm⌋. The partial
 * last block runs on the scalar path and needs no mask.
 */
export function packGatherMasks(oc: number, dm: number): Uint8Array {
  const full = Math.floor(oc / DW_BLOCK);
  const out = new Uint8Array(full * 16);
  for (let b = 0; b < full; b++) {
    const o0 = b * DW_BLOCK;
    for (let j = 0; j < DW_BLOCK; j++) out[b * 16 + j] = Math.floor((o0 + j) / dm) - Math.floor(o0 / dm);
  }
  return out;
}

/** Padding is materialised like conv_i8's: a copy of the input with a zero-point border, then a VALID depthwise. */
export function paddedInputBytes(node: Node, graph: Graph): number {
  const g = depthwiseGeometry(node, graph);
  const [t, l, b, r] = g.pads;
  return t + l + b + r === 0 ? 0 : (g.h + t + b) * (g.w + l + r) * g.c;
}

/** The general depthwise kernel (any window, stride and multiplier), built with and without SIMD: the table's last resort for depthwise_conv2d. */
export const depthwiseKernel: ConvKernel = {
  kernel: "depthwise_i8",
  applies: (node) => node.op === "depthwise_conv2d",
  pack(node, graph) {
    const g = depthwiseGeometry(node, graph);
    const w = int8Weights(node, graph);
    const oc = g.c * g.dm, ocPadded = roundUp(oc, DW_BLOCK);
    // Bias and multipliers are padded so the SIMD path can load two full vectors per block; the kernel multiplies
    // raw inputs (weights are [taps][c·dm], so the fold sums each output channel's taps).
    const blobs = new Map([
      [`${node.name}#w`, packDepthwiseWeights(w, g.kh * g.kw, oc)],
      ...packBiasAndMultipliers(node, graph, ocPadded, true),
    ]);
    if (g.dm > 1 && oc >= DW_BLOCK) blobs.set(`${node.name}#gather`, packGatherMasks(oc, g.dm));
    return blobs;
  },
  scratchBytes: paddedInputBytes,
  persistentBytes: () => 0,
  emit({ node, inputShapes: [xs, ws], outputShape: [, oh, ow], addr }) {
    const [kh, kw, c, dm] = ws;
    const [pt, pl, pb, pr] = attrInts(node, "pads", [0, 0, 0, 0]);
    const [sh, sw] = attrInts(node, "strides", [1, 1]);
    const [h, w] = [xs[1], xs[2]];
    const p = int8Params(node, "producer");
    const padded = pt + pl + pb + pr > 0;
    const x = padded ? addr(`${node.name}#scratch`) : addr(node.inputs[0]);
    const gather = dm > 1 && c * dm >= DW_BLOCK ? addr(`${node.name}#gather`) : 0;
    const lines: string[] = [];
    if (padded) lines.push(`pad_i8(${addr(node.inputs[0])}, ${x}, ${h}, ${w}, ${c}, ${pt}, ${pl}, ${pb}, ${pr}, ${p.inputZp});`);
    lines.push(`depthwise_i8(${x}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ${addr(`${node.name}#m`)}, ${gather}, ` +
      `${addr(node.outputs[0])}, ${w + pl + pr}, ${c}, ${oh}, ${ow}, ${dm}, ${kh}, ${kw}, ${sh}, ${sw}, ` +
      `${p.outputZp}, ${p.clampLo}, ${p.clampHi});`);
    return lines.join("\n  ");
  },
};
