// avg_pool: NHWC average pooling; the divisor counts only in-bounds elements (TF semantics for SAME).
import type { OpDef } from "./op.js";
import { int8Params } from "../ir.js";
import { requantize } from "../quant/arithmetic.js";
import { emitPoolArgs, forEachWindow, poolShape } from "./pool-window.js";
import { keepInputScale } from "../quant/context.js";

export const avgPool: OpDef = {
  op: "avg_pool",
  category: "pool",
  inferShape: (node, [x]) => poolShape(node, x),
  float(node, [x], [xs], out) {
    const y = new Float32Array(out[1] * out[2] * out[3]);
    forEachWindow(node, xs, out, (o, idx) => {
      let s = 0;
      for (const i of idx) s += x[i];
      y[o] = s / idx.length;
    });
    return y;
  },
  /** Same scale in and out: Σ(q − zp) scaled by the f32 1/count, requantized like every other op. */
  int8(node, [x], [xs], out) {
    const zp = int8Params(node, "same-scale").inputZp;
    const y = new Int8Array(out[1] * out[2] * out[3]);
    forEachWindow(node, xs, out, (o, idx) => {
      let s = 0;
      for (const i of idx) s += x[i] - zp;
      y[o] = requantize(s, Math.fround(1 / idx.length), zp, -128, 127);
    });
    return y;
  },
  quantize: keepInputScale,
  emitInt8: ({ node, inputShapes: [xs], outputShape, addr }) =>
    `avg_pool_i8(${emitPoolArgs(node, xs, outputShape, addr)}, ${int8Params(node, "same-scale").inputZp});`,
  emitFloat: ({ node, inputShapes: [xs], outputShape, addr }) => `avg_pool_f32(${emitPoolArgs(node, xs, outputShape, addr)});`,
  macs: () => 0,
};
