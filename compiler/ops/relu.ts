// relu: max(x, 0); fusable into the producing conv or dense.
import { unaryOp } from "./unary.js";

export const relu = unaryOp("relu", "activation", (v) => (v < 0 ? 0 : v));
