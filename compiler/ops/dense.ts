// dense: fully connected layer y = x·W + b over a [1, N] input with [N, M] weights and a fused activation.
import { attrString, int8Params } from "../ir.js";
import { ACTIVATION_CODES, applyActivation, shapeError, type OpDef } from "./op.js";
import { allFinite, dotRows, Gathered } from "./float-dot.js";
import { requantize } from "../quant/arithmetic.js";
import { quantizeProducer } from "../quant/producer.js";
import { convLikeInt8Codegen } from "../codegen/conv-variant.js";

export const dense: OpDef = {
  op: "dense",
  category: "producer",
  inferShape(node, [x, w, b]) {
    if (x.length !== 2) throw shapeError(node, `input must be [1, features] (flatten first), got [${x}]`);
    if (w.length !== 2 || w[0] !== x[1]) throw shapeError(node, `weights [${w}] do not match ${x[1]} input features`);
    if (b && (b.length !== 1 || b[0] !== w[1])) throw shapeError(node, `bias [${b}] does not match ${w[1]} units`);
    return [1, w[1]];
  },
  /** y[j] = act(b[j] + Σ_i x[i]·w[i, j]) in f64, summed in i order (float-dot.ts keeps that order bit for bit). */
  float(node, [x, w, b], [xs, ws]) {
    const n = xs[1], m = ws[1];
    const act = attrString(node, "activation", "linear");
    // A zero input changes no sum unless one starts at −0 (a −0 bias) or a weight is not finite (0·∞ is NaN).
    const inputs = new Gathered(n, allFinite(w) && !(b && b.some((v) => Object.is(v, -0))));
    inputs.gather(x, 0, n, 0, m);
    const acc = new Float64Array(m);
    dotRows(inputs, w, m, b, acc, 0);
    const y = new Float32Array(m);
    for (let j = 0; j < m; j++) y[j] = applyActivation(acc[j], act);
    return y;
  },
  int8(node, [x, w, b], [xs, ws]) {
    const n = xs[1], m = ws[1];
    const { multipliers: mult, inputZp: zpIn, outputZp: zpOut, clampLo: lo, clampHi: hi } = int8Params(node, "producer");
    const y = new Int8Array(m);
    for (let j = 0; j < m; j++) {
      let acc = b ? b[j] : 0;
      for (let i = 0; i < n; i++) acc += (x[i] - zpIn) * w[i * m + j];
      y[j] = requantize(acc, mult[j], zpOut, lo, hi);
    }
    return y;
  },
  quantize: (node, ctx) => quantizeProducer(node, ctx),
  ...convLikeInt8Codegen,
  emitFloat({ node, inputShapes: [xs, ws], addr }) {
    const bias = node.inputs[2] ? addr(node.inputs[2]) : 0;
    const act = ACTIVATION_CODES[attrString(node, "activation", "linear")];
    return `dense_f32(${addr(node.inputs[0])}, ${addr(node.inputs[1])}, ${bias}, ${addr(node.outputs[0])}, ${xs[1]}, ${ws[1]}, ${act});`;
  },
  macs(_node, [xs, ws]) {
    return xs[1] * ws[1];
  },
};
