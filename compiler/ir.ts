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
  /** Set by the quantizer: the numbers the op's int8 reference and kernel need (zero points, multipliers, tables). */
  int8?: Int8Params;
  /** Set by the quantizer on a layer kept in float (--keep-float): it computes its float reference on float32 values. */
  float?: boolean;
}

/**
 * Requantization of a conv-like producer (conv2d, depthwise_conv2d, dense): acc·multipliers[channel] + outputZp,
 * clamped to [clampLo, clampHi] (the fused activation in the int8 domain). Multipliers are f32 values.
 */
export interface ProducerInt8 { kind: "producer"; inputZp: number; outputZp: number; multipliers: number[]; clampLo: number; clampHi: number }
/** Pools and layout ops: the output keeps the input's quantization; only its zero point is needed. */
export interface SameScaleInt8 { kind: "same-scale"; inputZp: number }
/** Element-wise functions: the int8 output for every int8 input, indexed by q + 128. */
export interface LutInt8 { kind: "lut"; table: number[] }

/**
 * Every shape of int8 parameters, by kind. The shapes several ops share are listed here; an op whose parameters
 * are its own declares them in its file (`declare module "../ir.js" { interface Int8ParamKinds { … } }`).
 */
export interface Int8ParamKinds {
  producer: ProducerInt8;
  "same-scale": SameScaleInt8;
  lut: LutInt8;
}

export type Int8Params = Int8ParamKinds[keyof Int8ParamKinds];

/** The node's int8 parameters of the expected kind; throws if the quantizer has not set them. */
export function int8Params<K extends keyof Int8ParamKinds>(node: Node, kind: K): Int8ParamKinds[K] {
  const p = node.int8;
  if (p?.kind !== kind) throw new Error(`internal: node ${quoteName(node.name)} (${fileText(node.op)}) has no ${kind} int8 parameters (is the graph quantized?)`);
  return p as Int8ParamKinds[K];
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

/** The nodes that read `tensor`. */
export function consumersOf(graph: Graph, tensor: string): Node[] {
  return graph.nodes.filter((n) => n.inputs.includes(tensor));
}

export function producerOf(graph: Graph, tensor: string): Node | undefined {
  return graph.nodes.find((n) => n.outputs.includes(tensor));
}

/** A copy that passes may change without touching the original (constant data and int8 parameters are shared, never mutated). */
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

/** A 2-D window (conv kernel or pool) over NHWC: size, strides, explicit padding. */
export interface Window2D {
  kernel: [number, number];
  strides: [number, number];
  /** Explicit padding: top, left, bottom, right. */
  pads: [number, number, number, number];
}

/** A max or average pool that the fuse-pool pass folded into a conv (its `pool_*` attributes, typed). */
export interface FusedPool {
  kind: "max" | "avg";
  window: Window2D;
}

export function fusedPoolOf(node: Node): FusedPool | undefined {
  const kind = attrString(node, "pool_kind", "none");
  if (kind === "none") return undefined;
  return {
    kind: kind as "max" | "avg",
    window: {
      kernel: attrInts(node, "pool_size") as [number, number],
      strides: attrInts(node, "pool_strides") as [number, number],
      pads: attrInts(node, "pool_pads") as [number, number, number, number],
    },
  };
}
