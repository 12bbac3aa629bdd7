// Builds a Graph node by node, inferring each output's shape as it goes so frontends can rely on it.
import type { AttrValue, Graph, Tensor, TensorData } from "../ir.js";
import { opDef } from "../ops/registry.js";

export class GraphBuilder {
  readonly graph: Graph;

  constructor(name: string, meta: Record<string, unknown> = {}) {
    this.graph = { name, inputs: [], outputs: [], tensors: new Map(), nodes: [], meta };
  }

  input(name: string, shape: number[]): string {
    this.graph.tensors.set(name, { name, shape, dtype: "float32" });
    this.graph.inputs.push(name);
    return name;
  }

  constant(name: string, shape: number[], data: TensorData): string {
    const dtype: Tensor["dtype"] = data instanceof Float32Array ? "float32" : data instanceof Int8Array ? "int8" : data instanceof Int32Array ? "int32" : "uint8";
    this.graph.tensors.set(name, { name, shape, dtype, data });
    return name;
  }

  shapeOf(tensor: string): number[] {
    const t = this.graph.tensors.get(tensor);
    if (!t) throw new Error(`internal: tensor '${tensor}' is not defined yet`);
    return t.shape;
  }

  /** Adds a node whose single output tensor is named after the node; returns that tensor's name. */
  node(op: string, name: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    const node = { name, op, inputs, outputs: [name], attrs };
    const shape = opDef(node).inferShape(node, inputs.map((i) => this.shapeOf(i)));
    if (this.graph.tensors.has(name)) throw new Error(`internal: tensor '${name}' defined twice`);
    this.graph.tensors.set(name, { name, shape, dtype: "float32" });
    this.graph.nodes.push(node);
    return name;
  }

  /** A fresh tensor name based on `base` (layers emit several nodes). */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.graph.tensors.has(name); i++) name = `${base}_${i}`;
    return name;
  }
}
