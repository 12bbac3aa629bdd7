// mul: element-wise product of two tensors of the same shape (Keras Multiply).
import { int8Params, sizeOf } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { requantize } from "../quant/arithmetic.js";

/** One f32 multiplier sA·sB/sOut for the integer product. */
export interface MulInt8 { kind: "mul"; aZp: number; bZp: number; multiplier: number; outputZp: number }
declare module "../ir.js" {
  interface Int8ParamKinds { mul: MulInt8 }
}

export const multiply: OpDef = {
  op: "mul",
  category: "binary",
  inferShape(node, [a, b]) {
    if (!b || a.join(",") !== b.join(",")) throw shapeError(node, `needs two inputs of the same shape, got [${a}] and [${b ?? ""}]`);
    return [...a];
  },
  float: (_node, [a, b]) => Float32Array.from(a, (v, i) => v * b[i]),
  /** y = requantize((qa − zpa)·(qb − zpb), fround(sa·sb / s_out), zp_out). */
  int8(node, [a, b]) {
    const { aZp: za, bZp: zb, multiplier: m, outputZp: zo } = int8Params(node, "mul");
    return Int8Array.from(a as Int8Array, (v, i) => requantize((v - za) * (b[i] - zb), m, zo, -128, 127));
  },
  quantize(node, ctx) {
    const out = ctx.calibrateOutput(node);
    const [a, b] = node.inputs.map((i) => ctx.quantOf(i));
    node.int8 = { kind: "mul", aZp: a.zeroPoint, bZp: b.zeroPoint, multiplier: Math.fround((a.scale * b.scale) / out.scale), outputZp: out.zeroPoint };
  },
  emitFloat: ({ node, outputShape, addr }) => `mul_f32(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)});`,
  emitInt8({ node, outputShape, addr }) {
    const p = int8Params(node, "mul");
    return `mul_i8(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)}, ` +
      `${p.aZp}, ${p.bZp}, ${p.multiplier}, ${p.outputZp});`;
  },
  macs: (_node, [a]) => sizeOf(a),
};
