// Builds the definition of an element-wise activation op from its scalar function and kernel code.
import { attrInts, sizeOf } from "../ir.js";
import type { FusionCategory, OpDef } from "./op.js";

/** Kernel codes understood by `unary_f32` in the kernel library. */
export const UNARY_CODES = { relu: 1, relu6: 2, sigmoid: 3, tanh: 4 } as const;

export function unaryOp(op: keyof typeof UNARY_CODES, category: FusionCategory, fn: (v: number) => number): OpDef & { fn(v: number): number } {
  return {
    fn,
    op,
    category,
    inferShape: (_node, [x]) => [...x],
    float(_node, [x]) {
      const y = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) y[i] = fn(x[i]);
      return y;
    },
    /** Any int8 → int8 function is a 256-entry table, built by the quantizer from the float function. */
    int8(node, [x]) {
      const lut = attrInts(node, "lut");
      return Int8Array.from(x, (q) => lut[q + 128]);
    },
    packInt8: (node) => new Map([[`${node.name}#lut`, new Uint8Array(Int8Array.from(attrInts(node, "lut")).buffer)]]),
    emitInt8: ({ node, outputShape, addr }) =>
      `lut_i8(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)}, ${addr(`${node.name}#lut`)});`,
    emitFloat: ({ node, outputShape, addr }) =>
      `unary_f32(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)}, ${UNARY_CODES[op]});`,
    macs: () => 0,
  };
}
