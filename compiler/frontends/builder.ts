// Builds a Graph node by node, inferring each output's shape as it goes so frontends can rely on it.
// It is the frontends' last gate: shapes, constants and attrs that leave it are bounded, finite and well typed.
import type { AttrValue, Graph, Tensor, TensorData } from "../ir.js";
import { opDef } from "../ops/registry.js";
import { describe, firstNonFinite, MAX_TENSOR_ELEMENTS, MAX_WINDOW, shapeProblem } from "../limits.js";
import { quoteName } from "../errors.js";

/** Attrs that are integer lists, and the range of their entries (reshape's target may hold one -1, and whole sizes). */
const INT_LIST_ATTRS: Record<string, [number, number]> = {
  strides: [1, MAX_WINDOW], pool: [1, MAX_WINDOW], pads: [0, MAX_WINDOW], crops: [0, MAX_WINDOW], shape: [-1, MAX_TENSOR_ELEMENTS],
};

/** Why `attrs` are not attrs codegen can rely on, or undefined: numbers finite, window attrs bounded integers. */
function attrProblem(attrs: Record<string, AttrValue>): string | undefined {
  for (const [key, v] of Object.entries(attrs)) {
    const range = Object.hasOwn(INT_LIST_ATTRS, key) ? INT_LIST_ATTRS[key] : undefined;
    if (range) {
      const [min, max] = range;
      if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isInteger(x) || x < min || x > max)) {
        return `${key} ${describe(v)} must be integers from ${min} to ${max}`;
      }
    } else if (typeof v === "number" ? !Number.isFinite(v) : Array.isArray(v) && v.some((x) => typeof x === "number" && !Number.isFinite(x))) {
      return `${key} is not a finite number`;
    } else if (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean" && !Array.isArray(v)) {
      return `${key} is ${describe(v)}`;
    }
  }
  return undefined;
}

export class GraphBuilder {
  readonly graph: Graph;

  constructor(name: string, meta: Record<string, unknown> = {}) {
    this.graph = { name, inputs: [], outputs: [], tensors: new Map(), nodes: [], meta };
  }

  /** Names come from the file: a layer called like another layer's weight ('conv/kernel') must not replace it. */
  private claim(name: string): void {
    if (this.graph.tensors.has(name)) throw new Error(`the name ${quoteName(name)} is used twice (a layer or node is named like another tensor, e.g. a weight)`);
  }

  input(name: string, shape: number[]): string {
    this.claim(name);
    const problem = shapeProblem(shape);
    if (problem) throw new Error(`input: ${problem}`);
    this.graph.tensors.set(name, { name, shape, dtype: "float32" });
    this.graph.inputs.push(name);
    return name;
  }

  constant(name: string, shape: number[], data: TensorData): string {
    this.claim(name);
    const problem = shapeProblem(shape);
    if (problem) throw new Error(`constant ${quoteName(name)}: ${problem}`);
    if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`constant ${quoteName(name)} has ${data.length} values for shape [${shape}]`);
    const bad = firstNonFinite(data);
    if (bad >= 0) throw new Error(`weights are not finite: ${quoteName(name)} holds ${Number.isNaN(data[bad]) ? "a not-a-number value" : data[bad]} at index ${bad}`);
    const dtype: Tensor["dtype"] = data instanceof Float32Array ? "float32" : data instanceof Int8Array ? "int8" : data instanceof Int32Array ? "int32" : "uint8";
    this.graph.tensors.set(name, { name, shape, dtype, data });
    return name;
  }

  shapeOf(tensor: string): number[] {
    const t = this.graph.tensors.get(tensor);
    if (!t) throw new Error(`internal: tensor ${quoteName(tensor)} is not defined yet`);
    return t.shape;
  }

  /** Adds a node whose single output tensor is named after the node; returns that tensor's name. */
  node(op: string, name: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    this.claim(name);
    const node = { name, op, inputs, outputs: [name], attrs };
    const problem = attrProblem(attrs);
    if (problem) throw new Error(problem);
    const shape = opDef(node).inferShape(node, inputs.map((i) => this.shapeOf(i)));
    const shapeIssue = shapeProblem(shape);
    if (shapeIssue) throw new Error(`output ${shapeIssue}`);
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
