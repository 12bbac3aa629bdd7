// The ONNX frontend's entry: a .onnx file → Kiln's float IR (reader.ts decodes and checks, lower.ts lowers NCHW → NHWC).
import type { Graph } from "../../ir.js";
import { lowerOnnxModel } from "./lower.js";
import { attachQdq, stripQdq } from "./qdq.js";
import { readOnnx } from "./reader.js";

export { readOnnx } from "./reader.js";
export type { OnnxModel } from "./model.js";

/**
 * Reads, checks and lowers an ONNX model; every problem with the file is a KilnError naming it. A pre-quantized (QDQ)
 * model is lowered without its Q/DQ pairs, and their scales go to the quantizer (qdq.ts) instead of calibration.
 */
export function loadOnnxModel(path: string): Graph {
  const { model, qdq } = stripQdq(readOnnx(path));
  const lowered = lowerOnnxModel(model);
  if (qdq) attachQdq(lowered.graph, qdq, lowered);
  return lowered.graph;
}
