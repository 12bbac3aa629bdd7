// Pass: folds batch_norm into the conv/dense before it, or else into a conv/dense after it where that is exact.
import { attrInts, cloneGraph, consumersOf, producerOf, tensorOf, type Graph, type Node } from "../ir.js";
import { opDef } from "../ops/registry.js";

function addConstant(graph: Graph, base: string, shape: number[], data: Float32Array): string {
  let name = base;
  for (let i = 1; graph.tensors.has(name); i++) name = `${base}_${i}`;
  graph.tensors.set(name, { name, shape, dtype: "float32", data });
  return name;
}

/** Weights of conv2d/dense/depthwise keep output channels innermost, so the channel of index i is i % channels. */
function outputChannels(graph: Graph, node: Node): number {
  return tensorOf(graph, node.outputs[0]).shape.at(-1)!;
}

/** producer(x)·s + t  =  producer'(x) with w' = w·s[o], b' = b·s[o] + t[o]. */
function foldBackward(graph: Graph, producer: Node, scale: Float32Array, shift: Float32Array): void {
  const c = outputChannels(graph, producer);
  const w = tensorOf(graph, producer.inputs[1]);
  const bias = producer.inputs[2] ? (tensorOf(graph, producer.inputs[2]).data as Float32Array) : new Float32Array(c);
  const wData = Float32Array.from(w.data as Float32Array, (v, i) => v * scale[i % c]);
  producer.inputs[1] = addConstant(graph, `${producer.name}/kernel_bn`, w.shape, wData);
  const b = Float32Array.from(bias, (v, o) => v * scale[o] + shift[o]);
  producer.inputs[2] = addConstant(graph, `${producer.name}/bias_bn`, [c], b);
}

/** consumer(x·s + t) = consumer'(x) with w'[…, ci, o] = w·s[ci], b'[o] = b[o] + Σ w[…, ci, o]·t[ci]: exact without padding. */
function foldForward(graph: Graph, consumer: Node, scale: Float32Array, shift: Float32Array): void {
  const w = tensorOf(graph, consumer.inputs[1]);
  const [cin, cout] = w.shape.slice(-2);
  const src = w.data as Float32Array;
  const wData = new Float32Array(src.length);
  const b = consumer.inputs[2] ? Float32Array.from(tensorOf(graph, consumer.inputs[2]).data as Float32Array) : new Float32Array(cout);
  for (let i = 0; i < src.length; i++) {
    const ci = Math.floor(i / cout) % cin, o = i % cout;
    wData[i] = src[i] * scale[ci];
    b[o] += src[i] * shift[ci];
  }
  consumer.inputs[1] = addConstant(graph, `${consumer.name}/kernel_bn`, w.shape, wData);
  consumer.inputs[2] = addConstant(graph, `${consumer.name}/bias_bn`, [cout], b);
}

function canFoldForward(graph: Graph, node: Node): boolean {
  if (node.op === "dense") return true;
  if (node.op !== "conv2d") return false;
  return attrInts(node, "pads", [0, 0, 0, 0]).every((p) => p === 0) && tensorOf(graph, node.inputs[0]).shape.length === 4;
}

export function foldBatchNorm(input: Graph): Graph {
  const graph = cloneGraph(input);
  for (const bn of [...graph.nodes]) {
    if (opDef(bn).category !== "affine") continue;
    const [x, scaleName, shiftName] = bn.inputs;
    const scale = tensorOf(graph, scaleName).data as Float32Array, shift = tensorOf(graph, shiftName).data as Float32Array;
    const producer = producerOf(graph, x);
    const readers = consumersOf(graph, bn.outputs[0]);
    const out = bn.outputs[0];
    if (producer && opDef(producer).category === "producer" && (producer.attrs.activation ?? "linear") === "linear"
      && producer.attrs.pool_kind === undefined && consumersOf(graph, x).length === 1 && !graph.outputs.includes(x)) {
      foldBackward(graph, producer, scale, shift);
      producer.outputs = [out];
      producer.fused = [...(producer.fused ?? [producer.op]), "batch_norm"];
      graph.tensors.delete(x);
    } else if (readers.length === 1 && canFoldForward(graph, readers[0]) && !graph.outputs.includes(out)) {
      foldForward(graph, readers[0], scale, shift);
      readers[0].inputs[0] = x;
      readers[0].fused = ["batch_norm", ...(readers[0].fused ?? [readers[0].op])];
      graph.tensors.delete(out);
    } else {
      continue;
    }
    graph.nodes.splice(graph.nodes.indexOf(bn), 1);
  }
  return graph;
}
