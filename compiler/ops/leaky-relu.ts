// leaky_relu: x for x ≥ 0, alpha·x below; an int8 lookup table.
import { attrNumber } from "../ir.js";
import { unaryOp } from "./unary.js";

export const leakyRelu = unaryOp("leaky_relu", "head", (v, node) => (v < 0 ? v * attrNumber(node, "alpha") : v),
  (node) => [attrNumber(node, "alpha"), 0]);
