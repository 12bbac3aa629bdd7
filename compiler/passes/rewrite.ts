// The moves every graph rewrite is made of: copy the graph, find a tensor only one node reads, merge the two nodes, delete.
import { cloneGraph, consumersOf, producerOf, type Graph, type Node } from "../ir.js";

/**
 * Runs `visit` on every node of a copy of `input` and returns the copy; the input is never changed. The nodes are
 * visited in their order at the start, so `visit` may delete the node it is given (and only that one).
 */
export function rewriteEach(input: Graph, visit: (graph: Graph, node: Node) => void): Graph {
  const graph = cloneGraph(input);
  for (const node of [...graph.nodes]) visit(graph, node);
  return graph;
}

/**
 * The one node that reads `tensor`, if exactly one does and the tensor is not a graph output: only then may that
 * reader merge with the tensor's producer, since nobody else would miss the tensor between them.
 */
export function soleReader(graph: Graph, tensor: string): Node | undefined {
  if (graph.outputs.includes(tensor)) return undefined;
  const readers = consumersOf(graph, tensor);
  return readers.length === 1 ? readers[0] : undefined;
}

/** The node that writes `tensor`, if `tensor` has a sole reader (see soleReader); the pair a fusion looks for. */
export function soleProducer(graph: Graph, tensor: string): Node | undefined {
  return soleReader(graph, tensor) ? producerOf(graph, tensor) : undefined;
}

/** Adds a float constant under a fresh name based on `base`; rewrites never change a constant in place, since others may read it. */
export function addConstant(graph: Graph, base: string, shape: number[], data: Float32Array): string {
  let name = base;
  for (let i = 1; graph.tensors.has(name); i++) name = `${base}_${i}`;
  graph.tensors.set(name, { name, shape, dtype: "float32", data });
  return name;
}

/** Deletes those of `tensors` no node reads any more (constants a rewrite replaced; one constant may feed several nodes). */
export function deleteUnread(graph: Graph, tensors: string[]): void {
  for (const name of tensors) if (!graph.nodes.some((n) => n.inputs.includes(name))) graph.tensors.delete(name);
}

function deleteNode(graph: Graph, node: Node): void {
  graph.nodes.splice(graph.nodes.indexOf(node), 1);
}

/**
 * `producer` takes over `reader`, the sole reader of its output: it writes `reader`'s output, and `reader` and the
 * tensor between them disappear. With `fusedAs`, the producer's `fused` list records the absorbed op after its own.
 */
export function absorbReader(graph: Graph, producer: Node, reader: Node, fusedAs?: string): void {
  const between = reader.inputs[0];
  producer.outputs = producer.outputs.map((o) => (o === between ? reader.outputs[0] : o));
  if (fusedAs !== undefined) producer.fused = [...(producer.fused ?? [producer.op]), fusedAs];
  graph.tensors.delete(between);
  deleteNode(graph, reader);
}

/**
 * `reader` takes over `producer`, the node whose output only `reader` reads (as its first input): `reader` reads
 * `producer`'s input instead, and `producer` and the tensor between them disappear. `fused` records the op before its own.
 */
export function absorbProducer(graph: Graph, reader: Node, producer: Node, fusedAs: string): void {
  const between = producer.outputs[0];
  reader.inputs[0] = producer.inputs[0];
  reader.fused = [fusedAs, ...(reader.fused ?? [reader.op])];
  graph.tensors.delete(between);
  deleteNode(graph, producer);
}

/** Deletes a node that passes its first input through unchanged: every reader, and the graph's outputs, take that input. */
export function bypass(graph: Graph, node: Node): void {
  const [from] = node.inputs, [to] = node.outputs;
  deleteNode(graph, node);
  for (const reader of graph.nodes) reader.inputs = reader.inputs.map((i) => (i === to ? from : i));
  graph.outputs = graph.outputs.map((o) => (o === to ? from : o));
  graph.tensors.delete(to);
}
