// relu6: min(max(x, 0), 6); fusable into the producing conv or dense.
import { unaryOp } from "./unary.js";

export const relu6 = unaryOp("relu6", "activation", (v) => (v < 0 ? 0 : v > 6 ? 6 : v));
