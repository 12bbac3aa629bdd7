// The Kiln IR: a graph of nodes in topological order over named NHWC tensors (batch fixed at 1).
import { fileText, quoteName } from "./errors.js";
export type DType = "float32" | "int8" | "int32" | "uint8";

/** Quantization of a tensor: per-tensor (one entry) or per-channel along `axis`. */
export interface QuantParams {
  scale: number[];
  zeroPoint: number[];
  axis?: number;
}

export type TensorData = Float32Array | Int8Array | Int32Array | Uint8Array;

export interface Tensor {
  name: string;
  shape: number[];
  dtype: DType;
  /** Present for constants (weights, biases). */
  data?: TensorData;
  quant?: QuantParams;
}

export type AttrValue = number | string | boolean | number[] | string[];

export interface Node {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  /** Ops folded into this node by passes, in order, e.g. ["conv2d", "relu", "max_pool"]. */
  fused?: string[];
}

export interface Graph {
  name: string;
  inputs: string[];
  outputs: string[];
  tensors: Map<string, Tensor>;
  nodes: Node[];
  /** Free-form facts carried to the manifest (source file, pixel mapping, labels). */
  meta: Record<string, unknown>;
}

/** The largest f32: a clamp bound that never binds (relu is clamp(0, FLT_MAX)), yet a finite number in attrs and code. */
export const FLT_MAX = 3.4028234663852886e38;

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function tensorOf(graph: Graph, name: string): Tensor {
  const t = graph.tensors.get(name);
  if (!t) throw new Error(`graph ${quoteName(graph.name)}: no tensor named ${quoteName(name)}`);
  return t;
}

export function isConstant(graph: Graph, name: string): boolean {
  return graph.tensors.get(name)?.data !== undefined;
}

/** The nodes that read `tensor`. */
export function consumersOf(graph: Graph, tensor: string): Node[] {
  return graph.nodes.filter((n) => n.inputs.includes(tensor));
}

export function producerOf(graph: Graph, tensor: string): Node | undefined {
  return graph.nodes.find((n) => n.outputs.includes(tensor));
}

/** A copy that passes may change without touching the original (constant data is shared, never mutated). */
export function cloneGraph(graph: Graph): Graph {
  return {
    name: graph.name,
    inputs: [...graph.inputs],
    outputs: [...graph.outputs],
    tensors: new Map([...graph.tensors].map(([k, t]) => [k, { ...t, shape: [...t.shape] }])),
    nodes: graph.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs }, fused: n.fused && [...n.fused] })),
    meta: { ...graph.meta },
  };
}

export function attrNumber(node: Node, key: string, fallback?: number): number {
  const v = node.attrs[key];
  if (typeof v === "number") return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new Error(`node ${quoteName(node.name)} (${fileText(node.op)}): attribute ${quoteName(key)} must be a number`);
}

export function attrInts(node: Node, key: string, fallback?: number[]): number[] {
  const v = node.attrs[key];
  if (Array.isArray(v) && v.every((x) => typeof x === "number")) return v as number[];
  if (v === undefined && fallback !== undefined) return fallback;
  throw new Error(`node ${quoteName(node.name)} (${fileText(node.op)}): attribute ${quoteName(key)} must be a list of numbers`);
}

export function attrString(node: Node, key: string, fallback?: string): string {
  const v = node.attrs[key];
  if (typeof v === "string") return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new Error(`node ${quoteName(node.name)} (${fileText(node.op)}): attribute ${quoteName(key)} must be a string`);
}
