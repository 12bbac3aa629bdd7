// conv2d: NHWC convolution with HWIO weights, bias, a fused activation and optionally a fused max/avg pool.
import { attrInts, attrNumber, attrString, type Node, type TensorData } from "../ir.js";
import { ACTIVATION_CODES, applyActivation, shapeError, type OpDef } from "./op.js";
import { outputSize, type Window2D } from "./geometry.js";
import { forEachPoolWindow, fusedPoolOf, pooledSize } from "./fused-pool.js";
import { requantize } from "../quant/arithmetic.js";
import { emitConvInt8, packConvInt8, padScratchBytes } from "../codegen/conv-int8.js";
import { usesWinograd, winoPersistentBytes } from "../codegen/conv-wino-int8.js";

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
  float(node, [x, w, b], [xs, ws], [, , pw, oc]) {
    const win = convWindow(node, ws);
    const [oh, ow] = convGrid(node, xs, ws);
    const act = attrString(node, "activation", "linear");
    const pool = fusedPoolOf(node);
    const y = new Float32Array(oc * (pool ? pooledSize(pool, oh, ow).reduce((a, v) => a * v, 1) : oh * ow));
    forEachPoolWindow(pool, oh, ow, (py, px, positions) => {
      for (let o = 0; o < oc; o++) {
        let r = pool?.kind === "max" ? -Infinity : 0;
        for (const [cy, cx] of positions) {
          const v = applyActivation(convAt(x, w, xs, ws, win, cy, cx, o, 0) + (b ? b[o] : 0), act);
          r = pool?.kind === "max" ? Math.max(r, v) : r + v;
        }
        y[(py * pw + px) * oc + o] = pool?.kind === "avg" ? r / positions.length : r;
      }
    });
    return y;
  },
  /** Max over int32 accumulators, or the sum of (relu'd) accumulators scaled by 1/count, then one requantization. */
  int8(node, [x, w, b], [xs, ws], [, , pw, oc]) {
    const win = convWindow(node, ws);
    const [oh, ow] = convGrid(node, xs, ws);
    const pool = fusedPoolOf(node);
    const m = attrInts(node, "multipliers");
    const zpIn = attrNumber(node, "input_zp"), zpOut = attrNumber(node, "output_zp");
    const lo = attrNumber(node, "clamp_lo"), hi = attrNumber(node, "clamp_hi");
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
  packInt8: (node, graph) => packConvInt8(node, graph),
  scratchInt8: (node, graph) => padScratchBytes(node, graph),
  persistentInt8: (node, graph) => (usesWinograd(node, graph) ? winoPersistentBytes(node, graph) : 0),
  emitInt8: (ctx) => emitConvInt8(ctx),
  emitFloat({ node, inputShapes: [xs, ws], outputShape: [, oh, ow, oc], addr }) {
    if (fusedPoolOf(node)) throw new Error(`internal: node '${node.name}' has a fused pool; the float blob does not fuse pools`);
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
