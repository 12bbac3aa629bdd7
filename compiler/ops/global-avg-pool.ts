// global_avg_pool: NHWC mean over H and W per channel (Keras GlobalAveragePooling2D); [1, C] or, with keepdims, [1, 1, 1, C].
import { int8Params, tensorOf, type Node } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { requantize } from "../quant/arithmetic.js";
import { f32Literal } from "../codegen/emit.js";

/** Σ(q − inputZp) over the pixels, times one f32 multiplier, + outputZp. */
export interface MeanInt8 { kind: "mean"; inputZp: number; outputZp: number; multiplier: number }
declare module "../ir.js" {
  interface Int8ParamKinds { mean: MeanInt8 }
}

function keepdims(node: Node): boolean {
  const v = node.attrs.keepdims;
  if (v === undefined || typeof v === "boolean") return v === true;
  throw shapeError(node, "attribute 'keepdims' must be a boolean");
}

/**
 * The int8 multiplier, fixed at quantization time: f32(s_in / (s_out·H·W)), computed in double precision and
 * rounded once. Kernel and reference both read this one f32 constant, so no runtime division is involved.
 */
function meanMultiplier(inputScale: number, outputScale: number, pixels: number): number {
  return Math.fround(inputScale / (outputScale * pixels));
}

export const globalAvgPool: OpDef = {
  op: "global_avg_pool",
  category: "head",
  inferShape(node, [x]) {
    if (x.length !== 4) throw shapeError(node, `input must be NHWC (rank 4), got [${x}]`);
    return keepdims(node) ? [1, 1, 1, x[3]] : [1, x[3]];
  },
  float(_node, [x], [[, h, w, c]]) {
    const y = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let p = 0; p < h * w; p++) s += x[p * c + ch];
      y[ch] = s / (h * w);
    }
    return y;
  },
  /** Σ(q − zp_in) over the H·W pixels as an exact integer, then one f32 requantization with `multiplier`. */
  int8(node, [x], [[, h, w, c]]) {
    const { inputZp: zpIn, outputZp: zpOut, multiplier: m } = int8Params(node, "mean");
    const y = new Int8Array(c);
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let p = 0; p < h * w; p++) s += x[p * c + ch] - zpIn;
      y[ch] = requantize(s, m, zpOut, -128, 127);
    }
    return y;
  },
  /** The mean's range is narrower than its input's: a calibrated output scale keeps more resolution than the input's. */
  quantize(node, ctx) {
    const out = ctx.calibrateOutput(node);
    const input = ctx.quantOf(node.inputs[0]);
    const [, h, w] = tensorOf(ctx.graph, node.inputs[0]).shape;
    node.int8 = { kind: "mean", inputZp: input.zeroPoint, outputZp: out.zeroPoint, multiplier: meanMultiplier(input.scale, out.scale, h * w) };
  },
  emitInt8({ node, inputShapes: [[, h, w, c]], addr }) {
    const p = int8Params(node, "mean");
    return `spatial_mean_i8(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${h * w}, ${c}, ${p.inputZp}, ${f32Literal(p.multiplier)}, ${p.outputZp});`;
  },
  emitFloat: ({ node, inputShapes: [[, h, w, c]], addr }) =>
    `spatial_mean_f32(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${h * w}, ${c});`,
  macs: () => 0,
};
