// Int8 dense codegen: dense_i8 (one zero-padded weight row per output channel; every target) and, on the scalar
// target, dense_scalar_i8 (runtime/kernels/dense-scalar-i8.ts: weights interleaved over 4 channels).
import { int8Params, tensorOf, type Graph, type Node } from "../ir.js";
import { roundUp, type EmitContext } from "./emit.js";
import { int8Weights, packBiasAndMultipliers } from "./requant-params.js";
import type { ConvKernel } from "./conv-variant.js";

/** dense_i8 reads its rows eight bytes at a time and its bias and multipliers four channels at a time. */
const K_BLOCK = 8, OC_BLOCK = 4;

/** Dense weights [c][oc] → one zero-padded row of roundUp(c, 8) bytes per output channel. */
export function packDenseWeights(w: Int8Array, c: number, oc: number): Uint8Array {
  const row = roundUp(c, K_BLOCK);
  const out = new Int8Array(oc * row);
  for (let o = 0; o < oc; o++) for (let i = 0; i < c; i++) out[o * row + i] = w[i * oc + o];
  return new Uint8Array(out.buffer);
}

/**
 * Dense weights [c][oc] → per group of 4 output channels, per 4 inputs (c padded to 4): 16 int8, [input][channel].
 * Zero beyond c and oc.
 */
export function packDenseWeightsScalar(w: Int8Array, c: number, oc: number): Uint8Array {
  const c4 = roundUp(c, 4), groups = roundUp(oc, OC_BLOCK) / OC_BLOCK;
  const out = new Int8Array(groups * c4 * OC_BLOCK);
  for (let g = 0; g < groups; g++) {
    for (let i = 0; i < c; i++) {
      for (let j = 0; j < OC_BLOCK; j++) {
        const o = g * OC_BLOCK + j;
        if (o < oc) out[(g * c4 + i) * OC_BLOCK + j] = w[i * oc + o];
      }
    }
  }
  return new Uint8Array(out.buffer);
}

function int8DenseWeights(node: Node, graph: Graph): { data: Int8Array; c: number; oc: number } {
  const [c, oc] = tensorOf(graph, node.inputs[1]).shape;
  return { data: int8Weights(node, graph), c, oc };
}

/** The call both dense kernels share. */
function emitDense({ node, inputShapes: [xs], outputShape, addr }: EmitContext, kernel: string): string {
  const p = int8Params(node, "producer");
  return `${kernel}(${addr(node.inputs[0])}, ${addr(`${node.name}#w`)}, ${addr(`${node.name}#b`)}, ${addr(`${node.name}#m`)}, ` +
    `${addr(node.outputs[0])}, ${xs[1]}, ${outputShape[1]}, ${p.outputZp}, ${p.clampLo}, ${p.clampHi});`;
}

/** dense on the scalar target: four channels share each input load (same weight bytes as dense_i8, reordered). */
export const denseScalarKernel: ConvKernel = {
  kernel: "dense_scalar_i8",
  applies: (node, _graph, target) => node.op === "dense" && target === "scalar",
  pack(node, graph) {
    const { data, c, oc } = int8DenseWeights(node, graph);
    // dense_scalar_i8 multiplies raw inputs: −zp·Σw is folded into the bias.
    return new Map([[`${node.name}#w`, packDenseWeightsScalar(data, c, oc)], ...packBiasAndMultipliers(node, graph, roundUp(oc, OC_BLOCK), true)]);
  },
  scratchBytes: () => 0,
  persistentBytes: () => 0,
  emit: (ctx) => emitDense(ctx, "dense_scalar_i8"),
};

export const denseKernel: ConvKernel = {
  kernel: "dense_i8",
  applies: (node) => node.op === "dense",
  pack(node, graph) {
    const { data, c, oc } = int8DenseWeights(node, graph);
    // dense_i8 multiplies raw inputs: −zp·Σw is folded into the bias.
    return new Map([[`${node.name}#w`, packDenseWeights(data, c, oc)], ...packBiasAndMultipliers(node, graph, roundUp(oc, OC_BLOCK), true)]);
  },
  scratchBytes: () => 0,
  persistentBytes: () => 0,
  emit: (ctx) => emitDense(ctx, "dense_i8"),
};
