// Graphs written out by hand for the pass tests, and the whole-graph comparison (ops, wiring, attributes, tensors).
import { expect } from "vitest";
import type { AttrValue, Graph, Node } from "../../compiler/ir.js";
import { checkGraph } from "../../compiler/shapes.js";
import { runFloat } from "../../compiler/interpreter.js";
import { maxAbsDiff, seededRandom } from "../helpers.js";

/** A tensor of the fixture: a shape, and values for a constant. */
export interface TensorSpec { shape: number[]; data?: number[] }

export const activation = (...shape: number[]): TensorSpec => ({ shape });
export const constant = (shape: number[], data: number[]): TensorSpec => ({ shape, data });

/** A node with its wiring spelled out; `fused` only where a pass wrote one. */
export function node(name: string, op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, fused?: string[]): Node {
  return { name, op, inputs, outputs, attrs, ...(fused ? { fused } : {}) };
}

export interface GraphSpec {
  inputs: string[];
  outputs: string[];
  /** Every tensor of the graph, activations and constants; a test's expected graph lists exactly the survivors. */
  tensors: Record<string, TensorSpec>;
  nodes: Node[];
}

/** A consistent graph (checked: order, shapes, sizes) from its spec; constants are float32. */
export function graphOf(spec: GraphSpec): Graph {
  const graph: Graph = {
    name: "g",
    inputs: [...spec.inputs],
    outputs: [...spec.outputs],
    tensors: new Map(Object.entries(spec.tensors).map(([name, t]) => [name, {
      name, shape: [...t.shape], dtype: "float32" as const, ...(t.data ? { data: Float32Array.from(t.data) } : {}),
    }])),
    nodes: spec.nodes.map((n) => structuredClone(n)),
    meta: {},
  };
  checkGraph(graph);
  return graph;
}

/** Everything a pass may change, as plain data: node order, ops, wiring, attrs, fused lists, each tensor with its values. */
export function plain(graph: Graph): unknown {
  return {
    inputs: graph.inputs,
    outputs: graph.outputs,
    nodes: graph.nodes.map((n) => ({ ...n, fused: n.fused })),
    tensors: Object.fromEntries([...graph.tensors].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, t]) => [name, { ...t, data: t.data && Array.from(t.data) }])),
    meta: graph.meta,
  };
}

/**
 * Runs `pass` on the graph `before` describes and expects exactly the graph `expected` describes; also that the result
 * is consistent and that the input graph was not touched (passes are pure).
 */
export function expectRewrite(pass: (g: Graph) => Graph, before: GraphSpec, expected: GraphSpec): Graph {
  const input = graphOf(before);
  const snapshot = structuredClone(plain(input));
  const after = pass(input);
  checkGraph(after);
  expect(plain(after)).toEqual(plain(graphOf(expected)));
  expect(plain(input)).toEqual(snapshot);
  return after;
}

/** A pass that must leave this graph as it is. */
export function expectUnchanged(pass: (g: Graph) => Graph, spec: GraphSpec): void {
  expectRewrite(pass, spec, spec);
}

/** The float reference computes the same outputs on both graphs (a pass keeps the model's meaning), on random inputs. */
export function expectSameOutputs(before: Graph, after: Graph, tolerance = 1e-5): void {
  const random = seededRandom(7);
  const size = before.tensors.get(before.inputs[0])!.shape.reduce((a, b) => a * b, 1);
  for (let run = 0; run < 3; run++) {
    const x = Float32Array.from({ length: size }, () => random() * 8 - 4);
    expect(maxAbsDiff(runFloat(after, x), runFloat(before, x))).toBeLessThanOrEqual(tolerance);
  }
}

/** `spec` without the named tensors (those a rewrite deletes). */
export function without(tensors: Record<string, TensorSpec>, ...names: string[]): Record<string, TensorSpec> {
  return Object.fromEntries(Object.entries(tensors).filter(([name]) => !names.includes(name)));
}

/** The op of every node, with what it absorbed: "conv2d+relu". */
export const ops = (g: Graph): string[] => g.nodes.map((n) => (n.fused ?? [n.op]).join("+"));
