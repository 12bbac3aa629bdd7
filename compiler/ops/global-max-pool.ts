// global_max_pool: max over H and W per channel (GlobalMaxPooling2D); int8 keeps the input's quantization.
import { shapeError, type OpDef } from "./op.js";
import { keepInputScale } from "../quant/context.js";

function reduceMax<T extends Float32Array | Int8Array>(y: T, x: ArrayLike<number>, xs: number[], lowest: number): T {
  const [, h, w, c] = xs;
  y.fill(lowest);
  for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) if (x[p * c + ch] > y[ch]) y[ch] = x[p * c + ch];
  return y;
}

export const globalMaxPool: OpDef = {
  op: "global_max_pool",
  category: "pool",
  inferShape(node, [x]) {
    if (x.length !== 4) throw shapeError(node, `input must be NHWC, got [${x}]`);
    return node.attrs.keepdims === true ? [1, 1, 1, x[3]] : [1, x[3]];
  },
  float: (_node, [x], [xs]) => reduceMax(new Float32Array(xs[3]), x, xs, -Infinity),
  int8: (_node, [x], [xs]) => reduceMax(new Int8Array(xs[3]), x, xs, -128),
  quantize: keepInputScale,
  emitFloat: ({ node, inputShapes: [xs], addr }) => `global_max_pool_f32(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${xs[1] * xs[2]}, ${xs[3]});`,
  emitInt8: ({ node, inputShapes: [xs], addr }) => `global_max_pool_i8(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${xs[1] * xs[2]}, ${xs[3]});`,
  macs: () => 0,
};
