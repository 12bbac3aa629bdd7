// dequantize: int8 → float32 where an int8 tensor enters a layer kept in float (--keep-float); inserted by the quantizer only.
import { int8Params, sizeOf, type Node, type TensorData } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { f32Literal } from "../codegen/emit.js";

declare module "../ir.js" {
  interface Int8ParamKinds {
    /** x = f32((q − zeroPoint) · scale), scale an f32 value. */
    dequantize: { kind: "dequantize"; scale: number; zeroPoint: number };
  }
}

/**
 * Int8 values to float32 as the kernel computes them: f32(q − zp) · scale, one f32 multiplication. The f64 product
 * of the integer (|q − zp| ≤ 255) and the f32 scale is exact, so rounding it once to f32 is that multiplication.
 */
export function dequantizeValues(q: ArrayLike<number>, scale: number, zeroPoint: number): Float32Array {
  const s = Math.fround(scale);
  return Float32Array.from({ length: q.length }, (_v, i) => Math.fround((q[i] - zeroPoint) * s));
}

export function dequantizeParams(scale: number, zeroPoint: number): { kind: "dequantize"; scale: number; zeroPoint: number } {
  return { kind: "dequantize", scale: Math.fround(scale), zeroPoint };
}

function requireParams(node: Node) {
  return int8Params(node, "dequantize");
}

export const dequantize: OpDef = {
  op: "dequantize",
  category: "layout",
  inferShape(node, inputs) {
    if (inputs.length !== 1) throw shapeError(node, `takes one input, got ${inputs.length}`);
    return [...inputs[0]];
  },
  /** Its input holds int8 values (the mixed reference passes the Int8Array); the output is float32. */
  float(node, [q]) {
    const { scale, zeroPoint } = requireParams(node);
    return dequantizeValues(q as TensorData, scale, zeroPoint);
  },
  emitFloat({ node }) {
    throw new Error(`internal: node ${node.name} (dequantize) exists only in int8 compiles`);
  },
  /** Reads its int8 input's quantization; the output stays float32 (no quantization). */
  quantize(node, ctx) {
    const q = ctx.quantOf(node.inputs[0]);
    node.int8 = dequantizeParams(q.scale, q.zeroPoint);
  },
  emitInt8({ node, outputShape, addr }) {
    const { scale, zeroPoint } = requireParams(node);
    return `dequantize_i8_f32(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)}, ${f32Literal(scale)}, ${zeroPoint});`;
  },
  macs: () => 0,
};
