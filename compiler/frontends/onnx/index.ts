// The ONNX frontend's entry: a .onnx file → Kiln's float IR (reader.ts decodes and checks, lower.ts lowers NCHW → NHWC).
import type { Graph } from "../../ir.js";
import { lowerOnnx } from "./lower.js";
import { readOnnx } from "./reader.js";

export { readOnnx } from "./reader.js";
export type { OnnxModel } from "./model.js";

/** Reads, checks and lowers an ONNX model; every problem with the file is a KilnError naming it. */
export function loadOnnxModel(path: string): Graph {
  return lowerOnnx(readOnnx(path));
}
