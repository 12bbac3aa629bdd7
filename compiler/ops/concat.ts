// concat: joins tensors along the channel axis; in int8 each input is requantized to the output's scale.
import { int8Params, sizeOf } from "../ir.js";
import { shapeError, type OpDef } from "./op.js";
import { requantize } from "../quant/arithmetic.js";
import type { EmitContext } from "../codegen/emit.js";

/** Input i is requantized with inputZps[i] and multipliers[i] to the output's scale. */
export interface ConcatInt8 { kind: "concat"; inputZps: number[]; multipliers: number[]; outputZp: number }
declare module "../ir.js" {
  interface Int8ParamKinds { concat: ConcatInt8 }
}

export const concat: OpDef = {
  op: "concat",
  category: "binary",
  inferShape(node, shapes) {
    const first = shapes[0];
    for (const s of shapes) {
      if (s.length !== first.length || s.slice(0, -1).some((d, i) => d !== first[i])) {
        throw shapeError(node, `inputs [${shapes.map((x) => `[${x}]`).join(", ")}] differ outside the channel axis`);
      }
    }
    return [...first.slice(0, -1), shapes.reduce((a, s) => a + s[s.length - 1], 0)];
  },
  float(_node, inputs, shapes, out) {
    const y = new Float32Array(sizeOf(out));
    interleave(inputs, shapes, out, (v, i, at) => { y[at] = v; void i; });
    return y;
  },
  /** Input i: y = requantize(q − zp_i, fround(s_i / s_out), zp_out). */
  int8(node, inputs, shapes, out) {
    const { inputZps: zps, multipliers: ms, outputZp: zpOut } = int8Params(node, "concat");
    const y = new Int8Array(sizeOf(out));
    interleave(inputs, shapes, out, (v, i, at) => { y[at] = requantize(v - zps[i], ms[i], zpOut, -128, 127); });
    return y;
  },
  quantize(node, ctx) {
    const out = ctx.calibrateOutput(node);
    const inputs = node.inputs.map((i) => ctx.quantOf(i));
    node.int8 = { kind: "concat", inputZps: inputs.map((q) => q.zeroPoint), multipliers: inputs.map((q) => Math.fround(q.scale / out.scale)), outputZp: out.zeroPoint };
  },
  emitFloat: (ctx) => emitPerInput(ctx, (args) => `concat_f32(${args});`),
  emitInt8(ctx) {
    const { inputZps: zps, multipliers: ms, outputZp: zpOut } = int8Params(ctx.node, "concat");
    return emitPerInput(ctx, (args, i) => `concat_i8(${args}, ${zps[i]}, ${ms[i]}, ${zpOut});`);
  },
  macs: () => 0,
};

function interleave(inputs: ArrayLike<number>[], shapes: number[][], out: number[], put: (v: number, input: number, at: number) => void): void {
  const cOut = out[out.length - 1], pixels = sizeOf(out) / cOut;
  let offset = 0;
  inputs.forEach((x, i) => {
    const c = shapes[i][shapes[i].length - 1];
    for (let p = 0; p < pixels; p++) for (let ch = 0; ch < c; ch++) put(x[p * c + ch], i, p * cOut + offset + ch);
    offset += c;
  });
}

/** One kernel call per input: `call` gets the arguments writing input i's channels at its offset in the output's. */
function emitPerInput({ node, inputShapes, outputShape, addr }: EmitContext, call: (args: string, input: number) => string): string {
  const cOut = outputShape[outputShape.length - 1], pixels = sizeOf(outputShape) / cOut;
  let offset = 0;
  return node.inputs.map((name, i) => {
    const c = inputShapes[i][inputShapes[i].length - 1];
    const line = call(`${addr(name)}, ${addr(node.outputs[0])}, ${pixels}, ${c}, ${cOut}, ${offset}`, i);
    offset += c;
    return line;
  }).join("\n  ");
}
