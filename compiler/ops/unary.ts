// Builds the definition of an element-wise activation op from its scalar function and kernel code.
import { int8Params, sizeOf, type Node } from "../ir.js";
import type { FusionCategory, OpDef } from "./op.js";
import { quantizeValue, type AffineQuant } from "../quant/arithmetic.js";

/** Kernel codes understood by `unary_f32` in the kernel library. */
export const UNARY_CODES = { relu: 1, relu6: 2, sigmoid: 3, tanh: 4, leaky_relu: 5, clamp: 6 } as const;

/** An element-wise function, possibly parameterised by the node's attributes (alpha, min, max). */
export type UnaryFn = (v: number, node: Node) => number;

/** `params` gives the two f32 parameters the kernel takes (alpha for leaky_relu, min/max for clamp). */
export function unaryOp(op: keyof typeof UNARY_CODES, category: FusionCategory, fn: UnaryFn,
  params: (node: Node) => [number, number] = () => [0, 0]): OpDef {
  return {
    op,
    category,
    inferShape: (_node, [x]) => [...x],
    float(node, [x]) {
      const y = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) y[i] = fn(x[i], node);
      return y;
    },
    /** Any int8 → int8 function is a 256-entry table, built by the quantizer from the float function. */
    int8(node, [x]) {
      const lut = int8Params(node, "lut").table;
      return Int8Array.from(x, (q) => lut[q + 128]);
    },
    quantize(node, ctx) {
      const input = ctx.quantOf(node.inputs[0]);
      node.int8 = { kind: "lut", table: lookupTable((v) => fn(v, node), input, ctx.calibrateOutput(node)) };
    },
    packInt8: (node) => new Map([[`${node.name}#lut`, new Uint8Array(Int8Array.from(int8Params(node, "lut").table).buffer)]]),
    emitInt8: ({ node, outputShape, addr }) =>
      `lut_i8(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)}, ${addr(`${node.name}#lut`)});`,
    emitFloat: ({ node, outputShape, addr }) =>
      `unary_f32(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(outputShape)}, ${UNARY_CODES[op]}, ${params(node).join(", ")});`,
    macs: () => 0,
  };
}

/** A 256-entry table: dequantize each int8 input, apply the float function, quantize the result. */
function lookupTable(fn: (v: number) => number, input: AffineQuant, out: AffineQuant): number[] {
  return Array.from({ length: 256 }, (_v, i) => quantizeValue(fn((i - 128 - input.zeroPoint) * input.scale), out));
}
