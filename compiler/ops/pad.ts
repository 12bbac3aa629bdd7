// pad: zero padding of H and W (ZeroPadding2D, TF Pad); in int8 the border holds the zero point.
import { attrInts, int8Params, type Node } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { keepInputScale } from "../quant/context.js";

const pads = (node: Node): [number, number, number, number] => attrInts(node, "pads") as [number, number, number, number];

export const pad: OpDef = {
  op: "pad",
  category: "layout",
  inferShape(node, [x]) {
    if (x.length !== 4) throw shapeError(node, `input must be NHWC, got [${x}]`);
    const [t, l, b, r] = pads(node);
    if ([t, l, b, r].some((p) => p < 0 || !Number.isInteger(p))) throw shapeError(node, `pads [${t}, ${l}, ${b}, ${r}] must be non-negative integers`);
    return [1, x[1] + t + b, x[2] + l + r, x[3]];
  },
  float(node, [x], [xs], out) {
    const y = new Float32Array(out[1] * out[2] * out[3]);
    copyInto(x, y, xs, out, pads(node));
    return y;
  },
  int8(node, [x], [xs], out) {
    const y = new Int8Array(out[1] * out[2] * out[3]).fill(int8Params(node, "same-scale").inputZp);
    copyInto(x, y, xs, out, pads(node));
    return y;
  },
  quantize: keepInputScale,
  emitFloat({ node, inputShapes: [xs], addr }) {
    const [t, l, b, r] = pads(node);
    return `pad_f32(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${xs[1]}, ${xs[2]}, ${xs[3]}, ${t}, ${l}, ${b}, ${r});`;
  },
  emitInt8({ node, inputShapes: [xs], addr }) {
    const [t, l, b, r] = pads(node);
    return `pad_i8(${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${xs[1]}, ${xs[2]}, ${xs[3]}, ${t}, ${l}, ${b}, ${r}, ${int8Params(node, "same-scale").inputZp});`;
  },
  macs: () => 0,
};

function copyInto(x: ArrayLike<number>, y: { [i: number]: number }, xs: number[], out: number[], [t, l]: number[]): void {
  const [, h, w, c] = xs;
  for (let iy = 0; iy < h; iy++) {
    for (let i = 0; i < w * c; i++) y[((iy + t) * out[2] + l) * c + i] = x[iy * w * c + i];
  }
}
