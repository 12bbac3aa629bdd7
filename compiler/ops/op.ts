// The contract every op file fulfils: shape rule, float and int8 references, how it quantizes, fusion category, codegen.
import type { Graph, Node, TensorData } from "../ir.js";
import { fileText, quoteName } from "../errors.js";
import type { QuantizeContext } from "../quant/context.js";
import type { EmitContext } from "../codegen/emit.js";

/**
 * How passes may fuse an op: `producer` ops (conv, dense) absorb a following `activation` and `pool`;
 * `layout` ops only reinterpret memory; `identity` ops vanish; `affine` ops (batch norm) fold into a neighbour;
 * `binary` ops (add) read two activations and fuse with nothing.
 */
export type FusionCategory = "producer" | "activation" | "pool" | "layout" | "identity" | "head" | "affine" | "binary";

export interface OpDef {
  op: string;
  category: FusionCategory;
  /** Output shape from input shapes (batch included, always 1); throws with the node's name if invalid. */
  inferShape(node: Node, inputShapes: number[][]): number[];
  /** The float reference: the spec the float blob must match. */
  float(node: Node, inputs: Float32Array[], inputShapes: number[][], outputShape: number[]): Float32Array;
  /** One AssemblyScript statement calling the float kernel. */
  emitFloat(ctx: EmitContext): string;
  /** The int8 reference (the spec the int8 kernels match bit for bit); absent if the op has no int8 kernel. */
  int8?(node: Node, inputs: TensorData[], inputShapes: number[][], outputShape: number[]): Int8Array;
  /**
   * How the op quantizes (with `int8`): sets its output's quantization and `node.int8`, the typed parameters its
   * int8 reference and kernel read (shared steps: quant/context.ts keepInputScale, quant/producer.ts).
   */
  quantize?(node: Node, ctx: QuantizeContext): void;
  /** Constant blobs the int8 kernel reads, in the layout it wants, named `${node.name}#…`. */
  packInt8?(node: Node, graph: Graph): Map<string, Uint8Array>;
  /** Scratch bytes the int8 kernel needs while it runs (e.g. a padded copy of its input). */
  scratchInt8?(node: Node, graph: Graph): number;
  /** Bytes the int8 kernel keeps from one run to the next (e.g. weights it transforms on its first call). */
  persistentInt8?(node: Node, graph: Graph): number;
  /** AssemblyScript statements calling the int8 kernel. */
  emitInt8?(ctx: EmitContext): string;
  /** Multiply-accumulates for one inference (0 for data movement). */
  macs(node: Node, inputShapes: number[][], outputShape: number[]): number;
}

export function shapeError(node: Node, message: string): Error {
  return new Error(`node ${quoteName(node.name)} (${fileText(node.op)}): ${message}`);
}

/** Fused activation codes shared by the float and int8 kernels. */
export const ACTIVATION_CODES: Record<string, number> = { linear: 0, relu: 1, relu6: 2 };

export function applyActivation(v: number, activation: string): number {
  if (activation === "relu") return v < 0 ? 0 : v;
  if (activation === "relu6") return v < 0 ? 0 : v > 6 ? 6 : v;
  return v;
}
