// quantize: float32 → int8 where a layer kept in float (--keep-float) feeds an int8 layer; inserted by the quantizer only.
import { int8Params, sizeOf, type Node } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { affineFromRange, REQUANT_LIMIT, roundHalfEven } from "../quant/arithmetic.js";
import { f32Literal } from "../codegen/emit.js";

declare module "../ir.js" {
  interface Int8ParamKinds {
    /** q = clamp(roundHalfEven(f32(x · multiplier)) + zeroPoint, −128, 127); multiplier = f32(1 / scale). */
    quantize: { kind: "quantize"; multiplier: number; zeroPoint: number };
  }
}

/**
 * One float32 value to int8, exactly as the kernel (runtime/kernels/precision.ts, common.ts roundClamp) computes it:
 * the product x·m rounded once to f32, rounded half to even, limited to ±512, plus the zero point, clamped to int8.
 * Ties go to even (2.5 → 2, −0.5 → −0); ±∞ saturate; NaN gives the zero point (the kernel's saturating truncation
 * turns NaN into 0). The multiplier is an f32 value.
 */
export function quantizeFloat(x: number, multiplier: number, zeroPoint: number): number {
  const scaled = Math.fround(x * multiplier);
  if (Number.isNaN(scaled)) return Math.min(127, Math.max(-128, zeroPoint));
  const r = Math.min(REQUANT_LIMIT, Math.max(-REQUANT_LIMIT, roundHalfEven(scaled)));
  return Math.min(127, Math.max(-128, r + zeroPoint));
}

/** The quantization a quantize node applies: the multiplier 1/scale as an f32 value. */
export function quantizeParams(scale: number, zeroPoint: number): { kind: "quantize"; multiplier: number; zeroPoint: number } {
  return { kind: "quantize", multiplier: Math.fround(1 / scale), zeroPoint };
}

function requireParams(node: Node) {
  return int8Params(node, "quantize");
}

export const quantize: OpDef = {
  op: "quantize",
  category: "layout",
  inferShape(node, inputs) {
    if (inputs.length !== 1) throw shapeError(node, `takes one input, got ${inputs.length}`);
    return [...inputs[0]];
  },
  float(node) {
    throw new Error(`internal: node ${node.name} (quantize) reads float32 and writes int8: it runs as int8`);
  },
  emitFloat({ node }) {
    throw new Error(`internal: node ${node.name} (quantize) exists only in int8 compiles`);
  },
  /** The input is float32 (the output of a layer kept in float). */
  int8(node, [x]) {
    const { multiplier: m, zeroPoint: zp } = requireParams(node);
    return Int8Array.from(x as Float32Array, (v) => quantizeFloat(v, m, zp));
  },
  /** Its output gets the calibrated range of the float tensor it reads, as an int8 layer's output would. */
  quantize(node, ctx) {
    const r = ctx.rangeOf(node.inputs[0]);
    const q = ctx.setQuant(node.outputs[0], affineFromRange(r.min, r.max));
    node.int8 = quantizeParams(q.scale, q.zeroPoint);
  },
  emitInt8({ node, outputShape, addr }) {
    const { multiplier: m, zeroPoint: zp } = requireParams(node);
    return `quantize_f32_i8(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)}, ${f32Literal(m)}, ${zp});`;
  },
  macs: () => 0,
};
