// The blob's memory layout: packed constants (one data segment), then the planned activation arena.
import type { Graph, TensorData } from "../ir.js";
import { greedyBySize, type MemoryPlan, type Planner } from "../memory-plan.js";
import { activationBuffers } from "../lifetimes.js";

/** Address 0 stays unused so that 0 can mean "no buffer" (e.g. no bias). */
export const WEIGHTS_BASE = 16;
const ALIGN = 16;

export interface Layout {
  weights: Uint8Array;
  weightsBase: number;
  arenaBase: number;
  plan: MemoryPlan;
  /** Where the AssemblyScript compiler may put its own static data. */
  end: number;
  addr(tensor: string): number;
}

const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function layoutGraph(graph: Graph, planner: Planner = greedyBySize): Layout {
  const constants = new Map<string, number>();
  let size = 0;
  for (const node of graph.nodes) {
    for (const name of node.inputs) {
      const data = graph.tensors.get(name)?.data;
      if (!data || constants.has(name)) continue;
      constants.set(name, size);
      size = align(size + data.byteLength);
    }
  }
  const weights = new Uint8Array(size);
  for (const [name, offset] of constants) weights.set(bytesOf(graph.tensors.get(name)!.data!), offset);
  const arenaBase = align(WEIGHTS_BASE + size);
  const plan = planner(activationBuffers(graph), ALIGN);
  return {
    weights,
    weightsBase: WEIGHTS_BASE,
    arenaBase,
    plan,
    end: align(arenaBase + plan.arenaBytes),
    addr(tensor) {
      const c = constants.get(tensor);
      if (c !== undefined) return WEIGHTS_BASE + c;
      const a = plan.offsets.get(tensor);
      if (a === undefined) throw new Error(`internal: tensor '${tensor}' has no address`);
      return arenaBase + a;
    },
  };
}
