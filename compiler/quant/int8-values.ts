// Where the error report's int8 values come from: the JS int8 reference interpreter here, or a built blob (blob-probe.ts).
// Both give the same values bit for bit (a blob equals the reference: Kiln's core guarantee); a blob is ~1000× faster.
import { tensorOf, type Graph, type Node, type TensorData } from "../ir.js";
import { runMixedAll } from "../int8-interpreter.js";
import { opDef } from "../ops/registry.js";
import { quoteName } from "../errors.js";

/** The values of an int8 (or mixed) graph the error report compares with the float graph's. */
export interface Int8Values {
  /**
   * The graph end to end on `input` (int8, or float32 where the graph's input stays float): the values of `tensors`
   * (int8, or float32 for layers kept in float), copies the caller may keep.
   */
  endToEnd(input: TensorData, tensors: readonly string[]): Map<string, TensorData>;
  /** `node` alone, on `inputOf(name)` for each input that is not a constant: its output, a copy. */
  alone(node: Node, inputOf: (name: string) => TensorData): TensorData;
}

/** The JS reference interpreter's values (~0.15 GMAC/s): for a graph no blob has been built from yet. */
export function referenceValues(quantized: Graph): Int8Values {
  return {
    endToEnd(input, tensors) {
      // A mixed graph's interpreter returns float values for layers kept in float: both kinds are TensorData.
      const all = runMixedAll(quantized, input as Int8Array) as Map<string, TensorData>;
      return new Map(tensors.map((name) => [name, all.get(name)!]));
    },
    alone(node, inputOf) {
      const def = opDef(node);
      const shapes = node.inputs.map((n) => tensorOf(quantized, n).shape);
      const out = tensorOf(quantized, node.outputs[0]);
      const inputs = node.inputs.map((name) => tensorOf(quantized, name).data ?? inputOf(name));
      if (out.dtype === "float32") return def.float(node, inputs as Float32Array[], shapes, out.shape);
      if (!def.int8) throw new Error(`internal: node ${quoteName(node.name)} has no int8 reference`);
      return def.int8(node, inputs, shapes, out.shape);
    },
  };
}
