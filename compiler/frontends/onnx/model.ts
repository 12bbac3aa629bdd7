// The decoded ONNX model: what reader.ts produces from a .onnx file and lower.ts turns into Kiln's float IR.
//
// Everything here is plain data, already checked against compiler/limits.ts by the reader: sizes and counts are
// bounded, int64 values fit a JS number exactly, names are raw strings from the file (quote them with
// quoteName/fileText in messages and never paste them into generated code).

/**
 * A node attribute's value. INT and FLOAT → number, INTS and FLOATS → number[], STRING → string (decoded as UTF-8),
 * STRINGS → string[], TENSOR → OnnxTensor; an attribute of any other type (GRAPH, SPARSE_TENSOR, TYPE_PROTO…) →
 * undefined, so the lowering can name it as unsupported. INT/INTS outside ±2^53 are refused by the reader.
 */
export type OnnxAttr = number | string | number[] | string[] | OnnxTensor | undefined;

/** The element types Kiln reads from initializers, Constant nodes and TENSOR attributes. */
export type OnnxDtype = "float32" | "int8" | "uint8" | "int32" | "int64" | "bool";

/**
 * A constant tensor (initializer, Constant node output or TENSOR attribute), in ONNX's own layout (row-major, dims as
 * written: conv weights are OIHW, activations NCHW). `data.length` equals the product of `dims` (1 for a scalar, dims []).
 * int64 values arrive as numbers, each checked to be a safe integer; bool arrives as a Uint8Array of 0/1.
 * Other ONNX element types are mapped by the reader: float16, bfloat16 and double → float32 (Kiln computes in float32),
 * int16 and uint16 → int32, uint32 and uint64 → int64; string and complex tensors are refused.
 */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dtype: OnnxDtype;
  data: Float32Array | Int8Array | Uint8Array | Int32Array | number[];
}

/**
 * A graph input or output as declared. Each dim is a number (fixed size), a string (symbolic, dim_param, e.g.
 * "batch_size"), or null (unknown). The reader has already set a symbolic or unknown *first* dim of a graph input to 1
 * (Kiln compiles batch 1) and refused any other unknown dim of an input; outputs keep what the file says.
 * dtype is ONNX's element type name in lower case ("float32", "int64", "uint8"…, or "undefined").
 */
export interface OnnxValueInfo {
  name: string;
  dims: (number | string | null)[];
  dtype: string;
}

/** One graph node, as written. `inputs` keeps "" for an absent optional input so positions stay meaningful. */
export interface OnnxNode {
  name: string;
  opType: string;
  /** "" for the default ONNX domain (the reader maps "ai.onnx" to ""). */
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, OnnxAttr>;
}

/** A whole decoded model: graph inputs exclude initializers; Constant nodes have been turned into initializers. */
export interface OnnxModel {
  /** The file it was read from, for messages. */
  path: string;
  /** opset_import version of the default domain (checked within the supported range, 7–21). */
  opset: number;
  /** producer_name and producer_version, e.g. "pytorch 1.13.1" (for messages). */
  producer: string;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers: Map<string, OnnxTensor>;
  /** In topological order (the reader checks every input is produced before it is used). */
  nodes: OnnxNode[];
}
