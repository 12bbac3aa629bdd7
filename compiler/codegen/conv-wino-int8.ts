// Int8 codegen for 3×3 stride-1 convs by exact Winograd F(2×2, 3×3) (runtime/kernels/conv-wino-i8.ts): when it
// applies, the buffers it needs, and the conv_wino_i8 call.
import { attrInts, fusedPoolOf, int8Params, tensorOf, type Graph, type Node } from "../ir.js";
import { roundUp } from "./emit.js";
import { int8Weights, packBiasAndMultipliers } from "./requant-params.js";
import type { ConvKernel } from "./conv-variant.js";

/**
 * The kernel's sums are exact while 4 × the largest possible conv sum (9·C·255·128) fits an i32: C ≤ 1827.
 * Below 4 input channels the row-broadcast kernels do as well without the transforms.
 */
const MIN_CHANNELS = 4, MAX_CHANNELS = 1024;

interface WinoGeometry {
  c: number; oc: number; h: number; w: number; oh: number; ow: number;
  /** Input padding, the conv's own plus one more row/column when tiles overhang an odd output side. */
  pads: [number, number, number, number];
  pool: boolean;
}

function geometryOf(node: Node, graph: Graph): WinoGeometry {
  const [, h, w, c] = tensorOf(graph, node.inputs[0]).shape;
  const oc = tensorOf(graph, node.inputs[1]).shape[3];
  const [pt, pl, pb, pr] = attrInts(node, "pads", [0, 0, 0, 0]);
  const oh = h + pt + pb - 2, ow = w + pl + pr - 2;
  const pool = fusedPoolOf(node) !== undefined;
  // With the 2×2/2 pool every tile is a whole pool window; without it the last tile may overhang by one.
  const extraB = !pool && oh % 2 === 1 ? 1 : 0, extraR = !pool && ow % 2 === 1 ? 1 : 0;
  return { c, oc, h, w, oh, ow, pads: [pt, pl, pb + extraB, pr + extraR], pool };
}

/** A fused pool the kernel handles: 2×2 max, stride 2, no padding (each pool window is one Winograd tile). */
function poolFits(node: Node): boolean {
  const pool = fusedPoolOf(node);
  if (!pool) return true;
  const { kernel: [kh, kw], strides: [sh, sw], pads } = pool.window;
  return pool.kind === "max" && kh === 2 && kw === 2 && sh === 2 && sw === 2 && pads.every((p) => p === 0);
}

const paddedInputBytes = (g: WinoGeometry): number => {
  const [t, l, b, r] = g.pads;
  return t + l + b + r === 0 ? 0 : roundUp((g.h + t + b) * (g.w + l + r) * g.c, 16);
};

export const winogradKernel: ConvKernel = {
  kernel: "conv_wino_i8",
  applies(node, graph, target) {
    if (node.op !== "conv2d" || target !== "simd") return false;
    const ws = tensorOf(graph, node.inputs[1]).shape;
    const [sh, sw] = attrInts(node, "strides", [1, 1]);
    return ws[0] === 3 && ws[1] === 3 && sh === 1 && sw === 1 && ws[2] >= MIN_CHANNELS && ws[2] <= MAX_CHANNELS && poolFits(node);
  },
  /**
   * Weights stay int8 as the reference holds them ([3][3][C][OC]); the kernel transforms its raw inputs, so the bias
   * has −zp·Σw folded in; bias and multipliers padded to 16 channels.
   */
  pack(node, graph) {
    const w = int8Weights(node, graph);
    return new Map([
      [`${node.name}#w`, new Uint8Array(w.buffer, w.byteOffset, w.byteLength)],
      ...packBiasAndMultipliers(node, graph, roundUp(geometryOf(node, graph).oc, 16), true),
    ]);
  },
  /** Padded input copy, then the tile's transformed inputs (256 B of row sums + 16·CP i16), then 16·OCP i32 products. */
  scratchBytes(node, graph) {
    const g = geometryOf(node, graph);
    return paddedInputBytes(g) + 256 + 32 * roundUp(g.c, 8) + 64 * roundUp(g.oc, 16);
  },
  /** Kept for good: a 16-byte "done" flag, then U, 16 × CP × OCP i16. */
  persistentBytes(node, graph) {
    const g = geometryOf(node, graph);
    return 16 + 32 * roundUp(g.c, 8) * roundUp(g.oc, 16);
  },
  emit({ node, graph, outputShape, addr }) {
    const g = geometryOf(node, graph);
    const [pt, pl, pb, pr] = g.pads;
    const p = int8Params(node, "producer");
    const scratch = addr(`${node.name}#scratch`);
    const padBytes = paddedInputBytes(g);
    const x = padBytes > 0 ? scratch : addr(node.inputs[0]);
    const lines: string[] = [];
    if (padBytes > 0) lines.push(`pad_i8(${addr(node.inputs[0])}, ${x}, ${g.h}, ${g.w}, ${g.c}, ${pt}, ${pl}, ${pb}, ${pr}, ${p.inputZp});`);
    const [ph, pw] = g.pool ? [outputShape[1], outputShape[2]] : [g.oh, g.ow];
    lines.push(`conv_wino_i8(${x}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#persistent`)}, ${addr(`${node.name}#b`)}, ` +
      `${addr(`${node.name}#m`)}, ${addr(node.outputs[0])}, ${scratch + padBytes}, ${g.w + pl + pr}, ${g.c}, ${g.oh}, ${g.ow}, ` +
      `${g.oc}, ${p.outputZp}, ${p.clampLo}, ${p.clampHi}, ${g.pool ? 1 : 0}, ${ph}, ${pw});`);
    return lines.join("\n  ");
  },
};
