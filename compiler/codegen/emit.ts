// What an op's codegen receives for one node, and how numbers are written into the generated AssemblyScript.
import type { Graph, Node } from "../ir.js";

/** What codegen knows about one node when it emits the call to its kernel. */
export interface EmitContext {
  node: Node;
  graph: Graph;
  inputShapes: number[][];
  outputShape: number[];
  /** Absolute address of a tensor in the blob's memory (weights or arena). */
  addr(tensor: string): number;
}

/**
 * An f32 value as AssemblyScript source that denotes exactly that f32: a shortest round-trip double
 * literal of an f32 value converts back to the same f32 (the value is exactly representable).
 */
export function f32Literal(v: number): string {
  const f = Math.fround(v);
  if (!Number.isFinite(f)) throw new Error(`internal: multiplier ${v} is not finite`);
  return `<f32>${f.toString()}`;
}

export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;
