// Decodes ONNX TensorProtos (initializers, Constant values, TENSOR attributes) into bounded JS arrays.
import type { onnx } from "onnx-proto";
import { fileText, KilnError, quoteName } from "../../errors.js";
import { MAX_WEIGHT_ELEMENTS, shapeProblem } from "../../limits.js";
import type { OnnxDtype, OnnxTensor } from "./model.js";
import { readExternalBytes, type ExternalFiles } from "./external-data.js";

/** protobufjs gives int64 fields as Long objects when the `long` package is present, as numbers otherwise. */
export type Int64 = number | { low: number; high: number; unsigned?: boolean };

const TWO_32 = 2 ** 32;

/** An int64 as a JS number, or undefined when it does not fit exactly (beyond ±(2^53 − 1)). */
export function int64Value(v: Int64 | null | undefined): number | undefined {
  if (v === null || v === undefined) return 0;
  if (typeof v === "number") return Number.isSafeInteger(v) ? v : undefined;
  const high = v.unsigned ? v.high >>> 0 : v.high | 0;
  const value = high * TWO_32 + (v.low >>> 0);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The exact decimal text of an int64, for messages (a Long object prints as "[object Object]"). */
function int64Text(v: Int64): string {
  if (typeof v === "number") return String(v);
  const high = v.unsigned ? BigInt(v.high >>> 0) : BigInt(v.high | 0);
  return String(high * BigInt(TWO_32) + BigInt(v.low >>> 0));
}

/** int64Value, or a KilnError saying where a value beyond JS's exact integers was found: for dims, shapes, versions. */
export function safeInt(v: Int64 | null | undefined, where: () => string): number {
  const n = int64Value(v);
  if (n === undefined) throw new KilnError(`${where()} holds an integer beyond ±2^53 (${fileText(int64Text(v as Int64))}); Kiln reads only exactly representable int64 values there`);
  return n;
}

/**
 * An int64 value of tensor data or an INT attribute, saturated to ±(2^53 − 1): exporters write INT64_MAX/INT64_MIN
 * as "to the end" in Slice (PyTorch's F.pad, x[:, 1:]), where any value past the axis means the same. A saturated
 * value used as a size or a shape is still refused by the shape checks that follow.
 */
export function saturatedInt(v: Int64 | null | undefined): number {
  const n = int64Value(v);
  if (n !== undefined) return n;
  const negative = typeof v === "number" ? v < 0 : !(v as { unsigned?: boolean }).unsigned && ((v as { high: number }).high | 0) < 0;
  return negative ? -Number.MAX_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
}

/** Everything the tensor decoder needs from the reader: where it is, what is left of the weight budget, data files. */
export interface TensorContext {
  path: string;
  /** Elements still allowed for constants in this model (MAX_WEIGHT_ELEMENTS in all), decremented before allocating. */
  budget: { elements: number };
  external: ExternalFiles;
}

interface ElementType { name: string; dtype: OnnxDtype; bytes: number }

/** ONNX TensorProto.DataType → how Kiln holds it: float16/bfloat16/double widen or narrow to float32 (Kiln computes in float32). */
const ELEMENT_TYPES: Record<number, ElementType> = {
  1: { name: "float", dtype: "float32", bytes: 4 },
  2: { name: "uint8", dtype: "uint8", bytes: 1 },
  3: { name: "int8", dtype: "int8", bytes: 1 },
  4: { name: "uint16", dtype: "int32", bytes: 2 },
  5: { name: "int16", dtype: "int32", bytes: 2 },
  6: { name: "int32", dtype: "int32", bytes: 4 },
  7: { name: "int64", dtype: "int64", bytes: 8 },
  9: { name: "bool", dtype: "bool", bytes: 1 },
  10: { name: "float16", dtype: "float32", bytes: 2 },
  11: { name: "double", dtype: "float32", bytes: 8 },
  12: { name: "uint32", dtype: "int64", bytes: 4 },
  13: { name: "uint64", dtype: "int64", bytes: 8 },
  16: { name: "bfloat16", dtype: "float32", bytes: 2 },
};

const TYPE_NAMES = ["undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string", "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16"];

/** ONNX's name for an element type number, as messages and OnnxValueInfo.dtype show it ("float32" for FLOAT). */
export function elementTypeName(type: number | null | undefined): string {
  const t = type ?? 0;
  if (t === 1) return "float32";
  return TYPE_NAMES[t] ?? `type ${t}`;
}

export const SUPPORTED_ELEMENT_TYPES = Object.values(ELEMENT_TYPES).map((t) => t.name).join(", ");

function float16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1, exp = (bits >> 10) & 0x1f, frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function bfloat16(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, (bits & 0xffff) << 16);
  return view.getFloat32(0);
}

/** The typed array for `type`, `count` elements, filled by `at(i)` (the source is already checked to hold `count`). */
function fill(type: ElementType, count: number, at: (i: number) => number): OnnxTensor["data"] {
  const data = type.dtype === "float32" ? new Float32Array(count)
    : type.dtype === "int8" ? new Int8Array(count)
    : type.dtype === "uint8" || type.dtype === "bool" ? new Uint8Array(count)
    : type.dtype === "int32" ? new Int32Array(count)
    : new Array<number>(count);
  for (let i = 0; i < count; i++) data[i] = at(i);
  return data;
}

/** Little-endian element i of raw bytes (ONNX's raw_data and external data are little-endian whatever the machine). */
function rawReader(type: ElementType, bytes: Uint8Array, where: () => string): (i: number) => number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type.name) {
    case "float": return (i) => view.getFloat32(4 * i, true);
    case "uint8": return (i) => view.getUint8(i);
    case "int8": return (i) => view.getInt8(i);
    case "bool": return (i) => (view.getUint8(i) ? 1 : 0);
    case "uint16": return (i) => view.getUint16(2 * i, true);
    case "int16": return (i) => view.getInt16(2 * i, true);
    case "int32": return (i) => view.getInt32(4 * i, true);
    case "uint32": return (i) => view.getUint32(4 * i, true);
    case "float16": return (i) => float16(view.getUint16(2 * i, true));
    case "bfloat16": return (i) => bfloat16(view.getUint16(2 * i, true));
    case "double": return (i) => view.getFloat64(8 * i, true);
    default: // int64, uint64
      return (i) => saturatedInt({ low: view.getUint32(8 * i, true), high: view.getUint32(8 * i + 4, true), unsigned: type.name === "uint64" });
  }
}

/** The typed field ONNX stores this element type in when raw_data is not used, and how to read one element of it. */
function fieldReader(type: ElementType, t: onnx.ITensorProto, where: () => string): { length: number; at: (i: number) => number } {
  switch (type.name) {
    case "float": { const f = t.floatData ?? []; return { length: f.length, at: (i) => f[i] }; }
    case "double": { const f = t.doubleData ?? []; return { length: f.length, at: (i) => f[i] }; }
    case "int64": { const f = (t.int64Data ?? []) as Int64[]; return { length: f.length, at: (i) => saturatedInt(f[i]) }; }
    case "uint32": case "uint64": { const f = (t.uint64Data ?? []) as Int64[]; return { length: f.length, at: (i) => saturatedInt(f[i]) }; }
    default: { // int32_data also carries int8, uint8, (u)int16, bool and the bits of float16/bfloat16
      const f = t.int32Data ?? [];
      const decode = type.name === "float16" ? float16 : type.name === "bfloat16" ? bfloat16 : type.name === "bool" ? (v: number) => (v ? 1 : 0) : (v: number) => v;
      return { length: f.length, at: (i) => decode(f[i]) };
    }
  }
}

/** Checks dims and the model's weight budget before anything is allocated; returns the element count. */
function checkedCount(ctx: TensorContext, dims: number[], where: () => string): number {
  const problem = shapeProblem(dims, 0);
  if (problem) throw new KilnError(`${where()}: ${problem}`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > ctx.budget.elements) {
    throw new KilnError(`${where()}: with its ${count} values the model's constants exceed Kiln's limit of ${MAX_WEIGHT_ELEMENTS} values in all`);
  }
  ctx.budget.elements -= count;
  return count;
}

/** One TensorProto as an OnnxTensor; `label` says what it is for messages (e.g. "initializer 'conv1.weight'"). */
export function decodeTensor(ctx: TensorContext, t: onnx.ITensorProto, label: string): OnnxTensor {
  const name = t.name ?? "";
  const where = () => `${ctx.path}: ${label}`;
  const type = ELEMENT_TYPES[t.dataType ?? 0];
  if (!type) throw new KilnError(`${where()} has element type ${elementTypeName(t.dataType)}; Kiln reads ${SUPPORTED_ELEMENT_TYPES}`);
  if (t.segment) throw new KilnError(`${where()} is stored in segments; Kiln reads whole tensors only (re-save the model without segmenting)`);
  const dims = (t.dims ?? []).map((d) => safeInt(d as Int64, () => `${where()} dims`));
  const count = checkedCount(ctx, dims, where);
  let data: OnnxTensor["data"];
  if (t.dataLocation === 1) {
    const bytes = readExternalBytes(ctx.path, ctx.external, t.externalData ?? [], count * type.bytes, label);
    data = fill(type, count, rawReader(type, bytes, where));
  } else if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * type.bytes) {
      throw new KilnError(`${where()} has ${t.rawData.length} bytes of raw data, but dims [${dims.join(", ")}] of ${type.name} need ${count * type.bytes}`);
    }
    data = fill(type, count, rawReader(type, t.rawData, where));
  } else {
    const field = fieldReader(type, t, where);
    if (field.length !== count) throw new KilnError(`${where()} holds ${field.length} values, but dims [${dims.join(", ")}] need ${count}`);
    data = fill(type, count, field.at);
  }
  return { name, dims, dtype: type.dtype, data };
}

/** "initializer 'w'" for messages. */
export const tensorLabel = (kind: string, name: string): string => `${kind} ${quoteName(name)}`;
