// The quantizer: float graph + calibrated ranges → int8 graph (per-channel weights, int32 bias, f32 multipliers).
import { attrString, cloneGraph, tensorOf, type Graph, type Node } from "../ir.js";
import { fileText, KilnError, quoteName } from "../errors.js";
import { opDef } from "../ops/registry.js";
import { SOFTMAX_OUTPUT } from "../ops/softmax.js";
import { meanMultiplier } from "../ops/global-avg-pool.js";
import type { OpDef } from "../ops/op.js";
import type { UnaryOpDef } from "../ops/unary.js";
import { activationBounds, affineFromRange, quantizeValue, quantizeWeightsPerChannel, type AffineQuant } from "./arithmetic.js";
import type { Range } from "./calibrate.js";

export interface InputMapping { pixelScale: number; pixelOffset: number }

/**
 * uint8 pixels map exactly to int8 when the input scale equals the pixel scale and the zero point absorbs the offset:
 * q = pixel − 128 + offset/scale must be an integer shift.
 */
export function inputQuant(mapping: InputMapping, calibrated: Range): AffineQuant & { exact: boolean } {
  const shift = -mapping.pixelOffset / mapping.pixelScale;
  const zeroPoint = -128 + shift;
  if (mapping.pixelScale > 0 && Math.abs(shift - Math.round(shift)) < 1e-6 && zeroPoint >= -128 && zeroPoint <= 127) {
    return { scale: mapping.pixelScale, zeroPoint: Math.round(zeroPoint), exact: true };
  }
  return { ...affineFromRange(calibrated.min, calibrated.max), exact: false };
}

function setQuant(graph: Graph, name: string, q: AffineQuant): void {
  const t = tensorOf(graph, name);
  t.dtype = "int8";
  t.quant = { scale: [q.scale], zeroPoint: [q.zeroPoint] };
}

function quantOf(graph: Graph, name: string): AffineQuant {
  const q = tensorOf(graph, name).quant;
  if (!q) throw new Error(`internal: tensor ${quoteName(name)} is not quantized yet`);
  return { scale: q.scale[0], zeroPoint: q.zeroPoint[0] };
}

function quantizeProducer(graph: Graph, node: Node, out: AffineQuant): void {
  const input = quantOf(graph, node.inputs[0]);
  const w = tensorOf(graph, node.inputs[1]);
  // Depthwise weights are [kh, kw, cin, dm]: output channel ci·dm + m is the last two axes flattened, so the
  // per-channel scales run over cin·dm values (recorded as axis 2, meaning axes 2 and 3 together).
  const depthwise = node.op === "depthwise_conv2d";
  const channels = depthwise ? w.shape[2] * w.shape[3] : w.shape[w.shape.length - 1];
  const { data, scales } = quantizeWeightsPerChannel(w.data as Float32Array, channels);
  const wName = `${node.inputs[1]}#int8`;
  graph.tensors.set(wName, { name: wName, shape: w.shape, dtype: "int8", data, quant: { scale: scales, zeroPoint: scales.map(() => 0), axis: depthwise ? 2 : w.shape.length - 1 } });
  node.inputs[1] = wName;
  if (node.inputs[2]) {
    const b = tensorOf(graph, node.inputs[2]);
    const bName = `${node.inputs[2]}#int32`;
    const bias = Int32Array.from(b.data as Float32Array, (v, c) => Math.round(v / (input.scale * scales[c])));
    graph.tensors.set(bName, { name: bName, shape: b.shape, dtype: "int32", data: bias, quant: { scale: scales.map((s) => input.scale * s), zeroPoint: scales.map(() => 0), axis: 0 } });
    node.inputs[2] = bName;
  }
  const { lo, hi } = activationBounds(attrString(node, "activation", "linear"), out);
  node.int8 = {
    kind: "producer", inputZp: input.zeroPoint, outputZp: out.zeroPoint,
    multipliers: scales.map((s) => Math.fround((input.scale * s) / out.scale)), clampLo: lo, clampHi: hi,
  };
}

/** Ops reading several activations: each input's scale folds into an f32 multiplier towards the output scale. */
function quantizeBinary(node: Node, inputs: AffineQuant[], out: AffineQuant): void {
  if (node.op === "concat") {
    node.int8 = { kind: "concat", inputZps: inputs.map((q) => q.zeroPoint), multipliers: inputs.map((q) => Math.fround(q.scale / out.scale)), outputZp: out.zeroPoint };
  } else if (node.op === "add") {
    node.int8 = {
      kind: "add", aZp: inputs[0].zeroPoint, bZp: inputs[1].zeroPoint, aMultiplier: Math.fround(inputs[0].scale / out.scale),
      bMultiplier: Math.fround(inputs[1].scale / out.scale), outputZp: out.zeroPoint,
    };
  } else if (node.op === "mul") {
    node.int8 = { kind: "mul", aZp: inputs[0].zeroPoint, bZp: inputs[1].zeroPoint, multiplier: Math.fround((inputs[0].scale * inputs[1].scale) / out.scale), outputZp: out.zeroPoint };
  } else {
    throw new KilnError(`node ${quoteName(node.name)} (op ${fileText(node.op)}) cannot be quantized; compile with --quantize none`);
  }
}

/** A 256-entry table: dequantize, apply the float function, requantize. */
function lookupTable(fn: (v: number) => number, input: AffineQuant, out: AffineQuant): number[] {
  return Array.from({ length: 256 }, (_v, i) => quantizeValue(fn((i - 128 - input.zeroPoint) * input.scale), out));
}

export function quantizeGraph(input: Graph, ranges: Map<string, Range>, mapping: InputMapping): Graph {
  const graph = cloneGraph(input);
  const rangeOf = (name: string): Range => {
    const r = ranges.get(name);
    if (!r) throw new Error(`internal: no calibration range for tensor ${quoteName(name)}`);
    if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) {
      // Finite weights can still overflow float32 (or make 0·∞): the float model itself computes garbage there.
      throw new KilnError(`tensor ${quoteName(name)} takes values that are not finite numbers on the calibration images (the float model overflows float32 there); int8 needs a finite range`);
    }
    return r;
  };
  const inQ = inputQuant(mapping, rangeOf(graph.inputs[0]));
  setQuant(graph, graph.inputs[0], inQ);
  graph.meta.inputExact = inQ.exact;
  for (const node of graph.nodes) {
    const def: OpDef = opDef(node);
    if (!def.int8) {
      throw new KilnError(`node ${quoteName(node.name)} (op ${fileText(node.op)}) has no int8 kernel; compile with --quantize none to keep the model in float`);
    }
    const out = node.outputs[0];
    const inQuant = quantOf(graph, node.inputs[0]);
    switch (def.category) {
      case "producer":
        setQuant(graph, out, affineFromRange(rangeOf(out).min, rangeOf(out).max));
        quantizeProducer(graph, node, quantOf(graph, out));
        break;
      case "affine": {
        setQuant(graph, out, affineFromRange(rangeOf(out).min, rangeOf(out).max));
        const o = quantOf(graph, out);
        const scale = tensorOf(graph, node.inputs[1]).data as Float32Array, shift = tensorOf(graph, node.inputs[2]).data as Float32Array;
        node.int8 = {
          kind: "affine", inputZp: inQuant.zeroPoint, outputZp: o.zeroPoint,
          multipliers: Array.from(scale, (s) => Math.fround((inQuant.scale * s) / o.scale)), offsets: Array.from(shift, (t) => Math.fround(t / o.scale)),
        };
        break;
      }
      case "binary":
        setQuant(graph, out, affineFromRange(rangeOf(out).min, rangeOf(out).max));
        quantizeBinary(node, node.inputs.map((i) => quantOf(graph, i)), quantOf(graph, out));
        break;
      case "pool":
      case "layout":
        // Pools and reshapes keep the input's scale: max pool and copies are then exact.
        setQuant(graph, out, inQuant);
        node.int8 = { kind: "same-scale", inputZp: inQuant.zeroPoint };
        break;
      default:
        if (node.op === "softmax") {
          setQuant(graph, out, SOFTMAX_OUTPUT);
          node.int8 = { kind: "softmax", expTable: Array.from({ length: 256 }, (_v, d) => Math.fround(Math.exp(-d * inQuant.scale))) };
        } else if (node.op === "global_avg_pool") {
          // The mean's range is narrower than its input's: a calibrated output scale keeps more resolution.
          setQuant(graph, out, affineFromRange(rangeOf(out).min, rangeOf(out).max));
          const [, h, w] = tensorOf(graph, node.inputs[0]).shape;
          const o = quantOf(graph, out);
          node.int8 = { kind: "mean", inputZp: inQuant.zeroPoint, outputZp: o.zeroPoint, multiplier: meanMultiplier(inQuant.scale, o.scale, h * w) };
        } else if ("fn" in def) {
          setQuant(graph, out, affineFromRange(rangeOf(out).min, rangeOf(out).max));
          const fn = (def as UnaryOpDef).fn;
          node.int8 = { kind: "lut", table: lookupTable((v) => fn(v, node), inQuant, quantOf(graph, out)) };
        } else {
          throw new KilnError(`node ${quoteName(node.name)} (op ${fileText(node.op)}) cannot be quantized; compile with --quantize none`);
        }
    }
  }
  return graph;
}
