// conv2d: NHWC convolution with HWIO weights, optional bias and a fused linear/relu/relu6 activation.
import { attrInts, attrString, type Node } from "../ir.js";
import { ACTIVATION_CODES, applyActivation, shapeError, type OpDef } from "./op.js";
import { outputSize, type Window2D } from "./geometry.js";

export function convWindow(node: Node, weightShape: number[]): Window2D {
  return {
    kernel: [weightShape[0], weightShape[1]],
    strides: attrInts(node, "strides", [1, 1]) as [number, number],
    pads: attrInts(node, "pads", [0, 0, 0, 0]) as [number, number, number, number],
  };
}

export const conv2d: OpDef = {
  op: "conv2d",
  category: "producer",
  inferShape(node, [x, w, b]) {
    if (x.length !== 4) throw shapeError(node, `input must be NHWC (rank 4), got [${x}]`);
    if (w.length !== 4 || w[2] !== x[3]) throw shapeError(node, `weights [${w}] do not match ${x[3]} input channels (expected [kh, kw, ${x[3]}, out])`);
    if (b && (b.length !== 1 || b[0] !== w[3])) throw shapeError(node, `bias [${b}] does not match ${w[3]} output channels`);
    const [oh, ow] = outputSize(x[1], x[2], convWindow(node, w));
    if (oh < 1 || ow < 1) throw shapeError(node, `kernel ${w[0]}×${w[1]} does not fit input ${x[1]}×${x[2]}`);
    return [1, oh, ow, w[3]];
  },
  float(node, [x, w, b], [xs, ws], [, oh, ow, oc]) {
    const [, h, wd, c] = xs;
    const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = convWindow(node, ws);
    const act = attrString(node, "activation", "linear");
    const y = new Float32Array(oh * ow * oc);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < oc; o++) {
          let acc = b ? b[o] : 0;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh + ky - pt;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw + kx - pl;
              if (ix < 0 || ix >= wd) continue;
              const xb = (iy * wd + ix) * c, wb = (ky * kw + kx) * c * oc + o;
              for (let i = 0; i < c; i++) acc += x[xb + i] * w[wb + i * oc];
            }
          }
          y[(oy * ow + ox) * oc + o] = applyActivation(acc, act);
        }
      }
    }
    return y;
  },
  emitFloat({ node, inputShapes: [xs, ws], outputShape: [, oh, ow, oc], addr }) {
    const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = convWindow(node, ws);
    const bias = node.inputs[2] ? addr(node.inputs[2]) : 0;
    const act = ACTIVATION_CODES[attrString(node, "activation", "linear")];
    return `conv2d_f32(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${bias}, ${addr(node.outputs[0])}, ` +
      `${xs[1]}, ${xs[2]}, ${xs[3]}, ${oh}, ${ow}, ${oc}, ${kh}, ${kw}, ${sh}, ${sw}, ${pt}, ${pl}, ${act});`;
  },
  macs(_node, [, ws], [, oh, ow, oc]) {
    return oh * ow * oc * ws[0] * ws[1] * ws[2];
  },
};
