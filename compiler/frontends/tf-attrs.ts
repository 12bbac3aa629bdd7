// Decodes TensorFlow GraphDef nodes in their protobuf-JSON form: attrs, input references, inline tensors, NHWC windows.
import { padsFor } from "./same-padding.js";
import { describe, shapeProblem } from "../limits.js";
import { fileText, quoteName } from "../errors.js";

/** One attr value as protobuf-JSON writes it: int64s are strings, strings are base64, enums are names. */
export interface TfAttr {
  i?: string | number;
  f?: number | string;
  s?: string;
  b?: boolean;
  type?: string | number;
  shape?: TfShape;
  list?: { i?: (string | number)[]; f?: (number | string)[]; s?: string[]; b?: boolean[]; type?: (string | number)[] };
  tensor?: TfTensor;
}

export interface TfShape {
  dim?: { size?: string | number }[];
  unknownRank?: boolean;
}

export interface TfTensor {
  dtype?: string | number;
  tensorShape?: TfShape;
  floatVal?: (number | string)[];
  intVal?: (number | string)[];
  int64Val?: (number | string)[];
  boolVal?: boolean[];
  tensorContent?: string;
}

export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

/** A constant known at compile time. int32 covers every integer type (shapes, axes, paddings). */
export interface ConstValue {
  dtype: "float32" | "int32";
  shape: number[];
  data: Float32Array | Int32Array;
}

/** `name`, `name:1` or `^name` (a control input, which only orders execution and carries no data). */
export interface InputRef {
  node: string;
  index: number;
  control: boolean;
}

export function parseInput(raw: string): InputRef {
  if (raw.startsWith("^")) return { node: raw.slice(1), index: 0, control: true };
  const parts = raw.split(":");
  // `node:output_name:index` appears in function bodies; the index is always last.
  if (parts.length > 1 && /^\d+$/.test(parts[parts.length - 1])) {
    return { node: parts[0], index: Number(parts[parts.length - 1]), control: false };
  }
  return { node: raw, index: 0, control: false };
}

export function dataInputs(node: TfNode): InputRef[] {
  return (node.input ?? []).map(parseInput).filter((r) => !r.control);
}

/** An int64 as protobuf-JSON writes it (a decimal string) or a plain integer; anything else is an error. */
function toInt(v: unknown, key: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^-?[0-9]{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`attr ${quoteName(key)} holds ${describe(v)}, which is not an integer`);
  return n;
}

function decodeString(b64: unknown): string {
  if (typeof b64 !== "string") throw new Error(`${describe(b64)} is not a base64 string`);
  return Buffer.from(b64, "base64").toString("utf8");
}

function list<T>(v: unknown, key: string): T[] {
  if (!Array.isArray(v)) throw new Error(`attr ${quoteName(key)} holds ${describe(v)} where a list belongs`);
  return v as T[];
}

/** The node's own attr `key` (never something inherited from Object.prototype), checked to be an object. */
function attrOf(node: TfNode, key: string): TfAttr | undefined {
  const attrs = node.attr;
  if (!attrs || !Object.hasOwn(attrs, key)) return undefined;
  const a = attrs[key];
  if (typeof a !== "object" || a === null || Array.isArray(a)) throw new Error(`attr ${quoteName(key)} is ${describe(a)}, not an AttrValue object`);
  return a;
}

function missing(key: string, what: string): Error {
  return new Error(`attr ${quoteName(key)} (${what}) is missing or malformed`);
}

export function intAttr(node: TfNode, key: string, fallback?: number): number {
  const a = attrOf(node, key);
  if (a?.i !== undefined) return toInt(a.i, key);
  if (fallback !== undefined) return fallback;
  throw missing(key, "int");
}

export function floatAttr(node: TfNode, key: string, fallback?: number): number {
  const a = attrOf(node, key);
  if (a?.f !== undefined) {
    const v = typeof a.f === "number" || typeof a.f === "string" ? Number(a.f) : NaN;
    if (!Number.isFinite(v)) throw new Error(`attr ${quoteName(key)} is ${describe(a.f)}, not a finite number`);
    return v;
  }
  if (fallback !== undefined) return fallback;
  throw missing(key, "float");
}

export function boolAttr(node: TfNode, key: string, fallback = false): boolean {
  const a = attrOf(node, key);
  return a?.b === undefined ? fallback : a.b === true;
}

export function stringAttr(node: TfNode, key: string, fallback?: string): string {
  const a = attrOf(node, key);
  if (a?.s !== undefined) return decodeString(a.s);
  if (fallback !== undefined) return fallback;
  throw missing(key, "string");
}

export function intListAttr(node: TfNode, key: string, fallback?: number[]): number[] {
  const a = attrOf(node, key);
  if (a?.list) return list(a.list.i ?? [], key).map((v) => toInt(v, key));
  if (fallback !== undefined) return fallback;
  throw missing(key, "list of ints");
}

export function stringListAttr(node: TfNode, key: string): string[] {
  return list(attrOf(node, key)?.list?.s ?? [], key).map(decodeString);
}

/** Dimensions of a shape attr; -1 marks an unknown size; undefined for an unknown rank. */
export function shapeAttr(node: TfNode, key: string): number[] | undefined {
  const shape = attrOf(node, key)?.shape;
  if (!shape || shape.unknownRank) return undefined;
  return list<{ size?: unknown } | null>(shape.dim ?? [], key).map((d) => toInt(d?.size ?? -1, key));
}

const DTYPE_NUMBERS: Record<number, string> = { 1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 9: "DT_INT64", 10: "DT_BOOL", 19: "DT_HALF" };

/** The enum name of a dtype, from its name or its protobuf number. */
export function dtypeName(v: unknown): string {
  if (v === undefined) return "DT_FLOAT";
  if (typeof v === "number") return Object.hasOwn(DTYPE_NUMBERS, v) ? DTYPE_NUMBERS[v] : `dtype ${describe(v)}`;
  return typeof v === "string" ? v : `dtype ${describe(v)}`;
}

/** How Kiln holds a TF dtype as a constant; undefined for dtypes it cannot represent. */
export function constDtype(tfType: string): ConstValue["dtype"] | undefined {
  if (["DT_FLOAT", "DT_DOUBLE", "DT_HALF"].includes(tfType)) return "float32";
  if (["DT_INT32", "DT_INT64", "DT_INT16", "DT_INT8", "DT_UINT8", "DT_BOOL"].includes(tfType)) return "int32";
  return undefined;
}

export function typeAttr(node: TfNode, key: string, fallback = "DT_FLOAT"): string {
  const v = attrOf(node, key)?.type;
  return v === undefined ? fallback : dtypeName(v);
}

/**
 * An inline TensorProto (`attr.value.tensor`), for Const nodes whose value is not in the weights manifest.
 * Undefined if it carries no values: the converter writes only dtype and shape there and moves the data to the
 * manifest, so reading "no values" as zeros would hide a missing weight.
 */
export function tensorAttr(node: TfNode, key: string): ConstValue | undefined {
  const t = attrOf(node, key)?.tensor;
  if (!t) return undefined;
  const tfType = dtypeName(t.dtype);
  const dtype = constDtype(tfType);
  if (!dtype) throw new Error(`inline tensor of type ${fileText(tfType)} is not supported`);
  const shape = list<{ size?: unknown } | null>(t.tensorShape?.dim ?? [], key).map((d) => toInt(d?.size ?? 0, key));
  const problem = shapeProblem(shape, 0);
  if (problem) throw new Error(`inline tensor: ${problem}`);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = dtype === "float32" ? new Float32Array(size) : new Int32Array(size);
  if (t.tensorContent) {
    if (typeof t.tensorContent !== "string") throw new Error("inline tensor content is not a base64 string");
    const bytes = Buffer.from(t.tensorContent, "base64");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const width = tfType === "DT_INT64" || tfType === "DT_DOUBLE" ? 8 : tfType === "DT_FLOAT" || tfType === "DT_INT32" ? 4 : 0;
    if (width === 0 || bytes.length !== size * width) throw new Error(`inline tensor content of ${bytes.length} bytes does not hold ${size} ${fileText(tfType)} values`);
    for (let i = 0; i < size; i++) {
      data[i] = tfType === "DT_FLOAT" ? view.getFloat32(4 * i, true) : tfType === "DT_INT32" ? view.getInt32(4 * i, true)
        : tfType === "DT_DOUBLE" ? view.getFloat64(8 * i, true) : Number(view.getBigInt64(8 * i, true));
    }
    return { dtype, shape, data };
  }
  const raw: (number | string | boolean)[] | undefined = t.floatVal ?? t.intVal ?? t.int64Val ?? t.boolVal;
  if (!raw && size > 0) return undefined;
  const values = list<unknown>(raw ?? [], key).map((v) => (typeof v === "number" || typeof v === "string" || typeof v === "boolean" ? Number(v) : NaN));
  // Protobuf elides repeated trailing values: a shorter list repeats its last value (an empty one means zeros).
  for (let i = 0; i < size; i++) data[i] = values.length === 0 ? 0 : values[Math.min(i, values.length - 1)];
  return { dtype, shape, data };
}

export function requireNhwc(node: TfNode): void {
  const format = stringAttr(node, "data_format", "NHWC");
  if (format !== "NHWC") throw new Error(`data_format ${fileText(format)} is not supported; Kiln needs NHWC`);
}

/** `strides`/`ksize` attrs are [1, h, w, 1] in NHWC; batch and channel entries must be 1. */
export function nhwcWindow(node: TfNode, key: string): [number, number] {
  const v = intListAttr(node, key, [1, 1, 1, 1]);
  if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) throw new Error(`${fileText(key)} [${v}] must be [1, h, w, 1]`);
  return [v[1], v[2]];
}

/** Kiln's [top, left, bottom, right] from `padding` (SAME, VALID) or `explicit_paddings` (EXPLICIT). */
export function paddingOf(node: TfNode, x: number[], kernel: number[], strides: [number, number]): [number, number, number, number] {
  const mode = stringAttr(node, "padding", "VALID").toUpperCase();
  if (mode === "SAME" || mode === "VALID") return padsFor(mode === "SAME" ? "same" : "valid", x[1], x[2], kernel, strides);
  if (mode !== "EXPLICIT") throw new Error(`padding ${fileText(mode)} is not supported (SAME, VALID, EXPLICIT)`);
  // explicit_paddings lists (before, after) for each NHWC dimension.
  const e = intListAttr(node, "explicit_paddings", []);
  if (e.length !== 8 || e[0] || e[1] || e[6] || e[7]) throw new Error(`explicit_paddings [${e}] must pad only H and W`);
  return [e[2], e[4], e[3], e[5]];
}
