// Pieces of the ONNX reader: node attributes and the graph's declared inputs and outputs.
import type { onnx } from "onnx-proto";
import { fileText, KilnError, quoteName } from "../../errors.js";
import { shapeProblem } from "../../limits.js";
import type { OnnxAttr, OnnxTensor, OnnxValueInfo } from "./model.js";
import { decodeTensor, elementTypeName, int64Value, safeInt, saturatedInt, type Int64, type TensorContext } from "./tensor.js";

const utf8 = new TextDecoder("utf-8");
const text = (bytes: Uint8Array | null | undefined): string => (bytes ? utf8.decode(bytes) : "");

// AttributeProto.AttributeType numbers.
const FLOAT = 1, INT = 2, STRING = 3, TENSOR = 4, FLOATS = 6, INTS = 7, STRINGS = 8;

/** Old exporters leave `type` unset: the one field that holds a value says what it is. */
function attributeType(a: onnx.IAttributeProto): number {
  if (a.type) return a.type;
  if (a.floats?.length) return FLOATS;
  if (a.ints?.length) return INTS;
  if (a.strings?.length) return STRINGS;
  if (a.t) return TENSOR;
  if (a.s?.length) return STRING;
  if (a.i !== null && a.i !== undefined && int64Value(a.i as Int64) !== 0) return INT;
  return FLOAT;
}

/** A node's attributes by name: numbers, lists, strings, tensors; kinds Kiln never needs (graphs…) as undefined. */
export function decodeAttributes(path: string, attributes: onnx.IAttributeProto[], label: string, ctx: TensorContext): Map<string, OnnxAttr> {
  const attrs = new Map<string, OnnxAttr>();
  for (const a of attributes) {
    const name = a.name ?? "";
    const where = () => `${path}: ${label} attribute ${quoteName(name)}`;
    if (attrs.has(name)) throw new KilnError(`${where()} is given twice`);
    let value: OnnxAttr;
    switch (attributeType(a)) {
      case FLOAT: value = a.f ?? 0; break;
      case INT: value = saturatedInt(a.i as Int64); break;
      case STRING: value = text(a.s); break;
      case TENSOR: value = a.t ? decodeTensor(ctx, a.t, `${label} attribute ${quoteName(name)}`) : undefined; break;
      case FLOATS: value = [...(a.floats ?? [])]; break;
      case INTS: value = (a.ints ?? []).map((i) => saturatedInt(i as Int64)); break;
      case STRINGS: value = (a.strings ?? []).map(text); break;
      default: value = undefined; // GRAPH, SPARSE_TENSOR, TYPE_PROTO and their lists: no op Kiln lowers takes them
    }
    attrs.set(name, value);
  }
  return attrs;
}

type Dim = number | string | null;

/** A value's declared element type and dims: a number (dim_value), a string (dim_param), or null (unknown). */
function declared(path: string, v: onnx.IValueInfoProto): { dtype: string; dims: Dim[] | undefined } {
  const tensor = v.type?.tensorType;
  if (!tensor) return { dtype: "undefined", dims: undefined };
  const dims = tensor.shape ? (tensor.shape.dim ?? []).map((d): Dim => {
    if (d.dimParam !== null && d.dimParam !== undefined && d.dimParam !== "") return d.dimParam;
    if (d.dimValue === null || d.dimValue === undefined) return null;
    return safeInt(d.dimValue as Int64, () => `${path}: value ${quoteName(v.name ?? "")} shape`);
  }) : undefined;
  return { dtype: elementTypeName(tensor.elemType), dims };
}

const shown = (dims: Dim[]): string => `[${dims.map((d) => (d === null ? "?" : typeof d === "string" ? fileText(d, 24) : String(d))).join(", ")}]`;

/**
 * The graph inputs that are not initializers (older exporters list weights as inputs too), batch dim set to 1.
 * The first dim, symbolic or unknown (or ≤ 0), is the batch: Kiln compiles batch 1. Any other dim must be a fixed size.
 */
export function graphInputs(path: string, inputs: onnx.IValueInfoProto[], initializers: Map<string, OnnxTensor>): OnnxValueInfo[] {
  const result: OnnxValueInfo[] = [];
  for (const v of inputs) {
    const name = v.name ?? "";
    if (initializers.has(name)) continue;
    const where = `${path}: input ${quoteName(name)}`;
    if (!v.type?.tensorType) throw new KilnError(`${where} is not a tensor (it is a sequence, map or optional); Kiln compiles models whose inputs are tensors`);
    const { dtype, dims } = declared(path, v);
    if (!dims) throw new KilnError(`${where} declares no shape; Kiln needs the input's sizes: re-export with a fixed-size example input (torch.onnx.export(model, torch.zeros(1, C, H, W), ...))`);
    const fixed = dims.map((d, i) => (i === 0 && (typeof d !== "number" || d <= 0) ? 1 : d));
    const unknown = fixed.findIndex((d) => typeof d !== "number" || d <= 0);
    if (unknown >= 0) {
      const d = fixed[unknown];
      const what = typeof d === "string" ? `the symbolic size ${quoteName(d, 24)}` : d === null ? "an unknown size" : `size ${d}`;
      throw new KilnError(`${where} has ${what} in dimension ${unknown} of ${shown(dims)}; Kiln compiles fixed sizes except the batch: re-export with a fixed input shape (in torch.onnx.export, make only axis 0 dynamic: dynamic_axes={${JSON.stringify(fileText(name, 24))}: {0: "batch"}})`);
    }
    const problem = shapeProblem(fixed);
    if (problem) throw new KilnError(`${where}: ${problem}`);
    result.push({ name, dims: fixed, dtype });
  }
  if (result.length === 0) throw new KilnError(`${path}: the graph has no inputs besides its initializers`);
  return result;
}

/** The graph outputs as the file declares them (the lowering computes shapes itself; [] when the file gives none). */
export function graphOutputs(path: string, outputs: onnx.IValueInfoProto[]): OnnxValueInfo[] {
  return outputs.map((v) => {
    const { dtype, dims } = declared(path, v);
    return { name: v.name ?? "", dtype, dims: (dims ?? []).map((d) => (typeof d === "number" && d < 0 ? null : d)) };
  });
}
