// depthwise_conv2d: NHWC depthwise convolution; output channel o = ci·dm + m reads input channel ci only.
import { attrString, int8Params, type Node, type TensorData, type Window2D } from "../ir.js";
import { ACTIVATION_CODES, applyActivation, shapeError, type OpDef } from "./op.js";
import { outputSize } from "./geometry.js";
import { convWindow } from "./conv2d.js";
import { requantize } from "../quant/arithmetic.js";
import { quantizeProducer } from "../quant/producer.js";
import { convLikeInt8Codegen } from "../codegen/conv-variant.js";

/**
 * Weights are Keras' [kh, kw, cin, dm]. Flattened, the last two axes are exactly the output channel order
 * (ci·dm + m), so tap (ky, kx) of output channel o sits at (ky·kw + kx)·OC + o, as in an HWIO conv.
 */
export function depthwiseGrid(node: Node, x: number[], w: number[]): [number, number] {
  return outputSize(x[1], x[2], convWindow(node, w));
}

/** Σ over in-bounds taps of (x − xOffset)·w for output (oy, ox, o); out-of-bounds taps are skipped (real 0). */
function depthwiseAt(x: ArrayLike<number>, w: ArrayLike<number>, xs: number[], ws: number[], win: Window2D,
  oy: number, ox: number, o: number, xOffset: number): number {
  const [, h, wd, c] = xs;
  const [kh, kw, , dm] = ws;
  const { strides: [sh, sw], pads: [pt, pl] } = win;
  const oc = c * dm, ci = Math.floor(o / dm);
  let acc = 0;
  for (let ky = 0; ky < kh; ky++) {
    const iy = oy * sh + ky - pt;
    if (iy < 0 || iy >= h) continue;
    for (let kx = 0; kx < kw; kx++) {
      const ix = ox * sw + kx - pl;
      if (ix < 0 || ix >= wd) continue;
      acc += (x[(iy * wd + ix) * c + ci] - xOffset) * w[(ky * kw + kx) * oc + o];
    }
  }
  return acc;
}

export const depthwiseConv2d: OpDef = {
  op: "depthwise_conv2d",
  category: "producer",
  inferShape(node, [x, w, b]) {
    if (x.length !== 4) throw shapeError(node, `input must be NHWC (rank 4), got [${x}]`);
    if (w.length !== 4 || w[2] !== x[3]) {
      throw shapeError(node, `depthwise weights [${w}] do not match ${x[3]} input channels (expected [kh, kw, ${x[3]}, depth_multiplier])`);
    }
    const oc = w[2] * w[3];
    if (b && (b.length !== 1 || b[0] !== oc)) throw shapeError(node, `bias [${b}] does not match ${oc} output channels`);
    if (node.attrs.pool_kind !== undefined) throw shapeError(node, "a fused pool is not supported on depthwise_conv2d");
    const [oh, ow] = depthwiseGrid(node, x, w);
    if (oh < 1 || ow < 1) throw shapeError(node, `kernel ${w[0]}×${w[1]} does not fit input ${x[1]}×${x[2]}`);
    return [1, oh, ow, oc];
  },
  float(node, [x, w, b], [xs, ws], [, oh, ow, oc]) {
    const act = attrString(node, "activation", "linear");
    const win = convWindow(node, ws);
    const y = new Float32Array(oh * ow * oc);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < oc; o++) {
          y[(oy * ow + ox) * oc + o] = applyActivation(depthwiseAt(x, w, xs, ws, win, oy, ox, o, 0) + (b ? b[o] : 0), act);
        }
      }
    }
    return y;
  },
  /** Integer Σ(q − zp_in)·w + bias per output channel, then one f32 requantization with that channel's multiplier. */
  int8(node, [x, w, b], [xs, ws], [, oh, ow, oc]) {
    const { multipliers: m, inputZp: zpIn, outputZp: zpOut, clampLo: lo, clampHi: hi } = int8Params(node, "producer");
    const bias = b as TensorData | undefined;
    const win = convWindow(node, ws);
    const y = new Int8Array(oh * ow * oc);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < oc; o++) {
          const acc = depthwiseAt(x, w, xs, ws, win, oy, ox, o, zpIn) + (bias ? bias[o] : 0);
          y[(oy * ow + ox) * oc + o] = requantize(acc, m[o], zpOut, lo, hi);
        }
      }
    }
    return y;
  },
  /** Output channel ci·dm + m spans the weights' last two axes: per-channel scales over axes 2 and 3. */
  quantize: (node, ctx) => quantizeProducer(node, ctx, 2),
  ...convLikeInt8Codegen,
  emitFloat({ node, inputShapes: [xs, ws], outputShape: [, oh, ow], addr }) {
    const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = convWindow(node, ws);
    const bias = node.inputs[2] ? addr(node.inputs[2]) : 0;
    const act = ACTIVATION_CODES[attrString(node, "activation", "linear")];
    return `depthwise_f32(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${bias}, ${addr(node.outputs[0])}, ` +
      `${xs[1]}, ${xs[2]}, ${xs[3]}, ${oh}, ${ow}, ${ws[3]}, ${kh}, ${kw}, ${sh}, ${sw}, ${pt}, ${pl}, ${act});`;
  },
  macs(node, [xs, ws]) {
    const [oh, ow] = depthwiseGrid(node, xs, ws);
    return oh * ow * ws[2] * ws[3] * ws[0] * ws[1];
  },
};
