// The error report's int8 values read from the built blob, layer by layer (run_layer), at the layout's addresses.
//
// Sound because of how a blob is laid out (codegen/layout.ts, compile.ts generateModel): layer i reads only its input
// tensors, its own constants ("<node>#w", …) and its own scratch; its output never shares bytes with its inputs (both
// live at step i); its "#persistent" buffer is never shared (weights it widens on its first call, behind a flag). So
// layer i run alone on inputs written at their addresses computes what it computes inside a whole run. The arena reuses
// a tensor's bytes once it is dead: each output is copied out right after its layer runs.
import { sizeOf, tensorOf, type Graph, type TensorData } from "../ir.js";
import type { Layout } from "../codegen/layout.js";
import { Model, type BlobExports } from "../../runtime/model.js";
import { quoteName } from "../errors.js";
import type { Int8Values } from "./int8-values.js";

/** A view of tensor `name` in the blob's memory (the layout aligns every buffer to 16 bytes). */
function viewer(graph: Graph, layout: Layout, memory: WebAssembly.Memory): (name: string) => TensorData {
  return (name) => {
    const { dtype, shape } = tensorOf(graph, name);
    const at = layout.addr(name), n = sizeOf(shape), buffer = memory.buffer;
    switch (dtype) {
      case "int8": return new Int8Array(buffer, at, n);
      case "uint8": return new Uint8Array(buffer, at, n);
      case "int32": return new Int32Array(buffer, at, n);
      case "float32": return new Float32Array(buffer, at, n);
    }
  };
}

/** Int8Values of a running instance of the blob built from `graph` with `layout`. */
export function probeValues(graph: Graph, layout: Layout, blob: BlobExports): Int8Values {
  const view = viewer(graph, layout, blob.memory);
  const step = new Map(graph.nodes.map((node, i) => [node.name, i]));
  return {
    endToEnd(input, tensors) {
      const wanted = new Set(tensors);
      const values = new Map<string, TensorData>();
      view(graph.inputs[0]).set(input);
      if (wanted.has(graph.inputs[0])) values.set(graph.inputs[0], input.slice());
      graph.nodes.forEach((node, i) => {
        blob.run_layer(i);
        for (const name of node.outputs) if (wanted.has(name)) values.set(name, view(name).slice());
      });
      return values;
    },
    alone(node, inputOf) {
      const i = step.get(node.name);
      if (i === undefined) throw new Error(`internal: the blob has no layer for node ${quoteName(node.name)}`);
      for (const name of node.inputs) if (!tensorOf(graph, name).data) view(name).set(inputOf(name));
      blob.run_layer(i);
      return view(node.outputs[0]).slice();
    },
  };
}

/**
 * Int8Values of blob `wasm`, built from `graph` with `layout`: loaded (checked) by the runtime, as any host would; no
 * memory limit beyond the compiler's own (the blob is this compile's, and its size was bounded before it was built).
 */
export async function blobValues(graph: Graph, layout: Layout, wasm: Uint8Array): Promise<Int8Values> {
  const model = await Model.load(wasm, { memoryLimit: Infinity });
  return probeValues(graph, layout, model.exports);
}
