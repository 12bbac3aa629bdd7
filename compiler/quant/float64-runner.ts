// The float reference, fast: conv2d, depthwise and dense run in float64-kernels (WebAssembly SIMD), the rest as the reference.

// Calibration's values must be the float reference's bit for bit (same ranges → same int8 blob). The kernels repeat the
// reference's f64 arithmetic (see runtime/kernels/exact-f64.ts); a node they do not cover exactly (a depth multiplier, a conv
// with non-finite weights) runs through its OpDef.float on views of the same memory, as the reference would.
import { attrString, fusedPoolOf, sizeOf, tensorOf, type Graph, type Node, type TensorData } from "../ir.js";
import { opDef } from "../ops/registry.js";
import { ACTIVATION_CODES } from "../ops/op.js";
import { convGrid, convWindow } from "../ops/conv2d.js";
import { allFinite } from "../ops/float-dot.js";
import { FLOAT64_KERNELS_WASM_BASE64 } from "./float64-kernels-wasm.js";
import { runFloatAll, type Activations } from "../interpreter.js";

/** Runs a graph on one input at a time; the values it returns are views that the next run overwrites. */
export interface FloatRunner {
  run(input: Float32Array): Map<string, Float32Array>;
  /**
   * Widens `range` by tensor `name`'s values of the last run exactly as the scan
   * `for (v of values) { if (v < min) min = v; if (v > max) max = v; }` would, NaN ignored and the first of ±0 kept.
   */
  widenRange(name: string, range: { min: number; max: number }): void;
}

interface Kernels {
  memory: WebAssembly.Memory;
  gemm_f64(x: number, P: number, K: number, w: number, OCP: number, start: number, out: number): void;
  epilogue_f64(grid: number, P: number, OC: number, OCP: number, bias: number, act: number, addBias: number, addZero: number, y: number): void;
  widen_f32(x: number, n: number, out: number): void;
  patches_f64(x: number, H: number, W: number, C: number, OW: number, first: number, P: number, KH: number, KW: number,
    SH: number, SW: number, PT: number, PL: number, out: number): void;
  depthwise_f64(x: number, H: number, W: number, C: number, w: number, bias: number, y: number, OH: number, OW: number,
    KH: number, KW: number, SH: number, SW: number, PT: number, PL: number, act: number): void;
  minmax_f32(x: number, n: number, out: number): void;
  activate_f64(grid: number, P: number, OC: number, OCP: number, bias: number, act: number): void;
  pool_f64(grid: number, OH: number, OW: number, OC: number, OCP: number, PH: number, PW: number, KH: number, KW: number,
    SH: number, SW: number, PT: number, PL: number, isMax: number, y: number): void;
}

/** The first ±0 of `v`, with its sign: the one a sequential min/max scan keeps when the extreme is zero. */
function firstZero(v: Float32Array): number {
  for (let i = 0; i < v.length; i++) if (v[i] === 0) return v[i];
  throw new Error("internal: no zero where the range scan found one");
}

/** Output positions per gemm call: their f64 sums and input rows stay in cache while each weight block is reused. */
const CHUNK = 128;
/** Kiln does not calibrate a model whose buffers would need more WebAssembly memory than this (the reference then runs). */
const MAX_BYTES = 2 ** 31;
const PAGE = 65536;

let compiled: WebAssembly.Module | null | undefined;

/** The kernels' module, or null where this host has no WebAssembly SIMD (the reference runs instead). */
function kernelsModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = Buffer.from(FLOAT64_KERNELS_WASM_BASE64, "base64");
    compiled = bytes.length > 0 && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** Bump allocation in the kernels' memory, 16-byte aligned; done once per graph, before any run. */
class Arena {
  end = PAGE;
  take(bytes: number): number {
    const at = this.end;
    this.end += Math.ceil(bytes / 16) * 16;
    return at;
  }
}

type Step = (views: (name: string) => Float32Array) => void;

/** Weights [K][OC] (HWIO flattened) as [OCP/8][K][8] f64, outputs zero-padded to OCP. */
function packGemmWeights(w: Float32Array, K: number, OC: number, OCP: number, into: Float64Array): void {
  for (let b = 0; b < OCP / 8; b++) {
    for (let k = 0; k < K; k++) {
      const at = (b * K + k) * 8;
      for (let j = 0; j < 8; j++) {
        const o = b * 8 + j;
        into[at + j] = o < OC ? w[k * OC + o] : 0;
      }
    }
  }
}

function floatData(graph: Graph, name: string): Float32Array {
  const data = tensorOf(graph, name).data;
  if (!(data instanceof Float32Array)) throw new Error(`internal: tensor ${name} has no float value`);
  return data;
}

/**
 * A runner for `graph` whose values are the float reference's (runFloatAll's) bit for bit, or undefined where the
 * host has no WebAssembly SIMD or the graph's buffers would not fit in one WebAssembly memory (then run the reference).
 */
export function float64Runner(graph: Graph): FloatRunner | undefined {
  const module = kernelsModule();
  if (!module) return undefined;
  const arena = new Arena();
  const activations = [graph.inputs[0], ...graph.nodes.map((n) => n.outputs[0])];
  const region = new Map<string, number>(activations.map((name) => [name, arena.take(sizeOf(tensorOf(graph, name).shape) * 4)]));
  const lanesAt = arena.take(32);
  // Writers run after the memory has its final size: they fill weights and build each node's step.
  const writers: ((k: Kernels, f64: Float64Array) => Step)[] = graph.nodes.map((node) => planNode(graph, node, region, arena));
  if (arena.end > MAX_BYTES) return undefined;
  const instance = new WebAssembly.Instance(module, {});
  const k = instance.exports as unknown as Kernels;
  const pages = Math.ceil(arena.end / PAGE) - k.memory.buffer.byteLength / PAGE;
  try {
    if (pages > 0) k.memory.grow(pages);
  } catch {
    return undefined; // The host would not give that much memory: the reference needs far less at a time.
  }
  const f64 = new Float64Array(k.memory.buffer);
  const steps = writers.map((write) => write(k, f64));
  const viewsByName = new Map(activations.map((name) => [name, new Float32Array(k.memory.buffer, region.get(name)!, sizeOf(tensorOf(graph, name).shape))]));
  const view = (name: string) => viewsByName.get(name)!;
  const lanes = new Float32Array(k.memory.buffer, lanesAt, 8);
  return {
    run(input) {
      view(graph.inputs[0]).set(input);
      for (const step of steps) step(view);
      return viewsByName;
    },
    widenRange(name, range) {
      const v = view(name), n = v.length;
      // Four interleaved scans in SIMD, then the tail: the extreme's value is the same in any order; only which
      // zero comes first depends on it, and firstZero settles that.
      k.minmax_f32(region.get(name)!, n, lanesAt);
      let min = Infinity, max = -Infinity;
      for (let i = 0; i < 4; i++) { if (lanes[i] < min) min = lanes[i]; if (lanes[4 + i] > max) max = lanes[4 + i]; }
      for (let i = n & ~3; i < n; i++) { if (v[i] < min) min = v[i]; if (v[i] > max) max = v[i]; }
      if (min < range.min) range.min = min === 0 ? firstZero(v) : min;
      if (max > range.max) range.max = max === 0 ? firstZero(v) : max;
    },
  };
}

/** Reserves a node's memory and returns what writes its weights and makes its step. */
function planNode(graph: Graph, node: Node, region: Map<string, number>, arena: Arena): (k: Kernels, f64: Float64Array) => Step {
  const shapes = node.inputs.map((n) => tensorOf(graph, n).shape);
  const outShape = tensorOf(graph, node.outputs[0]).shape;
  const x = region.get(node.inputs[0]), y = region.get(node.outputs[0])!;
  const act = ACTIVATION_CODES[attrString(node, "activation", "linear")];
  const bias = node.inputs[2] ? floatData(graph, node.inputs[2]) : undefined;
  const weights = node.inputs[1] && !region.has(node.inputs[1]) ? tensorOf(graph, node.inputs[1]).data : undefined;
  const constantWeights = weights instanceof Float32Array ? weights : undefined;

  if (x !== undefined && constantWeights && act !== undefined && (node.op === "conv2d" || node.op === "dense")
    && (node.op === "dense" || allFinite(constantWeights))) {
    const isConv = node.op === "conv2d";
    const [K, OC] = isConv ? [shapes[1][0] * shapes[1][1] * shapes[1][2], shapes[1][3]] : [shapes[0][1], shapes[1][1]];
    const OCP = Math.ceil(OC / 8) * 8;
    const P = isConv ? convGrid(node, shapes[0], shapes[1]).reduce((a, v) => a * v, 1) : 1;
    const pointwise = isConv && shapes[1][0] === 1 && shapes[1][1] === 1 && convWindow(node, shapes[1]).strides.every((s) => s === 1)
      && convWindow(node, shapes[1]).pads.every((p) => p === 0);
    const w = arena.take(K * OCP * 8), b = arena.take(OCP * 8);
    const pool = fusedPoolOf(node);
    // A fused pool reads the whole activated f64 grid; without one, a chunk's sums are rounded to f32 at once.
    const grid = arena.take((pool ? P : Math.min(P, CHUNK)) * OCP * 8);
    const rows = arena.take(Math.min(P, CHUNK) * K * 8);
    return (k, f64) => {
      packGemmWeights(constantWeights, K, OC, OCP, f64.subarray(w / 8, w / 8 + K * OCP));
      // Conv: sum from +0, then + bias (0 without one), as convGridFloat; dense: the sum starts at the bias.
      for (let o = 0; o < OC; o++) f64[b / 8 + o] = bias ? bias[o] : 0;
      if (!isConv) return () => { k.widen_f32(x, K, rows); k.gemm_f64(rows, 1, K, w, OCP, bias ? b : 0, grid); k.epilogue_f64(grid, 1, OC, OCP, 0, act, 0, 0, y); };
      const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = convWindow(node, shapes[1]);
      const [, H, W, C] = shapes[0];
      const [OH, OW] = convGrid(node, shapes[0], shapes[1]);
      return () => {
        for (let first = 0; first < P; first += CHUNK) {
          const n = Math.min(CHUNK, P - first);
          if (pointwise) k.widen_f32(x + first * K * 4, n * K, rows);
          else k.patches_f64(x, H, W, C, OW, first, n, kh, kw, sh, sw, pt, pl, rows);
          if (!pool) {
            k.gemm_f64(rows, n, K, w, OCP, 0, grid);
            k.epilogue_f64(grid, n, OC, OCP, b, act, 1, 1, y + first * OC * 4);
          } else {
            k.gemm_f64(rows, n, K, w, OCP, 0, grid + first * OCP * 8);
          }
        }
        if (pool) {
          const { kernel: [pkh, pkw], strides: [psh, psw], pads: [ppt, ppl] } = pool.window;
          k.activate_f64(grid, P, OC, OCP, b, act);
          k.pool_f64(grid, OH, OW, OC, OCP, outShape[1], outShape[2], pkh, pkw, psh, psw, ppt, ppl, pool.kind === "max" ? 1 : 0, y);
        }
      };
    };
  }

  if (x !== undefined && constantWeights && act !== undefined && node.op === "depthwise_conv2d" && shapes[1][3] === 1) {
    const [kh, kw, C] = shapes[1];
    const w = arena.take(kh * kw * C * 8), b = bias ? arena.take(C * 8) : 0;
    return (k, f64) => {
      f64.set(constantWeights, w / 8);
      if (bias) f64.set(bias, b / 8);
      const { strides: [sh, sw], pads: [pt, pl] } = convWindow(node, shapes[1]);
      const [, H, W] = shapes[0];
      return () => k.depthwise_f64(x, H, W, C, w, b, y, outShape[1], outShape[2], kh, kw, sh, sw, pt, pl, act);
    };
  }

  // Anything else: the op's own float reference on views of the kernels' memory, its result copied into place.
  const def = opDef(node);
  return () => (view) => {
    const inputs: TensorData[] = node.inputs.map((name) => region.has(name) ? view(name) : floatData(graph, name));
    view(node.outputs[0]).set(def.float(node, inputs as Float32Array[], shapes, outShape));
  };
}

/** Widens `r` by the values of `v`, NaN ignored: the scan the fast runner's widenRange repeats. */
function widenRange(v: Float32Array, r: { min: number; max: number }): void {
  let min = r.min, max = r.max;
  for (let k = 0; k < v.length; k++) { if (v[k] < min) min = v[k]; if (v[k] > max) max = v[k]; }
  r.min = min; r.max = max;
}

/**
 * The fast runner (`fast`, where its kernels apply), else the float reference op by op, whose values stay valid;
 * the fast runner's are overwritten by its next run. Both give the same values bit for bit.
 */
export function floatRunner(graph: Graph, fast = true): FloatRunner {
  const runner = fast ? float64Runner(graph) : undefined;
  if (runner) return runner;
  let last: Activations | undefined;
  return {
    run(x) { last = runFloatAll(graph, x); return last; },
    widenRange(name, range) { widenRange(last!.get(name)!, range); },
  };
}
