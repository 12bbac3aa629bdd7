// crop: removes rows and columns from the borders of H and W (Cropping2D); same quantization in and out.
import { attrInts } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { keepInputScale } from "../quant/context.js";

function cropCopy<T extends Float32Array | Int8Array>(y: T, x: ArrayLike<number>, xs: number[], out: number[], top: number, left: number): T {
  const [, , w, c] = xs;
  for (let oy = 0; oy < out[1]; oy++) {
    for (let i = 0; i < out[2] * c; i++) y[oy * out[2] * c + i] = x[((oy + top) * w + left) * c + i];
  }
  return y;
}

export const crop: OpDef = {
  op: "crop",
  category: "layout",
  inferShape(node, [x]) {
    if (x.length !== 4) throw shapeError(node, `input must be NHWC, got [${x}]`);
    const [t, l, b, r] = attrInts(node, "crops");
    const shape = [1, x[1] - t - b, x[2] - l - r, x[3]];
    if (shape[1] < 1 || shape[2] < 1) throw shapeError(node, `cropping [${t}, ${l}, ${b}, ${r}] leaves nothing of ${x[1]}×${x[2]}`);
    return shape;
  },
  float: (node, [x], [xs], out) => cropCopy(new Float32Array(out[1] * out[2] * out[3]), x, xs, out, attrInts(node, "crops")[0], attrInts(node, "crops")[1]),
  int8: (node, [x], [xs], out) => cropCopy(new Int8Array(out[1] * out[2] * out[3]), x, xs, out, attrInts(node, "crops")[0], attrInts(node, "crops")[1]),
  quantize: keepInputScale,
  emitFloat: ({ node, inputShapes: [xs], outputShape: out, addr }) => emitCrop(node.inputs[0], node.outputs[0], xs, out, attrInts(node, "crops"), 4, addr),
  emitInt8: ({ node, inputShapes: [xs], outputShape: out, addr }) => emitCrop(node.inputs[0], node.outputs[0], xs, out, attrInts(node, "crops"), 1, addr),
  macs: () => 0,
};

function emitCrop(x: string, y: string, xs: number[], out: number[], [t, l]: number[], bytes: number, addr: (t: string) => number): string {
  return `crop_copy(${addr(x)}, ${addr(y)}, ${xs[2]}, ${xs[3] * bytes}, ${t}, ${l}, ${out[1]}, ${out[2]});`;
}
