// The one table of int8 kernels for conv-like layers: which kernel a layer gets on a target, and all it needs.
import type { Graph, Node } from "../ir.js";
import { quoteName } from "../errors.js";
import type { EmitContext } from "./emit.js";
import { denseKernel, denseScalarKernel } from "./dense-int8.js";
import { depthwiseKernel } from "./depthwise-int8.js";
import { depthwise3x3Kernel } from "./depthwise3x3-int8.js";
import { depthwiseScalarKernel } from "./depthwise-scalar-int8.js";
import { winogradKernel } from "./conv-wino-int8.js";
import { pointwiseKernel } from "./conv-pw-int8.js";
import { stemConvKernel } from "./conv-stem-int8.js";
import { directConvKernel, smallRowConvKernel } from "./conv-int8.js";
import { scalarConvKernel } from "./conv-scalar-int8.js";

export type Target = "simd" | "scalar";

/** One int8 kernel of the library (runtime/kernels) for conv-like layers, with everything the compiler does for it. */
export interface ConvKernel {
  /** The kernel-library function the layer calls: its name in generated code, tests and profile labels. */
  kernel: string;
  /** Whether the kernel computes `node` exactly on `target` (and is the one to use if no entry before it is). */
  applies(node: Node, graph: Graph, target: Target): boolean;
  /** Constant blobs in the layout the kernel reads (`${node.name}#w`, `#b`, `#m`, …). */
  pack(node: Node, graph: Graph): Map<string, Uint8Array>;
  /** Bytes `${node.name}#scratch` the kernel uses while it runs (a padded input copy, transformed tiles). */
  scratchBytes(node: Node, graph: Graph): number;
  /** Bytes `${node.name}#persistent` kept from one run to the next (weights it transforms on its first call). */
  persistentBytes(node: Node, graph: Graph): number;
  /** AssemblyScript statements calling the kernel. */
  emit(ctx: EmitContext): string;
}

/**
 * Tried in order: the specialised kernels first (SIMD ones, and the scalar target's conv, depthwise and dense); each op's general
 * kernel last, applying on every target.
 */
const CONV_KERNELS: readonly ConvKernel[] = [denseScalarKernel, denseKernel, depthwise3x3Kernel, depthwiseScalarKernel, depthwiseKernel, winogradKernel, pointwiseKernel,
  stemConvKernel, smallRowConvKernel, scalarConvKernel, directConvKernel];

/** The target codegen runs for (graph.meta.target, set by the compiler driver); anything but "simd" is scalar. */
export function targetOf(graph: Graph): Target {
  return graph.meta.target === "simd" ? "simd" : "scalar";
}

export function selectConvKernel(node: Node, graph: Graph, target: Target = targetOf(graph)): ConvKernel {
  const chosen = CONV_KERNELS.find((k) => k.applies(node, graph, target));
  if (!chosen) throw new Error(`internal: no int8 kernel for node ${quoteName(node.name)} (${node.op})`);
  return chosen;
}

/** The int8 codegen hooks of a conv-like OpDef, each answered by the kernel the table selects. */
export const convLikeInt8Codegen = {
  packInt8: (node: Node, graph: Graph): Map<string, Uint8Array> => selectConvKernel(node, graph).pack(node, graph),
  scratchInt8: (node: Node, graph: Graph): number => selectConvKernel(node, graph).scratchBytes(node, graph),
  persistentInt8: (node: Node, graph: Graph): number => selectConvKernel(node, graph).persistentBytes(node, graph),
  emitInt8: (ctx: EmitContext): string => selectConvKernel(ctx.node, ctx.graph).emit(ctx),
};
