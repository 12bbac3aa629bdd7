// softmax over the last axis, max-subtracted for stability as TF.js does.
import { sizeOf } from "../ir.js";
import type { OpDef } from "./op.js";

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
  emitFloat({ node, inputShapes: [xs], addr }) {
    const n = xs[xs.length - 1];
    return `softmax_f32(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${sizeOf(xs) / n}, ${n});`;
  },
  macs: () => 0,
};
