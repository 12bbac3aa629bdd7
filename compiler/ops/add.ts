// add: element-wise sum of two activations of identical shape (Keras Add, e.g. a residual connection).
import { int8Params, sizeOf } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { REQUANT_LIMIT, roundHalfEven } from "../quant/arithmetic.js";
import { f32Literal } from "../codegen/emit.js";

/** Each input's scale folded into its own f32 multiplier towards the output scale. */
export interface AddInt8 { kind: "add"; aZp: number; bZp: number; aMultiplier: number; bMultiplier: number; outputZp: number }
declare module "../ir.js" {
  interface Int8ParamKinds { add: AddInt8 }
}

/**
 * The int8 sum, every step an f32 operation exactly as add_i8 performs it (lane by lane in SIMD):
 * y = clamp(roundHalfEven(f32(f32(qa − zpA)·mA) + f32(f32(qb − zpB)·mB)) + zpOut, −128, 127),
 * with mA = f32(sA/sOut) and mB = f32(sB/sOut). The ±REQUANT_LIMIT bound only keeps the f32 → i32
 * conversion in range; it cannot change a result that the int8 clamp then keeps.
 */
export function addInt8(qa: number, qb: number, zpA: number, zpB: number, mA: number, mB: number, zpOut: number): number {
  const a = Math.fround(Math.fround(qa - zpA) * mA);
  const b = Math.fround(Math.fround(qb - zpB) * mB);
  const r = Math.min(REQUANT_LIMIT, Math.max(-REQUANT_LIMIT, roundHalfEven(Math.fround(a + b))));
  return Math.min(127, Math.max(-128, r + zpOut));
}

export const add: OpDef = {
  op: "add",
  category: "binary",
  inferShape(node, [a, b]) {
    if (!a || !b || node.inputs.length !== 2) throw shapeError(node, `needs exactly two inputs, got ${node.inputs.length}`);
    if (a.join(",") !== b.join(",")) throw shapeError(node, `inputs [${a}] and [${b}] differ in shape; add needs identical shapes (no broadcasting)`);
    return [...a];
  },
  float(_node, [a, b]) {
    const y = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
    return y;
  },
  int8(node, [a, b]) {
    const { aZp: zpA, bZp: zpB, aMultiplier: mA, bMultiplier: mB, outputZp: zpOut } = int8Params(node, "add");
    const y = new Int8Array(a.length);
    for (let i = 0; i < a.length; i++) y[i] = addInt8(a[i], b[i], zpA, zpB, mA, mB, zpOut);
    return y;
  },
  /** Each input's scale folds into its own f32 multiplier towards the calibrated output scale. */
  quantize(node, ctx) {
    const out = ctx.calibrateOutput(node);
    const [a, b] = node.inputs.map((i) => ctx.quantOf(i));
    node.int8 = {
      kind: "add", aZp: a.zeroPoint, bZp: b.zeroPoint, aMultiplier: Math.fround(a.scale / out.scale),
      bMultiplier: Math.fround(b.scale / out.scale), outputZp: out.zeroPoint,
    };
  },
  emitInt8({ node, outputShape, addr }) {
    const p = int8Params(node, "add");
    return `add_i8(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)}, ` +
      `${p.aZp}, ${p.bZp}, ${f32Literal(p.aMultiplier)}, ${f32Literal(p.bMultiplier)}, ${p.outputZp});`;
  },
  emitFloat: ({ node, outputShape, addr }) =>
    `add_f32(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)});`,
  macs: () => 0,
};
