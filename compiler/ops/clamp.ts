// clamp: min(max(x, min), max), from ReLU(max_value=…) and TF Maximum/Minimum with constants; an int8 lookup table.
import { attrNumber } from "../ir.js";
import { unaryOp } from "./unary.js";

export const clamp = unaryOp("clamp", "head", (v, node) => Math.min(attrNumber(node, "max"), Math.max(attrNumber(node, "min"), v)),
  (node) => [attrNumber(node, "min"), attrNumber(node, "max")]);
