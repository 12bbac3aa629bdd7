// Turns a graph's activation tensors into buffer requests for the memory planner.
import { sizeOf, type Graph } from "./ir.js";
import type { BufferRequest } from "./memory-plan.js";

const BYTES = { float32: 4, int32: 4, int8: 1, uint8: 1 } as const;

/**
 * Step i is node i. Graph inputs and outputs live through every step: run() may then be called again on
 * the same input (hosts write it once and time many runs), and the output stays readable.
 */
export function activationBuffers(graph: Graph): BufferRequest[] {
  const last = graph.nodes.length - 1;
  const requests = new Map<string, BufferRequest>();
  const add = (name: string, step: number): void => {
    const t = graph.tensors.get(name);
    if (!t || t.data) return;
    const req = requests.get(name);
    if (req) { req.firstUse = Math.min(req.firstUse, step); req.lastUse = Math.max(req.lastUse, step); }
    else requests.set(name, { id: name, size: sizeOf(t.shape) * BYTES[t.dtype], firstUse: step, lastUse: step });
  };
  for (const input of graph.inputs) { add(input, 0); add(input, Math.max(last, 0)); }
  graph.nodes.forEach((node, step) => {
    node.inputs.forEach((i) => add(i, step));
    node.outputs.forEach((o) => add(o, step));
  });
  for (const output of graph.outputs) add(output, Math.max(last, 0));
  return [...requests.values()];
}
