// Codegen of layers kept in float inside an int8 blob (--keep-float): the exact f64 kernels (runtime/kernels/exact-f64*.ts)
// or, where quant/keep-float.ts shows it exact (F32_KERNEL_EXACT_OPS), the op's own float kernel.
import { attrNumber, attrString, fusedPoolOf, sizeOf, tensorOf, type Graph, type Node } from "../ir.js";
import { ACTIVATION_CODES, type OpDef } from "../ops/op.js";
import { convGrid, convWindow } from "../ops/conv2d.js";
import { opDef } from "../ops/registry.js";
import { emitPoolArgs } from "../ops/pool-window.js";
import { F32_KERNEL_EXACT_OPS } from "../quant/keep-float.js";
import { bytesOf } from "./layout.js";
import { roundUp, type EmitContext } from "./emit.js";

/**
 * Output positions per gemm call of a conv without a fused pool: bounds the scratch (rows of K f64 inputs) while each
 * block of weights is still reused across many rows. Any chunk gives the same values (each output's sum is whole).
 */
export const EXACT_CONV_CHUNK = 32;

function floatConstant(graph: Graph, name: string): Float32Array {
  const data = tensorOf(graph, name).data;
  if (!(data instanceof Float32Array)) throw new Error(`internal: tensor ${name} of a float layer is not float32`);
  return data;
}

/** Weights [K][OC] as f32 blocks [OCP/8][K][8], zero-padded to OCP outputs: what gemm_f64_w32 reads. */
function packBlocks(w: Float32Array, K: number, OC: number): Uint8Array {
  const OCP = roundUp(OC, 8);
  const out = new Float32Array(K * OCP);
  for (let b = 0; b < OCP / 8; b++) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < 8; j++) if (b * 8 + j < OC) out[(b * K + k) * 8 + j] = w[k * OC + b * 8 + j];
    }
  }
  return bytesOf(out);
}

/** f64 copies of f32 values (exact), zero-padded to `length`. */
function widened(values: Float32Array | undefined, length: number): Uint8Array {
  const out = new Float64Array(length);
  if (values) out.set(values);
  return new Uint8Array(out.buffer);
}

/** K and OC of a conv2d or dense node's gemm, and how many output positions it has before any fused pool. */
function gemmShape(graph: Graph, node: Node): { K: number; OC: number; P: number } {
  const xs = tensorOf(graph, node.inputs[0]).shape, ws = tensorOf(graph, node.inputs[1]).shape;
  if (node.op === "dense") return { K: ws[0], OC: ws[1], P: 1 };
  const [oh, ow] = convGrid(node, xs, ws);
  return { K: ws[0] * ws[1] * ws[2], OC: ws[3], P: oh * ow };
}

/** Scratch of a conv or dense: f64 input rows, then the f64 sums (16-byte aligned, the grid after the rows). */
function scratchParts(graph: Graph, node: Node): { rows: number; grid: number } {
  const { K, OC, P } = gemmShape(graph, node);
  const OCP = roundUp(OC, 8);
  if (node.op === "dense") return { rows: roundUp(K * 8, 16), grid: OCP * 8 };
  const pooled = fusedPoolOf(node) !== undefined;
  return { rows: roundUp(Math.min(P, EXACT_CONV_CHUNK) * K * 8, 16), grid: (pooled ? P : Math.min(P, EXACT_CONV_CHUNK)) * OCP * 8 };
}

/**
 * The attributes an exact element-wise kernel reads as f64 (the reference computes with the attribute's JS number, which
 * f32 may not hold): stored in the blob's constants, since generated calls pass only integer and f32 literals.
 */
function f64Attributes(node: Node): Float64Array | undefined {
  if (node.op === "clamp") return Float64Array.of(attrNumber(node, "min"), attrNumber(node, "max"));
  if (node.op === "leaky_relu") return Float64Array.of(attrNumber(node, "alpha"));
  return undefined;
}

/** The call of the exact kernel of a kept op that has no constants (pools, element-wise). */
function emitUnweighted(ctx: EmitContext): string {
  const { node, inputShapes: [xs], outputShape, addr } = ctx;
  const x = addr(node.inputs[0]), y = addr(node.outputs[0]);
  switch (node.op) {
    case "avg_pool": return `avg_pool_exact_f32(${emitPoolArgs(node, xs, outputShape, addr)});`;
    case "global_avg_pool": return `mean_exact_f32(${x}, ${y}, ${xs[1] * xs[2]}, ${xs[3]});`;
    case "clamp": return `clamp_exact_f32(${x}, ${y}, ${sizeOf(outputShape)}, ${addr(`${node.name}#f64`)});`;
    case "leaky_relu": return `leaky_relu_exact_f32(${x}, ${y}, ${sizeOf(outputShape)}, ${addr(`${node.name}#f64`)});`;
    default: throw new Error(`internal: node ${node.name} (${node.op}) has no exact float kernel`);
  }
}

const WEIGHTED = new Set(["conv2d", "dense", "depthwise_conv2d"]);

/** What generateModel asks of a node's codegen. */
export type NodeCodegen = Pick<OpDef, "packInt8" | "scratchInt8" | "persistentInt8" | "emitInt8" | "emitFloat">;

/** The node's codegen: its op's, or the exact float kernels' for a layer kept in float in an int8 compile. */
export function codegenOf(node: Node): NodeCodegen {
  return node.float ? exactFloatCodegen : opDef(node);
}

/**
 * The int8 compile's codegen hooks for a node kept in float (compile.ts uses these instead of the op's own): constants
 * packed for the exact kernels, their scratch, and the call. keep-float.ts admitted only what is handled here.
 */
export const exactFloatCodegen: NodeCodegen = {
  packInt8(node, graph) {
    if (!WEIGHTED.has(node.op)) {
      const attributes = f64Attributes(node);
      return attributes ? new Map([[`${node.name}#f64`, new Uint8Array(attributes.buffer)]]) : new Map();
    }
    const w = floatConstant(graph, node.inputs[1]);
    const bias = node.inputs[2] ? floatConstant(graph, node.inputs[2]) : undefined;
    if (node.op === "depthwise_conv2d") {
      return new Map([[`${node.name}#w64`, widened(w, w.length)], ...(bias ? [[`${node.name}#b64`, widened(bias, bias.length)] as const] : [])]);
    }
    const { K, OC } = gemmShape(graph, node);
    const blobs = new Map([[`${node.name}#w32`, packBlocks(w, K, OC)]]);
    // A conv always adds a bias (the reference's `+ (b ? b[o] : 0)`); a dense sum starts at it only if there is one.
    if (bias || node.op === "conv2d") blobs.set(`${node.name}#b64`, widened(bias, roundUp(OC, 8)));
    return blobs;
  },
  scratchInt8(node, graph) {
    if (node.op !== "conv2d" && node.op !== "dense") return 0;
    const { rows, grid } = scratchParts(graph, node);
    return rows + grid;
  },
  emitFloat({ node }) {
    throw new Error(`internal: node ${node.name} is kept in float only in int8 compiles`);
  },
  emitInt8(ctx: EmitContext) {
    const { node, graph, inputShapes: [xs, ws], outputShape, addr } = ctx;
    if (F32_KERNEL_EXACT_OPS.has(node.op)) return opDef(node).emitFloat(ctx);
    if (!WEIGHTED.has(node.op)) return emitUnweighted(ctx);
    const act = ACTIVATION_CODES[attrString(node, "activation", "linear")];
    const x = addr(node.inputs[0]), y = addr(node.outputs[0]);
    const hasBias = node.inputs[2] !== undefined;
    if (node.op === "depthwise_conv2d") {
      const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = convWindow(node, ws);
      const b = hasBias ? addr(`${node.name}#b64`) : 0;
      return `depthwise_f64(${x}, ${xs[1]}, ${xs[2]}, ${xs[3]}, ${addr(`${node.name}#w64`)}, ${b}, ${y}, ` +
        `${outputShape[1]}, ${outputShape[2]}, ${kh}, ${kw}, ${sh}, ${sw}, ${pt}, ${pl}, ${act});`;
    }
    const scratch = addr(`${node.name}#scratch`);
    const { rows } = scratchParts(graph, node);
    const w = addr(`${node.name}#w32`);
    if (node.op === "dense") {
      const b = hasBias ? addr(`${node.name}#b64`) : 0;
      return `dense_exact_f64(${x}, ${w}, ${b}, ${y}, ${ws[0]}, ${ws[1]}, ${act}, ${scratch}, ${scratch + rows});`;
    }
    const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = convWindow(node, ws);
    const [oh, ow] = convGrid(node, xs, ws);
    const pool = fusedPoolOf(node);
    const poolArgs = pool
      ? [pool.kind === "max" ? 1 : 2, outputShape[1], outputShape[2], ...pool.window.kernel, ...pool.window.strides, pool.window.pads[0], pool.window.pads[1]]
      : [0, 0, 0, 0, 0, 0, 0, 0, 0];
    return `conv_exact_f64(${x}, ${xs[1]}, ${xs[2]}, ${xs[3]}, ${w}, ${addr(`${node.name}#b64`)}, ${y}, ${oh}, ${ow}, ${ws[3]}, ` +
      `${kh}, ${kw}, ${sh}, ${sw}, ${pt}, ${pl}, ${act}, ${scratch}, ${scratch + rows}, ${EXACT_CONV_CHUNK}, ${poolArgs.join(", ")});`;
  },
};
