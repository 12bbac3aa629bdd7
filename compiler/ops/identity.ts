// identity: passes its input through (Dropout at inference); the remove-identity pass deletes it.
import { sizeOf } from "../ir.js";
import type { OpDef } from "./op.js";

export const identity: OpDef = {
  op: "identity",
  category: "identity",
  inferShape: (_node, [x]) => [...x],
  float: (_node, [x]) => Float32Array.from(x),
  emitFloat: ({ node, outputShape, addr }) =>
    `memory.copy(${addr(node.outputs[0])}, ${addr(node.inputs[0])}, ${sizeOf(outputShape) * 4});`,
  macs: () => 0,
};
