// The registry of core ops: adding an op means one file in this folder and one line here.
import { tensorOf, type Graph, type Node } from "../ir.js";
import type { OpDef } from "./op.js";
import { conv2d } from "./conv2d.js";
import { dense } from "./dense.js";
import { maxPool } from "./max-pool.js";
import { avgPool } from "./avg-pool.js";
import { relu } from "./relu.js";
import { relu6 } from "./relu6.js";
import { sigmoid } from "./sigmoid.js";
import { tanh } from "./tanh.js";
import { softmax } from "./softmax.js";
import { reshape } from "./reshape.js";
import { identity } from "./identity.js";
import { batchNorm } from "./batch-norm.js";
import { leakyRelu } from "./leaky-relu.js";
import { clamp } from "./clamp.js";
import { pad } from "./pad.js";
import { crop } from "./crop.js";
import { concat } from "./concat.js";
import { multiply } from "./multiply.js";
import { globalMaxPool } from "./global-max-pool.js";
import { depthwiseConv2d } from "./depthwise-conv2d.js";
import { add } from "./add.js";
import { globalAvgPool } from "./global-avg-pool.js";
import { quantize } from "./quantize.js";
import { dequantize } from "./dequantize.js";
import { quoteName } from "../errors.js";

const OPS: OpDef[] = [conv2d, dense, maxPool, avgPool, relu, relu6, sigmoid, tanh, softmax, reshape, identity, batchNorm,
  depthwiseConv2d, add, globalAvgPool,
  leakyRelu, clamp, pad, crop, concat, multiply, globalMaxPool,
  quantize, dequantize];

const BY_NAME = new Map(OPS.map((d) => [d.op, d]));

export function opDef(node: Node): OpDef {
  const def = BY_NAME.get(node.op);
  if (!def) throw new Error(`node ${quoteName(node.name)}: op ${quoteName(node.op)} is not a Kiln core op (known: ${[...BY_NAME.keys()].join(", ")})`);
  return def;
}

/** Multiply-accumulates of one inference of `node` (0 for data movement). */
export function layerMacs(graph: Graph, node: Node): number {
  return opDef(node).macs(node, node.inputs.map((n) => tensorOf(graph, n).shape), tensorOf(graph, node.outputs[0]).shape);
}
