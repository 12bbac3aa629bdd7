// The bounds a model file must stay within, checked before anything is allocated or generated from it.
import { DEFAULT_MEMORY_LIMIT } from "../runtime/model.js";
import { fileText } from "./errors.js";

/** model.json is read whole and parsed: anything larger is refused before it is read. */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/** An .onnx file is read whole and decoded: its weights (at most MAX_WEIGHT_ELEMENTS float32) plus room for the graph. */
export const MAX_ONNX_FILE_BYTES = 320 * 1024 * 1024;

/** Keras layers in a LayersModel. */
export const MAX_LAYERS = 4096;

/** GraphDef nodes in a GraphModel (converter graphs hold many Const and shape nodes besides the layers). */
export const MAX_GRAPH_NODES = 100_000;

/** Elements in any one tensor (activation, weight or folded constant): 2^24, 64 MiB as float32. */
export const MAX_TENSOR_ELEMENTS = 2 ** 24;

/** Weight values in one model, all weights together: 2^26, 256 MiB once decoded to float32 (a blob holds at most that). */
export const MAX_WEIGHT_ELEMENTS = 2 ** 26;

/** A tensor's rank. */
export const MAX_RANK = 8;

/** Window sizes, strides, paddings and croppings: far beyond any real model, well inside an i32. */
export const MAX_WINDOW = 65536;

/** How deeply a Keras config may nest its inbound_nodes / input_layers / output_layers lists. */
export const MAX_CONFIG_NESTING = 32;

/** A blob's whole memory (weights + activations + scratch): what Model.load and the agent accept by default. */
export const MAX_BLOB_MEMORY_BYTES = DEFAULT_MEMORY_LIMIT;

const MiB = 1024 * 1024;
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(bytes % MiB === 0 ? 0 : 1)} MiB`;

/** Why `shape` is not a tensor shape Kiln accepts (dims ≥ `min`, integers, bounded count), or undefined if it is. */
export function shapeProblem(shape: unknown, min = 1): string | undefined {
  if (!Array.isArray(shape)) return `shape ${describe(shape)} is not a list of sizes`;
  if (shape.length > MAX_RANK) return `shape has ${shape.length} dimensions (at most ${MAX_RANK})`;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isInteger(d) || d < min) return `shape ${describe(shape)} has a size that is not an integer ≥ ${min}`;
  }
  let count = 1;
  for (const d of shape as number[]) count *= d;
  if (count > MAX_TENSOR_ELEMENTS) return `shape [${shape.join(", ")}] has ${count} elements; Kiln's limit is ${MAX_TENSOR_ELEMENTS} per tensor`;
  return undefined;
}

/** A value from a file, shown in a message: short, one line, and never a raw object dump. */
export function describe(v: unknown, depth = 0): string {
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "a non-finite number";
  if (typeof v === "string") return `"${fileText(v)}"`;
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) {
    if (depth >= 2) return "[…]";
    return `[${v.slice(0, 8).map((x) => describe(x, depth + 1)).join(", ")}${v.length > 8 ? ", …" : ""}]`;
  }
  return typeof v === "object" ? "an object" : typeof v;
}

/** Index of the first non-finite value, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/** `table[key]` only for the table's own keys: file strings such as "constructor" must not find Object.prototype. */
export function own<T>(table: Record<string, T>, key: unknown): T | undefined {
  return typeof key === "string" && Object.hasOwn(table, key) ? table[key] : undefined;
}
