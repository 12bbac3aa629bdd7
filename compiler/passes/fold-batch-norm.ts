// Pass: folds batch_norm into the conv/dense before it, or else into a conv/dense after it where that is exact.
import { attrInts, tensorOf, type Graph, type Node } from "../ir.js";
import { opDef } from "../ops/registry.js";
import { absorbProducer, absorbReader, addConstant, deleteUnread, rewriteEach, soleProducer, soleReader } from "./rewrite.js";

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
  return rewriteEach(input, (graph, bn) => {
    if (opDef(bn).category !== "affine") return;
    const [x, scaleName, shiftName] = bn.inputs;
    const scale = tensorOf(graph, scaleName).data as Float32Array, shift = tensorOf(graph, shiftName).data as Float32Array;
    const producer = soleProducer(graph, x);
    const reader = soleReader(graph, bn.outputs[0]);
    const replaced = [scaleName, shiftName, ...(producer?.inputs.slice(1) ?? []), ...(reader?.inputs.slice(1) ?? [])];
    if (producer && opDef(producer).category === "producer" && (producer.attrs.activation ?? "linear") === "linear"
      && producer.attrs.pool_kind === undefined) {
      foldBackward(graph, producer, scale, shift);
      absorbReader(graph, producer, bn, "batch_norm");
    } else if (reader && canFoldForward(graph, reader)) {
      foldForward(graph, reader, scale, shift);
      absorbProducer(graph, reader, bn, "batch_norm");
    } else {
      return;
    }
    deleteUnread(graph, replaced);
  });
}
