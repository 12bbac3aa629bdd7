// max_pool: NHWC max pooling; padded positions never win (TF semantics).
import type { OpDef } from "./op.js";
import { emitPoolArgs, forEachWindow, poolShape } from "./pool-window.js";
import { keepInputScale } from "../quant/context.js";

export const maxPool: OpDef = {
  op: "max_pool",
  category: "pool",
  inferShape: (node, [x]) => poolShape(node, x),
  float(node, [x], [xs], out) {
    const y = new Float32Array(out[1] * out[2] * out[3]);
    forEachWindow(node, xs, out, (o, idx) => {
      let m = -Infinity;
      for (const i of idx) if (x[i] > m) m = x[i];
      y[o] = m;
    });
    return y;
  },
  /** Max of int8 values; the output shares the input's scale and zero point, so no requantization. */
  int8(node, [x], [xs], out) {
    const y = new Int8Array(out[1] * out[2] * out[3]);
    forEachWindow(node, xs, out, (o, idx) => {
      let m = -128;
      for (const i of idx) if (x[i] > m) m = x[i];
      y[o] = m;
    });
    return y;
  },
  quantize: keepInputScale,
  emitInt8: ({ node, inputShapes: [xs], outputShape, addr }) => `max_pool_i8(${emitPoolArgs(node, xs, outputShape, addr)});`,
  emitFloat: ({ node, inputShapes: [xs], outputShape, addr }) => `max_pool_f32(${emitPoolArgs(node, xs, outputShape, addr)});`,
  macs: () => 0,
};
