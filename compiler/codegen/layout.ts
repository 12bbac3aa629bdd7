// The blob's memory layout: packed constants (one data segment), then the planned activation arena.
import type { Graph, TensorData } from "../ir.js";
import { greedyBySize, type BufferRequest, type MemoryPlan, type Planner } from "../memory-plan.js";
import { activationBuffers } from "../lifetimes.js";
import { quoteName } from "../errors.js";

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

/** Int8 kernels read whole 8-byte blocks: the last block of a buffer may run up to 7 bytes past its end. */
export const OVERREAD_SLACK = 8;

export function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The constants a float blob reads: each constant input as stored. */
export function rawConstants(graph: Graph): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const node of graph.nodes) {
    for (const name of node.inputs) {
      const data = graph.tensors.get(name)?.data;
      if (data) out.set(name, bytesOf(data));
    }
  }
  return out;
}

/** Lays out `constants` (packed as the kernels want them) and plans activations plus per-layer scratch buffers. */
export function layoutGraph(graph: Graph, blobs: Map<string, Uint8Array>, scratch: BufferRequest[] = [], planner: Planner = greedyBySize): Layout {
  const constants = new Map<string, number>();
  let size = 0;
  for (const [name, bytes] of blobs) {
    constants.set(name, size);
    size = align(size + bytes.length);
  }
  const weights = new Uint8Array(size);
  for (const [name, offset] of constants) weights.set(blobs.get(name)!, offset);
  const arenaBase = align(WEIGHTS_BASE + size);
  const buffers = [...activationBuffers(graph), ...scratch].map((b) => ({ ...b, size: b.size + OVERREAD_SLACK }));
  const plan = planner(buffers, ALIGN);
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
      if (a === undefined) throw new Error(`internal: tensor ${quoteName(tensor)} has no address`);
      return arenaBase + a;
    },
  };
}
