// Int8 conv2d codegen for the scalar target: conv_scalar_i8 (runtime/kernels/conv-scalar-i8.ts), two MACs per multiply.
import { attrInts, attrString, fusedPoolOf, int8Params, type Graph, type Node } from "../ir.js";
import { roundUp, type EmitContext } from "./emit.js";
import { int8Weights, packBiasAndMultipliers } from "./requant-params.js";
import { geometry, POOL_CODES } from "./conv-int8.js";
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

/**
 * The scratch of a pair band (runtime/kernels/pair-band.ts) for padded rows of wp·c inputs, partners d apart, and at
 * most `rows` rows at once: the row buffer (rowBufBytes there), then the rows' i64 pairs and 4 spare pairs.
 */
export function pairBandBytes(rows: number, wp: number, c: number, d: number): { rowBuf: number; total: number } {
  const rowBuf = roundUp(wp * c + d + 3, 16);
  return { rowBuf, total: rowBuf + 8 * (rows * wp * c + 4) };
}

/** The padded input rows one pass of conv_scalar_i8 reads at most: two output rows, or a pool window's conv rows. */
function bandRowsOf(node: Node, graph: Graph): number {
  const g = geometry(node, graph);
  const [t, , b] = g.pads;
  const sh = g.strides[0];
  const oh = Math.floor((g.h + t + b - g.kh) / sh) + 1;
  const passRows = fusedPoolOf(node)?.window.kernel[0] ?? 2;
  return (Math.min(passRows, oh) - 1) * sh + g.kh;
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
    const [, l, , r] = g.pads;
    return pairBandBytes(bandRowsOf(node, graph), g.w + l + r, g.c, g.strides[1] * g.c).total;
  },
  persistentBytes: () => 0,
  emit: emitScalarConv,
};

/** The conv_scalar_i8 call: the kernel pads the input itself as it widens it, in the layer's scratch. */
function emitScalarConv({ node, inputShapes: [xs, ws], outputShape, addr }: EmitContext): string {
  const [kh, kw, c] = ws;
  const oc = outputShape[outputShape.length - 1];
  const [pt, pl, pb, pr] = attrInts(node, "pads", [0, 0, 0, 0]);
  const [sh, sw] = attrInts(node, "strides", [1, 1]);
  const [h, w] = [xs[1], xs[2]];
  const hp = h + pt + pb, wp = w + pl + pr;
  const oh = Math.floor((hp - kh) / sh) + 1, ow = Math.floor((wp - kw) / sw) + 1;
  const p = int8Params(node, "producer");
  const pool = fusedPoolOf(node);
  const [ph, pw] = [outputShape[1], outputShape[2]];
  const pk = pool ? [...pool.window.kernel, ...pool.window.strides, pool.window.pads[0], pool.window.pads[1]] : [1, 1, 1, 1, 0, 0];
  const reluFirst = attrString(node, "activation", "linear") === "relu" ? 1 : 0;
  const scratch = addr(`${node.name}#scratch`);
  const pairs = scratch + pairBandBytes(0, wp, c, sw * c).rowBuf;
  return `conv_scalar_i8(${addr(node.inputs[0])}, ${scratch}, ${pairs}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ` +
    `${addr(`${node.name}#m`)}, ${addr(node.outputs[0])}, ${h}, ${w}, ${c}, ${pt}, ${pl}, ${wp}, ${oh}, ${ow}, ${oc}, ${kh}, ${kw}, ` +
    `${sh}, ${sw}, ${p.inputZp}, ${p.outputZp}, ${p.clampLo}, ${p.clampHi}, ${POOL_CODES[pool?.kind ?? "none"]}, ${ph}, ${pw}, ` +
    `${pk.join(", ")}, ${reluFirst});`;
}
