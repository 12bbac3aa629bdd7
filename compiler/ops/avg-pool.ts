// avg_pool: NHWC average pooling; the divisor counts only in-bounds elements (TF semantics for SAME).
import type { OpDef } from "./op.js";
import { emitPoolArgs, forEachWindow, poolShape } from "./pool-window.js";

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
  emitFloat: ({ node, inputShapes: [xs], outputShape, addr }) => `avg_pool_f32(${emitPoolArgs(node, xs, outputShape, addr)});`,
  macs: () => 0,
};
