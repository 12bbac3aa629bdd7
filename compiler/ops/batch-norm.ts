// batch_norm: per-channel y = x·scale + shift (inference BatchNormalization); a pass folds it into a neighbour.
import { sizeOf } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";

export const batchNorm: OpDef = {
  op: "batch_norm",
  category: "affine",
  inferShape(node, [x, scale, shift]) {
    const c = x[x.length - 1];
    if (scale[0] !== c || shift[0] !== c) throw shapeError(node, `scale [${scale}] and shift [${shift}] must have ${c} channels`);
    return [...x];
  },
  float(_node, [x, scale, shift], [xs]) {
    const c = xs[xs.length - 1];
    return Float32Array.from(x, (v, i) => v * scale[i % c] + shift[i % c]);
  },
  emitFloat: ({ node, inputShapes: [xs], addr }) =>
    `scale_shift_f32(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${addr(node.inputs[2])}, ${addr(node.outputs[0])}, ${sizeOf(xs)}, ${xs[xs.length - 1]});`,
  macs: (_node, [xs]) => sizeOf(xs),
};
