// Int8 codegen for pointwise convs (1×1, stride 1, no padding, no fused pool) on SIMD targets: when
// runtime/kernels/conv-pw-i8.ts applies, its weight layout, and the conv_pw_i8 call.
import { attrInts, int8Params, tensorOf, type Graph, type Node } from "../ir.js";
import type { EmitContext } from "../ops/op.js";
import { fusedPoolOf } from "../ops/fused-pool.js";
import { packBiasAndMultipliers } from "./requant-params.js";
import { quoteName } from "../errors.js";

const OC_BLOCK = 16;
/** Up to 5 inputs per row, conv_small_i8 does as well; from 6 on, pairs of channels fill the dot product. */
const MIN_CHANNELS = 6;

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

export function usesPointwise(node: Node, graph: Graph): boolean {
  if (node.op !== "conv2d" || graph.meta.target !== "simd" || fusedPoolOf(node)) return false;
  const [kh, kw, c] = tensorOf(graph, node.inputs[1]).shape;
  const [sh, sw] = attrInts(node, "strides", [1, 1]);
  return kh === 1 && kw === 1 && sh === 1 && sw === 1 && c >= MIN_CHANNELS && attrInts(node, "pads", [0, 0, 0, 0]).every((p) => p === 0);
}

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

/** Weights, the bias with −zp·Σw folded in (the kernel multiplies raw inputs), multipliers; both padded to 16. */
export function packConvPw(node: Node, graph: Graph): Map<string, Uint8Array> {
  const w = tensorOf(graph, node.inputs[1]).data;
  if (!(w instanceof Int8Array)) throw new Error(`internal: node ${quoteName(node.name)} weights are not int8`);
  const [, , c, oc] = tensorOf(graph, node.inputs[1]).shape;
  return new Map([[`${node.name}#w`, packPointwiseWeights(w, c, oc)], ...packBiasAndMultipliers(node, graph, roundUp(oc, OC_BLOCK), true)]);
}

export function emitConvPwInt8({ node, inputShapes: [xs], outputShape, addr }: EmitContext): string {
  const pixels = xs[1] * xs[2];
  return `conv_pw_i8(${addr(node.inputs[0])}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ${addr(`${node.name}#m`)}, ` +
    `${addr(node.outputs[0])}, ${pixels}, ${xs[3]}, ${outputShape[3]}, ${int8Params(node, "producer").outputZp}, ` +
    `${int8Params(node, "producer").clampLo}, ${int8Params(node, "producer").clampHi});`;
}
