// The TF.js GraphModel frontend: reads a converter model.json (GraphDef + weights) and lowers it into core ops.
import { basename, dirname } from "node:path";
import type { Graph } from "../ir.js";
import { fileText, KilnError, quoteName, fileTextList } from "../errors.js";
import { MAX_GRAPH_NODES, own, shapeProblem } from "../limits.js";
import { GraphBuilder } from "./builder.js";
import { loadWeights, type NamedWeight } from "./weights.js";
import { FOLDABLE_OPS, foldConstant, type FoldInput } from "./const-fold.js";
import { GRAPH_LOWERINGS, type OpContext, type Value } from "./graph-ops.js";
import { constDtype, dataInputs, parseInput, shapeAttr, tensorAttr, typeAttr, type ConstValue, type TfNode } from "./tf-attrs.js";

/** Ops with no data consumers that are never a model's output. */
const NEVER_OUTPUTS = new Set(["NoOp", "Const", "Placeholder"]);

export const SUPPORTED_GRAPH_OPS = [...new Set([...Object.keys(GRAPH_LOWERINGS), ...FOLDABLE_OPS, ...NEVER_OUTPUTS])].sort();

function readNodes(path: string, json: Record<string, unknown>): Map<string, TfNode> {
  const topology = json.modelTopology as { node?: unknown } | undefined;
  if (!topology || typeof topology !== "object" || !Array.isArray(topology.node)) throw new KilnError(`${path}: a graph-model needs modelTopology.node (a list of GraphDef nodes)`);
  if (topology.node.length > MAX_GRAPH_NODES) throw new KilnError(`${path}: the graph has ${topology.node.length} nodes; Kiln reads at most ${MAX_GRAPH_NODES}`);
  const nodes = new Map<string, TfNode>();
  for (const raw of topology.node as unknown[]) {
    const node = raw as Partial<TfNode> | null;
    if (typeof node !== "object" || node === null || typeof node.name !== "string" || typeof node.op !== "string") {
      throw new KilnError(`${path}: a node in modelTopology.node lacks a name or an op`);
    }
    const where = `${path}: node ${quoteName(node.name)} (${fileText(node.op)})`;
    if (node.input !== undefined && (!Array.isArray(node.input) || !node.input.every((i) => typeof i === "string"))) throw new KilnError(`${where}: input must be a list of node names`);
    if (node.attr !== undefined && (typeof node.attr !== "object" || node.attr === null || Array.isArray(node.attr))) throw new KilnError(`${where}: attr must be an object`);
    if (nodes.has(node.name)) throw new KilnError(`${path}: two nodes are named ${quoteName(node.name)}`);
    nodes.set(node.name, node as TfNode);
  }
  return nodes;
}

/** The output from the signature if the converter wrote one, else the single node nobody reads. */
function findOutput(path: string, json: Record<string, unknown>, nodes: Map<string, TfNode>): string {
  type Signature = { outputs?: Record<string, { name?: string }> };
  const signature = (json.signature ?? (json.userDefinedMetadata as { signature?: unknown } | undefined)?.signature) as Signature | undefined;
  const declared = signature && typeof signature === "object" && signature.outputs && typeof signature.outputs === "object" ? Object.values(signature.outputs) : [];
  let outputs = declared.map((o) => (o && typeof o.name === "string" ? parseInput(o.name).node : "")).filter((n) => nodes.has(n));
  if (outputs.length === 0) {
    const read = new Set([...nodes.values()].flatMap((n) => dataInputs(n).map((r) => r.node)));
    outputs = [...nodes.values()].filter((n) => !read.has(n.name) && !NEVER_OUTPUTS.has(n.op)).map((n) => n.name);
  }
  if (outputs.length !== 1) {
    throw new KilnError(`${path}: Kiln compiles models with exactly one output; this graph has ${outputs.length}${outputs.length ? ` (${fileTextList(outputs)})` : ""}`);
  }
  return outputs[0];
}

/** The nodes the output depends on, inputs first (depth-first post-order); control inputs only order, so they are skipped. */
function executionOrder(path: string, nodes: Map<string, TfNode>, output: string): TfNode[] {
  const order: TfNode[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: { node: TfNode; next: number }[] = [{ node: nodes.get(output)!, next: 0 }];
  state.set(output, "open");
  while (stack.length) {
    const top = stack[stack.length - 1];
    const inputs = dataInputs(top.node);
    if (top.next === inputs.length) {
      stack.pop();
      state.set(top.node.name, "done");
      order.push(top.node);
      continue;
    }
    const name = inputs[top.next++].node;
    const input = nodes.get(name);
    if (!input) throw new KilnError(`${path}: node ${quoteName(top.node.name)} (${fileText(top.node.op)}) reads ${quoteName(name)}, which is not in the graph`);
    if (state.get(name) === "open") throw new KilnError(`${path}: node ${quoteName(name)} is part of a cycle (control flow is not supported)`);
    if (!state.has(name)) { state.set(name, "open"); stack.push({ node: input, next: 0 }); }
  }
  return order;
}

/** A Const's value: from the weights manifest (keyed by node name), or inline in its `value` attr. */
function constantOf(node: TfNode, weights: Map<string, NamedWeight>): ConstValue {
  const weight = weights.get(node.name);
  if (!weight) {
    const inline = tensorAttr(node, "value");
    if (!inline) throw new Error("no value: it is neither in the weights manifest nor inline");
    return inline;
  }
  const tfType = typeAttr(node, "dtype");
  const dtype = constDtype(tfType);
  if (!dtype) throw new Error(`constants of type ${fileText(tfType)} are not supported`);
  return { dtype, shape: [...weight.shape], data: dtype === "float32" ? weight.data : Int32Array.from(weight.data) };
}

/** The input's static shape, batch first; an unknown batch (-1) becomes 1, any other unknown size is an error. */
function placeholderShape(node: TfNode): number[] {
  const dtype = typeAttr(node, "dtype");
  if (dtype !== "DT_FLOAT") throw new Error(`input of type ${fileText(dtype)} is not supported (DT_FLOAT only)`);
  const shape = shapeAttr(node, "shape");
  if (!shape) throw new Error("the input has no static shape");
  if (shape.slice(1).some((d) => d < 0)) throw new Error(`input shape [${shape}] has unknown sizes; Kiln needs every size but the batch`);
  if (shape.length !== 4 && shape.length !== 2) throw new Error(`input shape [${shape}]: Kiln supports images [batch, h, w, c] and vectors [batch, n]`);
  if (shape[0] !== -1 && shape[0] !== 1) throw new Error(`input shape [${shape}] has a batch of ${shape[0]}; Kiln compiles batch 1`);
  const problem = shapeProblem([1, ...shape.slice(1)]);
  if (problem) throw new Error(`input ${problem}`);
  return [1, ...shape.slice(1)];
}

export function loadGraphModel(path: string, json: Record<string, unknown>): Graph {
  const nodes = readNodes(path, json);
  const weights = loadWeights(path, json.weightsManifest);
  const output = findOutput(path, json, nodes);
  const b = new GraphBuilder(basename(dirname(path)) || "graph-model", { source: path, format: "graph-model" });
  const values = new Map<string, Value>();
  /** Const node names, so weights in the graph keep the converter's names; and each constant registered once. */
  const origin = new WeakMap<ConstValue, string>();
  const registered = new WeakMap<ConstValue, string>();

  const valueOf = (raw: string): Value => {
    const ref = parseInput(raw);
    if (ref.index !== 0) throw new Error(`reads output ${ref.index} of ${quoteName(ref.node)}; Kiln supports only the first output of an op`);
    return values.get(ref.node)!;
  };

  const lower = (node: TfNode): Value => {
    if (node.op === "Const") {
      const c = constantOf(node, weights);
      origin.set(c, node.name);
      return c;
    }
    if (node.op === "Placeholder") {
      if (b.graph.inputs.length > 0) throw new Error(`the model has a second input (${quoteName(b.graph.inputs[0])} is the first); Kiln supports one`);
      return b.input(b.unique(node.name), placeholderShape(node));
    }
    const refs = (node.input ?? []).filter((r) => !r.startsWith("^"));
    const inputs = refs.map(valueOf);
    const known: FoldInput[] = inputs.map((v) => (typeof v === "string" ? { shape: b.shapeOf(v) } : v));
    const folded = foldConstant(node, known);
    if (folded) return folded;
    const lowering = own(GRAPH_LOWERINGS, node.op);
    if (!lowering) {
      if (FOLDABLE_OPS.includes(node.op)) throw new Error("Kiln evaluates this op only at compile time, but one of its inputs is computed at run time");
      throw new KilnError(`${path}: node ${quoteName(node.name)} has op ${fileText(node.op)}, which Kiln does not support; supported ops: ${SUPPORTED_GRAPH_OPS.join(", ")}`);
    }
    const ctx: OpContext = {
      builder: b,
      node,
      inputs,
      tensor(i) {
        const v = inputs[i];
        if (v === undefined) throw new Error(`needs an input #${i}`);
        if (typeof v !== "string") throw new Error(`input ${quoteName(refs[i])} is a constant; Kiln needs a run-time tensor there`);
        return v;
      },
      constant(i) {
        const v = inputs[i];
        if (v === undefined) throw new Error(`needs an input #${i}`);
        if (typeof v === "string") throw new Error(`input ${quoteName(refs[i])} is computed at run time; Kiln needs a constant there`);
        return v;
      },
      weight(value, name) {
        let tensor = registered.get(value);
        if (!tensor) {
          tensor = b.constant(b.unique(origin.get(value) ?? name), [...value.shape], Float32Array.from(value.data));
          registered.set(value, tensor);
        }
        return tensor;
      },
    };
    return lowering(ctx);
  };

  for (const node of executionOrder(path, nodes, output)) {
    try {
      values.set(node.name, lower(node));
    } catch (e) {
      if (e instanceof KilnError) throw e.message.startsWith(path) ? e : new KilnError(`${path}: node ${quoteName(node.name)} (${fileText(node.op)}): ${e.message}`, e.exitCode);
      throw new KilnError(`${path}: node ${quoteName(node.name)} (${fileText(node.op)}): ${(e as Error).message}`);
    }
  }
  const out = values.get(output);
  if (typeof out !== "string") throw new KilnError(`${path}: the output ${quoteName(output)} is a constant; there is nothing to compile`);
  if (b.graph.inputs.length === 0) throw new KilnError(`${path}: the output ${quoteName(output)} does not depend on any Placeholder input`);
  b.graph.outputs.push(out);
  return b.graph;
}
