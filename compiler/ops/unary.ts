// Builds the definition of an element-wise activation op from its scalar function and kernel code.
import { sizeOf } from "../ir.js";
import type { FusionCategory, OpDef } from "./op.js";

/** Kernel codes understood by `unary_f32` in the kernel library. */
export const UNARY_CODES = { relu: 1, relu6: 2, sigmoid: 3, tanh: 4 } as const;

export function unaryOp(op: keyof typeof UNARY_CODES, category: FusionCategory, fn: (v: number) => number): OpDef {
  return {
    op,
    category,
    inferShape: (_node, [x]) => [...x],
    float(_node, [x]) {
      const y = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) y[i] = fn(x[i]);
      return y;
    },
    emitFloat: ({ node, outputShape, addr }) =>
      `unary_f32(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)}, ${UNARY_CODES[op]});`,
    macs: () => 0,
  };
}
