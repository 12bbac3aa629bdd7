// sigmoid: 1 / (1 + e^−x), computed in f32 by the blob.
import { unaryOp } from "./unary.js";

export const sigmoid = unaryOp("sigmoid", "head", (v) => 1 / (1 + Math.exp(-v)));
