// softmax over the last axis, max-subtracted for stability as TF.js does.
import { int8Params, sizeOf } from "../ir.js";
import { requantize } from "../quant/arithmetic.js";
import type { OpDef } from "./op.js";

/** exp(−d·s_in) for d = 0…255, as f32 values. */
export interface SoftmaxInt8 { kind: "softmax"; expTable: number[] }
declare module "../ir.js" {
  interface Int8ParamKinds { softmax: SoftmaxInt8 }
}

/** int8 softmax output is fixed to TFLite's convention: probabilities in steps of 1/256. */
const SOFTMAX_OUTPUT = { scale: 1 / 256, zeroPoint: -128 };

export const softmax: OpDef = {
  op: "softmax",
  category: "head",
  inferShape: (_node, [x]) => [...x],
  float(_node, [x], [xs]) {
    const n = xs[xs.length - 1];
    const y = new Float32Array(x.length);
    for (let r = 0; r < x.length; r += n) {
      let m = -Infinity;
      for (let i = 0; i < n; i++) m = Math.max(m, x[r + i]);
      let s = 0;
      for (let i = 0; i < n; i++) s += (y[r + i] = Math.exp(x[r + i] - m));
      for (let i = 0; i < n; i++) y[r + i] /= s;
    }
    return y;
  },
  /**
   * exp(s·(q − max)) comes from a 256-entry f32 table (so no libm is involved), the sum and the division
   * are f32 in a fixed order, and p·256 is requantized: the kernel does the same operations.
   */
  int8(node, [x], [xs]) {
    const n = xs[xs.length - 1];
    const table = int8Params(node, "softmax").expTable;
    const y = new Int8Array(x.length);
    for (let r = 0; r < x.length; r += n) {
      let m = -128;
      for (let i = 0; i < n; i++) m = Math.max(m, x[r + i]);
      let s = 0;
      for (let i = 0; i < n; i++) s = Math.fround(s + table[m - x[r + i]]);
      for (let i = 0; i < n; i++) {
        const p = Math.fround(table[m - x[r + i]] / s);
        y[r + i] = requantize(p, 256, SOFTMAX_OUTPUT.zeroPoint, -128, 127);
      }
    }
    return y;
  },
  /** The output is fixed (SOFTMAX_OUTPUT); the table holds exp(−d·s_in) for every difference d from the row's max. */
  quantize(node, ctx) {
    const input = ctx.quantOf(node.inputs[0]);
    ctx.setQuant(node.outputs[0], SOFTMAX_OUTPUT);
    node.int8 = { kind: "softmax", expTable: Array.from({ length: 256 }, (_v, d) => Math.fround(Math.exp(-d * input.scale))) };
  },
  packInt8: (node) => new Map([[`${node.name}#exp`, new Uint8Array(Float32Array.from(int8Params(node, "softmax").expTable).buffer)]]),
  emitInt8({ node, inputShapes: [xs], addr }) {
    const n = xs[xs.length - 1];
    return `softmax_i8(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(xs) / n}, ${n}, ${addr(`${node.name}#exp`)});`;
  },
  emitFloat({ node, inputShapes: [xs], addr }) {
    const n = xs[xs.length - 1];
    return `softmax_f32(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(xs) / n}, ${n});`;
  },
  macs: () => 0,
};
