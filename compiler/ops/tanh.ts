// tanh: hyperbolic tangent, computed in f32 by the blob.
import { unaryOp } from "./unary.js";

export const tanh = unaryOp("tanh", "head", Math.tanh);
