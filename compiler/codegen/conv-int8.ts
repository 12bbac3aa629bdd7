// Int8 conv/dense codegen: packs weights in the kernel's blocked layout and emits the conv_i8 call.
import { attrInts, attrString, int8Params, tensorOf, type Graph, type Node } from "../ir.js";
import type { EmitContext } from "../ops/op.js";
import { fusedPoolOf } from "../ops/fused-pool.js";
import { emitConvWinoInt8, packConvWino, usesWinograd, winoScratchBytes } from "./conv-wino-int8.js";
import { packBiasAndMultipliers } from "./requant-params.js";
import { emitConvPwInt8, packConvPw, usesPointwise } from "./conv-pw-int8.js";
import { quoteName } from "../errors.js";

/** Output channels are computed four at a time and the reduction eight at a time (one i16x8 dot). */
export const OC_BLOCK = 4;
export const K_BLOCK = 8;

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

interface ConvGeometry { kh: number; kw: number; c: number; oc: number; h: number; w: number; pads: number[]; strides: number[] }

/** Dense is a 1×1 conv over a 1×1 image with N channels. */
function geometry(node: Node, graph: Graph): ConvGeometry {
  const x = tensorOf(graph, node.inputs[0]).shape;
  const w = tensorOf(graph, node.inputs[1]).shape;
  if (node.op === "dense") return { kh: 1, kw: 1, c: w[0], oc: w[1], h: 1, w: 1, pads: [0, 0, 0, 0], strides: [1, 1] };
  return { kh: w[0], kw: w[1], c: w[2], oc: w[3], h: x[1], w: x[2], pads: attrInts(node, "pads", [0, 0, 0, 0]), strides: attrInts(node, "strides", [1, 1]) };
}

/**
 * Weights [kh][kw][c][oc] → for each group of 4 output channels, each kernel row ky, each 8-wide block of
 * the row's kw·c contiguous input bytes: 4 × 8 int8 (zero beyond the row, so over-reads multiply by 0).
 */
export function packConvWeights(w: Int8Array, kh: number, kw: number, c: number, oc: number): Uint8Array {
  const row = kw * c, rowPadded = roundUp(row, K_BLOCK), groups = roundUp(oc, OC_BLOCK) / OC_BLOCK;
  const out = new Int8Array(groups * kh * rowPadded * OC_BLOCK);
  let at = 0;
  for (let g = 0; g < groups; g++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let b = 0; b < rowPadded; b += K_BLOCK) {
        for (let j = 0; j < OC_BLOCK; j++) {
          const o = g * OC_BLOCK + j;
          for (let t = 0; t < K_BLOCK; t++) {
            const k = b + t;
            out[at++] = o < oc && k < row ? w[((ky * kw) * c + k) * oc + o] : 0;
          }
        }
      }
    }
  }
  return new Uint8Array(out.buffer);
}

/**
 * Rows of at most this many inputs (KW·C) use conv_small_i8, which broadcasts each input into 8 channels:
 * the dot kernel would pad such rows to 8 and pay a horizontal sum per 4 channels (measured: conv 3×3 on
 * one channel ran at ~4 GMAC/s with the dot kernel).
 */
export const SMALL_ROW = 5;
const SMALL_OC_BLOCK = 8;

/** SIMD targets only (graph.meta.target, set by the compiler driver): scalar code gains nothing from it. */
function usesSmallKernel(node: Node, graph: Graph, kw: number, c: number): boolean {
  return node.op === "conv2d" && kw * c <= SMALL_ROW && graph.meta.target === "simd";
}

/**
 * Weights [kh][kw][c][oc] → per group of 8 output channels, per kernel row, per pair of the row's kw·c taps
 * (a, b = a + 1), two halves of 4 channels, each [w(a,o), w(b,o)] per channel: the i32x4.dot_i16x8_s operand
 * for an input pair splat in every lane. Zero beyond oc and beyond the row (an odd row's last b).
 */
export function packConvWeightsSmall(w: Int8Array, kh: number, kw: number, c: number, oc: number): Uint8Array {
  const row = kw * c, pairs = Math.ceil(row / 2), groups = roundUp(oc, SMALL_OC_BLOCK) / SMALL_OC_BLOCK;
  const out = new Int8Array(groups * kh * pairs * 2 * SMALL_OC_BLOCK);
  let at = 0;
  for (let g = 0; g < groups; g++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let p = 0; p < pairs; p++) {
        for (let j = 0; j < SMALL_OC_BLOCK; j++) {
          const o = g * SMALL_OC_BLOCK + j;
          for (const k of [2 * p, 2 * p + 1]) out[at++] = o < oc && k < row ? w[(ky * row + k) * oc + o] : 0;
        }
      }
    }
  }
  return new Uint8Array(out.buffer);
}

/** Dense weights [c][oc] → one zero-padded row of roundUp(c, 8) bytes per output channel (dense_i8). */
export function packDenseWeights(w: Int8Array, c: number, oc: number): Uint8Array {
  const row = roundUp(c, K_BLOCK);
  const out = new Int8Array(oc * row);
  for (let o = 0; o < oc; o++) for (let i = 0; i < c; i++) out[o * row + i] = w[i * oc + o];
  return new Uint8Array(out.buffer);
}

export function packConvInt8(node: Node, graph: Graph): Map<string, Uint8Array> {
  if (usesWinograd(node, graph)) return packConvWino(node, graph);
  if (usesPointwise(node, graph)) return packConvPw(node, graph);
  const g = geometry(node, graph);
  const w = tensorOf(graph, node.inputs[1]).data;
  if (!(w instanceof Int8Array)) throw new Error(`internal: node ${quoteName(node.name)} weights are not int8`);
  const small = usesSmallKernel(node, graph, g.kw, g.c);
  const ocPadded = roundUp(g.oc, small ? SMALL_OC_BLOCK : OC_BLOCK);
  return new Map([
    [`${node.name}#w`, node.op === "dense" ? packDenseWeights(w, g.c, g.oc)
      : small ? packConvWeightsSmall(w, g.kh, g.kw, g.c, g.oc) : packConvWeights(w, g.kh, g.kw, g.c, g.oc)],
    // conv_i8 and dense_i8 multiply raw inputs; conv_small_i8 subtracts zp as it widens its input.
    ...packBiasAndMultipliers(node, graph, ocPadded, !small),
  ]);
}

/** Padding is materialised: the input is copied with a border of zero-point values, then the conv is VALID (Winograd convs need more). */
export function padScratchBytes(node: Node, graph: Graph): number {
  if (usesWinograd(node, graph)) return winoScratchBytes(node, graph);
  if (usesPointwise(node, graph)) return 0;
  const g = geometry(node, graph);
  const [t, l, b, r] = g.pads;
  const padded = (g.h + t + b) * (g.w + l + r) * g.c;
  // conv_small_i8 widens its (padded) input to i16 after the padded copy.
  const widened = usesSmallKernel(node, graph, g.kw, g.c) ? 2 * roundUp(padded, 8) : 0;
  return (t + l + b + r === 0 ? 0 : roundUp(padded, 16)) + widened;
}

const POOL_CODES = { none: 0, max: 1, avg: 2 } as const;

export function emitConvInt8(ctx: EmitContext): string {
  if (usesWinograd(ctx.node, ctx.graph)) return emitConvWinoInt8(ctx);
  if (usesPointwise(ctx.node, ctx.graph)) return emitConvPwInt8(ctx);
  const { node, graph, inputShapes: [xs, ws], outputShape, addr } = ctx;
  const isDense = node.op === "dense";
  if (isDense) {
    return `dense_i8(${addr(node.inputs[0])}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ${addr(`${node.name}#m`)}, ` +
      `${addr(node.outputs[0])}, ${xs[1]}, ${outputShape[1]}, ${int8Params(node, "producer").outputZp}, ` +
      `${int8Params(node, "producer").clampLo}, ${int8Params(node, "producer").clampHi});`;
  }
  const [kh, kw, c] = isDense ? [1, 1, xs[1]] : [ws[0], ws[1], ws[2]];
  const oc = outputShape[outputShape.length - 1];
  const [pt, pl, pb, pr] = isDense ? [0, 0, 0, 0] : attrInts(node, "pads", [0, 0, 0, 0]);
  const [sh, sw] = isDense ? [1, 1] : attrInts(node, "strides", [1, 1]);
  const [h, w] = isDense ? [1, 1] : [xs[1], xs[2]];
  const hp = h + pt + pb, wp = w + pl + pr;
  const oh = Math.floor((hp - kh) / sh) + 1, ow = Math.floor((wp - kw) / sw) + 1;
  const zpIn = int8Params(node, "producer").inputZp;
  const padded = pt + pl + pb + pr > 0;
  const x = padded ? addr(`${node.name}#scratch`) : addr(node.inputs[0]);
  const pool = fusedPoolOf(node);
  const [ph, pw] = isDense ? [1, 1] : [outputShape[1], outputShape[2]];
  const pk = pool ? [...pool.window.kernel, ...pool.window.strides, pool.window.pads[0], pool.window.pads[1]] : [1, 1, 1, 1, 0, 0];
  const reluFirst = attrString(node, "activation", "linear") === "relu" ? 1 : 0;
  const lines: string[] = [];
  if (padded) lines.push(`pad_i8(${addr(node.inputs[0])}, ${x}, ${h}, ${w}, ${c}, ${pt}, ${pl}, ${pb}, ${pr}, ${zpIn});`);
  const small = usesSmallKernel(node, graph, kw, c);
  const widened = small ? `${addr(`${node.name}#scratch`) + (padded ? roundUp(hp * wp * c, 16) : 0)}, ` : "";
  lines.push(`${small ? "conv_small_i8" : "conv_i8"}(${x}, ${widened}${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ${addr(`${node.name}#m`)}, ${addr(node.outputs[0])}, ` +
    `${hp}, ${wp}, ${c}, ${oh}, ${ow}, ${oc}, ${kh}, ${kw}, ${sh}, ${sw}, ${small ? `${zpIn}, ` : ""}${int8Params(node, "producer").outputZp}, ` +
    `${int8Params(node, "producer").clampLo}, ${int8Params(node, "producer").clampHi}, ${POOL_CODES[pool?.kind ?? "none"]}, ${ph}, ${pw}, ${pk.join(", ")}, ${reluFirst});`);
  return lines.join("\n  ");
}
