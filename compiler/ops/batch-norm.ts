// batch_norm: per-channel y = x·scale + shift (inference BatchNormalization); a pass folds it into a neighbour.
import { int8Params, sizeOf, tensorOf } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { REQUANT_LIMIT, roundHalfEven } from "../quant/arithmetic.js";

/** Unfolded batch norm: per channel f32(q − inputZp)·multipliers[c] + offsets[c], then + outputZp. */
export interface AffineInt8 { kind: "affine"; inputZp: number; outputZp: number; multipliers: number[]; offsets: number[] }
declare module "../ir.js" {
  interface Int8ParamKinds { affine: AffineInt8 }
}

export const batchNorm: OpDef = {
  op: "batch_norm",
  category: "affine",
  inferShape(node, [x, scale, shift]) {
    const c = x[x.length - 1];
    if (scale[0] !== c || shift[0] !== c) throw shapeError(node, `scale [${scale}] and shift [${shift}] must have ${c} channels`);
    return [...x];
  },
  float(_node, [x, scale, shift], [xs]) {
    const c = xs[xs.length - 1];
    return Float32Array.from(x, (v, i) => v * scale[i % c] + shift[i % c]);
  },
  /** When it cannot be folded: q = clamp(nearest(f32(q − zp_in)·m[c] + k[c]) + zp_out), with m, k per channel in f32. */
  int8(node, [x], [xs]) {
    const c = xs[xs.length - 1];
    const { multipliers: m, offsets: k, inputZp: zpIn, outputZp: zpOut } = int8Params(node, "affine");
    return Int8Array.from(x as Int8Array, (q, i) => {
      const v = Math.fround(Math.fround(Math.fround(q - zpIn) * m[i % c]) + k[i % c]);
      const r = Math.min(REQUANT_LIMIT, Math.max(-REQUANT_LIMIT, roundHalfEven(v))) + zpOut;
      return Math.min(127, Math.max(-128, r));
    });
  },
  /** The input scale and the batch norm's own scale fold into per-channel f32 multipliers; the shift becomes an f32 offset. */
  quantize(node, ctx) {
    const out = ctx.calibrateOutput(node);
    const input = ctx.quantOf(node.inputs[0]);
    const scale = tensorOf(ctx.graph, node.inputs[1]).data as Float32Array, shift = tensorOf(ctx.graph, node.inputs[2]).data as Float32Array;
    node.int8 = {
      kind: "affine", inputZp: input.zeroPoint, outputZp: out.zeroPoint,
      multipliers: Array.from(scale, (s) => Math.fround((input.scale * s) / out.scale)), offsets: Array.from(shift, (t) => Math.fround(t / out.scale)),
    };
  },
  packInt8: (node) => new Map([
    [`${node.name}#m`, new Uint8Array(Float32Array.from(int8Params(node, "affine").multipliers).buffer)],
    [`${node.name}#k`, new Uint8Array(Float32Array.from(int8Params(node, "affine").offsets).buffer)],
  ]),
  emitInt8({ node, inputShapes: [xs], addr }) {
    const p = int8Params(node, "affine");
    return `affine_i8(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(xs)}, ${xs[xs.length - 1]}, ` +
      `${p.inputZp}, ${addr(`${node.name}#m`)}, ${addr(`${node.name}#k`)}, ${p.outputZp});`;
  },
  emitFloat: ({ node, inputShapes: [xs], addr }) =>
    `scale_shift_f32(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${addr(node.inputs[2])}, ${addr(node.outputs[0])}, ${sizeOf(xs)}, ${xs[xs.length - 1]});`,
  macs: (_node, [xs]) => sizeOf(xs),
};
