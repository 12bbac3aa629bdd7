// Int8 conv2d codegen for the general kernels: conv_i8 (every target) and conv_small_i8 (SIMD, short kernel rows),
// and the shared helpers of conv_scalar_i8's (conv-scalar-int8.ts).
import { attrInts, attrString, fusedPoolOf, int8Params, tensorOf, type Graph, type Node } from "../ir.js";
import { roundUp, type EmitContext } from "./emit.js";
import { int8Weights, packBiasAndMultipliers } from "./requant-params.js";
import type { ConvKernel } from "./conv-variant.js";

/** conv_i8 computes output channels four at a time and the reduction eight at a time (one i16x8 dot). */
const OC_BLOCK = 4;
const K_BLOCK = 8;

/**
 * Rows of at most this many inputs (KW·C) use conv_small_i8, which broadcasts each input into 8 channels:
 * the dot kernel would pad such rows to 8 and pay a horizontal sum per 4 channels (measured: conv 3×3 on
 * one channel ran at ~4 GMAC/s with the dot kernel). Scalar code gains nothing from it.
 */
const SMALL_ROW = 5;
const SMALL_OC_BLOCK = 8;

export interface ConvGeometry { kh: number; kw: number; c: number; oc: number; h: number; w: number; pads: number[]; strides: number[] }

export function geometry(node: Node, graph: Graph): ConvGeometry {
  const x = tensorOf(graph, node.inputs[0]).shape;
  const [kh, kw, c, oc] = tensorOf(graph, node.inputs[1]).shape;
  return { kh, kw, c, oc, h: x[1], w: x[2], pads: attrInts(node, "pads", [0, 0, 0, 0]), strides: attrInts(node, "strides", [1, 1]) };
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

/** Bytes of the input copy with its zero-point border (the conv then runs VALID); 0 without padding. */
export function paddedCopyBytes(g: ConvGeometry): number {
  const [t, l, b, r] = g.pads;
  return t + l + b + r === 0 ? 0 : roundUp((g.h + t + b) * (g.w + l + r) * g.c, 16);
}

export const POOL_CODES = { none: 0, max: 1, avg: 2 } as const;

/**
 * The pad_i8 copy (if padded) and the call shared by conv_i8 and conv_small_i8: the latter also takes a scratch
 * buffer after the padded copy (widened inputs) and the input zero point. (conv_scalar_i8 pads as it widens: its own call.)
 */
export function emitConv({ node, inputShapes: [xs, ws], outputShape, addr }: EmitContext, kernel: "conv_i8" | "conv_small_i8"): string {
  const small = kernel === "conv_small_i8";
  const [kh, kw, c] = ws;
  const oc = outputShape[outputShape.length - 1];
  const [pt, pl, pb, pr] = attrInts(node, "pads", [0, 0, 0, 0]);
  const [sh, sw] = attrInts(node, "strides", [1, 1]);
  const [h, w] = [xs[1], xs[2]];
  const hp = h + pt + pb, wp = w + pl + pr;
  const oh = Math.floor((hp - kh) / sh) + 1, ow = Math.floor((wp - kw) / sw) + 1;
  const p = int8Params(node, "producer");
  const padded = pt + pl + pb + pr > 0;
  const x = padded ? addr(`${node.name}#scratch`) : addr(node.inputs[0]);
  const pool = fusedPoolOf(node);
  const [ph, pw] = [outputShape[1], outputShape[2]];
  const pk = pool ? [...pool.window.kernel, ...pool.window.strides, pool.window.pads[0], pool.window.pads[1]] : [1, 1, 1, 1, 0, 0];
  const reluFirst = attrString(node, "activation", "linear") === "relu" ? 1 : 0;
  const lines: string[] = [];
  if (padded) lines.push(`pad_i8(${addr(node.inputs[0])}, ${x}, ${h}, ${w}, ${c}, ${pt}, ${pl}, ${pb}, ${pr}, ${p.inputZp});`);
  // conv_small_i8 widens the (padded) input to i16 less zp in scratch, after the padded copy.
  const widened = small ? `${addr(`${node.name}#scratch`) + (padded ? roundUp(hp * wp * c, 16) : 0)}, ` : "";
  lines.push(`${kernel}(${x}, ${widened}${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ${addr(`${node.name}#m`)}, ${addr(node.outputs[0])}, ` +
    `${hp}, ${wp}, ${c}, ${oh}, ${ow}, ${oc}, ${kh}, ${kw}, ${sh}, ${sw}, ${small ? `${p.inputZp}, ` : ""}${p.outputZp}, ` +
    `${p.clampLo}, ${p.clampHi}, ${POOL_CODES[pool?.kind ?? "none"]}, ${ph}, ${pw}, ${pk.join(", ")}, ${reluFirst});`);
  return lines.join("\n  ");
}

/** The general conv2d kernel; padding is materialised (a copy with a zero-point border), then the conv is VALID. */
export const directConvKernel: ConvKernel = {
  kernel: "conv_i8",
  applies: (node) => node.op === "conv2d",
  pack(node, graph) {
    const g = geometry(node, graph);
    // conv_i8 multiplies raw inputs: −zp·Σw is folded into the bias.
    return new Map([[`${node.name}#w`, packConvWeights(int8Weights(node, graph), g.kh, g.kw, g.c, g.oc)],
      ...packBiasAndMultipliers(node, graph, roundUp(g.oc, OC_BLOCK), true)]);
  },
  scratchBytes: (node, graph) => paddedCopyBytes(geometry(node, graph)),
  persistentBytes: () => 0,
  emit: (ctx) => emitConv(ctx, "conv_i8"),
};

/** conv2d with kernel rows of at most SMALL_ROW inputs, on SIMD targets. */
export const smallRowConvKernel: ConvKernel = {
  kernel: "conv_small_i8",
  applies(node, graph, target) {
    if (node.op !== "conv2d" || target !== "simd") return false;
    const [, kw, c] = tensorOf(graph, node.inputs[1]).shape;
    return kw * c <= SMALL_ROW;
  },
  pack(node, graph) {
    const g = geometry(node, graph);
    // conv_small_i8 subtracts zp as it widens its input: the bias stays as quantized.
    return new Map([[`${node.name}#w`, packConvWeightsSmall(int8Weights(node, graph), g.kh, g.kw, g.c, g.oc)],
      ...packBiasAndMultipliers(node, graph, roundUp(g.oc, SMALL_OC_BLOCK), false)]);
  },
  scratchBytes(node, graph) {
    const g = geometry(node, graph);
    const [t, l, b, r] = g.pads;
    return paddedCopyBytes(g) + 2 * roundUp((g.h + t + b) * (g.w + l + r) * g.c, 8);
  },
  persistentBytes: () => 0,
  emit: (ctx) => emitConv(ctx, "conv_small_i8"),
};
