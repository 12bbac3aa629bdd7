// reshape: reinterprets a tensor with a new shape (Flatten is a reshape to [1, N]; NHWC order is kept).
import { attrInts, sizeOf } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { keepInputScale } from "../quant/context.js";

export const reshape: OpDef = {
  op: "reshape",
  category: "layout",
  inferShape(node, [x]) {
    const target = attrInts(node, "shape");
    const known = target.filter((d) => d !== -1);
    const free = target.length - known.length;
    if (free > 1) throw shapeError(node, `target shape [${target}] has more than one -1`);
    const shape = target.map((d) => (d === -1 ? sizeOf(x) / sizeOf(known) : d));
    if (sizeOf(shape) !== sizeOf(x) || !shape.every(Number.isInteger)) {
      throw shapeError(node, `cannot reshape [${x}] (${sizeOf(x)} values) to [${target}]`);
    }
    return shape;
  },
  float: (_node, [x]) => Float32Array.from(x),
  int8: (_node, [x]) => Int8Array.from(x),
  quantize: keepInputScale,
  emitInt8: ({ node, outputShape, addr }) => `memory.copy(${addr(node.outputs[0])}, ${addr(node.inputs[0])}, ${sizeOf(outputShape)});`,
  emitFloat: ({ node, outputShape, addr }) =>
    `memory.copy(${addr(node.outputs[0])}, ${addr(node.inputs[0])}, ${sizeOf(outputShape) * 4});`,
  macs: () => 0,
};
