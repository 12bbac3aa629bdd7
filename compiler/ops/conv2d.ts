// conv2d: NHWC convolution with HWIO weights, bias, a fused activation and optionally a fused max/avg pool.
import { attrInts, attrString, fusedPoolOf, int8Params, type FusedPool, type Node, type TensorData, type Window2D } from "../ir.js";
import { ACTIVATION_CODES, applyActivation, shapeError, type OpDef } from "./op.js";
import { outputSize } from "./geometry.js";
import { forEachPoolWindow, pooledSize } from "./fused-pool.js";
import { requantize } from "../quant/arithmetic.js";
import { quantizeProducer } from "../quant/producer.js";
import { allFinite, dotRows, Gathered } from "./float-dot.js";
import { convLikeInt8Codegen } from "../codegen/conv-variant.js";
import { quoteName } from "../errors.js";

export function convWindow(node: Node, weightShape: number[]): Window2D {
  return {
    kernel: [weightShape[0], weightShape[1]],
    strides: attrInts(node, "strides", [1, 1]) as [number, number],
    pads: attrInts(node, "pads", [0, 0, 0, 0]) as [number, number, number, number],
  };
}

/** The conv's own output grid, before any fused pool. */
export function convGrid(node: Node, x: number[], w: number[]): [number, number] {
  return outputSize(x[1], x[2], convWindow(node, w));
}

/** Calls `dot(oy, ox, o, ky, kx)`-style accumulation through `accumulate` for every in-bounds tap. */
function convAt(x: ArrayLike<number>, w: ArrayLike<number>, xs: number[], ws: number[], win: Window2D,
  oy: number, ox: number, o: number, xOffset: number): number {
  const [, h, wd, c] = xs;
  const [kh, kw, , oc] = ws;
  let acc = 0;
  for (let ky = 0; ky < kh; ky++) {
    const iy = oy * win.strides[0] + ky - win.pads[0];
    if (iy < 0 || iy >= h) continue;
    for (let kx = 0; kx < kw; kx++) {
      const ix = ox * win.strides[1] + kx - win.pads[1];
      if (ix < 0 || ix >= wd) continue;
      const xb = (iy * wd + ix) * c, wb = (ky * kw + kx) * c * oc + o;
      for (let i = 0; i < c; i++) acc += (x[xb + i] - xOffset) * w[wb + i * oc];
    }
  }
  return acc;
}

/**
 * activation(Σ x·w + bias) at every conv position, in f64 (unrounded, as the pool reads it): convAt's sums, bit
 * for bit (see float-dot.ts), but with the taps of a position gathered once for all output channels.
 */
function convGridFloat(x: Float32Array, w: Float32Array, b: Float32Array | undefined, xs: number[],
  ws: number[], win: Window2D, oh: number, ow: number, act: string): Float64Array {
  const [, h, wd, c] = xs;
  const [kh, kw, , oc] = ws;
  const { strides: [sh, sw], pads: [pt, pl] } = win;
  const grid = new Float64Array(oh * ow * oc);
  // Every sum starts at +0, so only a non-finite weight (0·∞ is NaN) forces zero inputs to be multiplied out.
  const taps = new Gathered(kh * kw * c, allFinite(w));
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      taps.count = 0;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh + ky - pt;
        if (iy < 0 || iy >= h) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * sw + kx - pl;
          if (ix >= 0 && ix < wd) taps.gather(x, (iy * wd + ix) * c, c, (ky * kw + kx) * c * oc, oc);
        }
      }
      const at = (oy * ow + ox) * oc;
      dotRows(taps, w, oc, undefined, grid, at);
      for (let o = 0; o < oc; o++) grid[at + o] = applyActivation(grid[at + o] + (b ? b[o] : 0), act);
    }
  }
  return grid;
}

/**
 * The fused pool over the f64 conv grid: the max, or the sum / count, of the window's in-bounds positions in
 * row-major order — forEachPoolWindow's walk, written out because a callback per window costs twice the pooling.
 */
function poolFloat(pool: FusedPool, grid: Float64Array, oh: number, ow: number, oc: number, y: Float32Array): void {
  const [ph, pw] = pooledSize(pool, oh, ow);
  const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = pool.window;
  const max = pool.kind === "max";
  const acc = new Float64Array(oc);
  for (let py = 0; py < ph; py++) {
    const y0 = Math.max(0, py * sh - pt), y1 = Math.min(oh, py * sh - pt + kh);
    for (let px = 0; px < pw; px++) {
      const x0 = Math.max(0, px * sw - pl), x1 = Math.min(ow, px * sw - pl + kw);
      acc.fill(max ? -Infinity : 0);
      for (let cy = y0; cy < y1; cy++) {
        for (let cx = x0; cx < x1; cx++) {
          const at = (cy * ow + cx) * oc;
          if (max) for (let o = 0; o < oc; o++) acc[o] = Math.max(acc[o], grid[at + o]);
          else for (let o = 0; o < oc; o++) acc[o] += grid[at + o];
        }
      }
      const out = (py * pw + px) * oc, count = (y1 - y0) * (x1 - x0);
      for (let o = 0; o < oc; o++) y[out + o] = max ? acc[o] : acc[o] / count;
    }
  }
}

export const conv2d: OpDef = {
  op: "conv2d",
  category: "producer",
  inferShape(node, [x, w, b]) {
    if (x.length !== 4) throw shapeError(node, `input must be NHWC (rank 4), got [${x}]`);
    if (w.length !== 4 || w[2] !== x[3]) throw shapeError(node, `weights [${w}] do not match ${x[3]} input channels (expected [kh, kw, ${x[3]}, out])`);
    if (b && (b.length !== 1 || b[0] !== w[3])) throw shapeError(node, `bias [${b}] does not match ${w[3]} output channels`);
    const [oh, ow] = convGrid(node, x, w);
    if (oh < 1 || ow < 1) throw shapeError(node, `kernel ${w[0]}×${w[1]} does not fit input ${x[1]}×${x[2]}`);
    const [ph, pw] = pooledSize(fusedPoolOf(node), oh, ow);
    if (ph < 1 || pw < 1) throw shapeError(node, `fused pool window does not fit ${oh}×${ow}`);
    return [1, ph, pw, w[3]];
  },
  /** Same sums as convAt, in the same order; the float path is hot (calibration runs it per image). */
  float(node, [x, w, b], [xs, ws], [, , , oc]) {
    const win = convWindow(node, ws);
    const [oh, ow] = convGrid(node, xs, ws);
    const act = attrString(node, "activation", "linear");
    const pool = fusedPoolOf(node);
    const grid = convGridFloat(x, w, b, xs, ws, win, oh, ow, act);
    const y = new Float32Array(oc * (pool ? pooledSize(pool, oh, ow).reduce((a, v) => a * v, 1) : oh * ow));
    // 0 + v, as the pool-less window sum always did: it turns a −0 into +0.
    if (!pool) for (let i = 0; i < y.length; i++) y[i] = 0 + grid[i];
    else poolFloat(pool, grid, oh, ow, oc, y);
    return y;
  },
  /** Max over int32 accumulators, or the sum of (relu'd) accumulators scaled by 1/count, then one requantization. */
  int8(node, [x, w, b], [xs, ws], [, , pw, oc]) {
    const win = convWindow(node, ws);
    const [oh, ow] = convGrid(node, xs, ws);
    const pool = fusedPoolOf(node);
    const { multipliers: m, inputZp: zpIn, outputZp: zpOut, clampLo: lo, clampHi: hi } = int8Params(node, "producer");
    const reluFirst = attrString(node, "activation", "linear") === "relu";
    const bias = b as TensorData | undefined;
    const y = new Int8Array(oc * (pool ? pooledSize(pool, oh, ow).reduce((a, v) => a * v, 1) : oh * ow));
    forEachPoolWindow(pool, oh, ow, (py, px, positions) => {
      for (let o = 0; o < oc; o++) {
        let r = pool?.kind === "max" ? -Infinity : 0;
        for (const [cy, cx] of positions) {
          const acc = convAt(x, w, xs, ws, win, cy, cx, o, zpIn) + (bias ? bias[o] : 0);
          if (pool?.kind === "max") r = Math.max(r, acc);
          else r += pool && reluFirst ? Math.max(acc, 0) : acc;
        }
        const scale = pool?.kind === "avg" ? Math.fround(m[o] / positions.length) : m[o];
        y[(py * pw + px) * oc + o] = requantize(r, scale, zpOut, lo, hi);
      }
    });
    return y;
  },
  quantize: (node, ctx) => quantizeProducer(node, ctx),
  ...convLikeInt8Codegen,
  emitFloat({ node, inputShapes: [xs, ws], outputShape: [, oh, ow, oc], addr }) {
    if (fusedPoolOf(node)) throw new Error(`internal: node ${quoteName(node.name)} has a fused pool; the float blob does not fuse pools`);
    const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = convWindow(node, ws);
    const bias = node.inputs[2] ? addr(node.inputs[2]) : 0;
    const act = ACTIVATION_CODES[attrString(node, "activation", "linear")];
    return `conv2d_f32(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${bias}, ${addr(node.outputs[0])}, ` +
      `${xs[1]}, ${xs[2]}, ${xs[3]}, ${oh}, ${ow}, ${oc}, ${kh}, ${kw}, ${sh}, ${sw}, ${pt}, ${pl}, ${act});`;
  },
  macs(node, [xs, ws]) {
    const [oh, ow] = convGrid(node, xs, ws);
    return oh * ow * ws[3] * ws[0] * ws[1] * ws[2];
  },
};
