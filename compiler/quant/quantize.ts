// The quantizer: float graph + calibrated ranges → int8 graph (per-channel weights, int32 bias, f32 multipliers).
import { attrString, cloneGraph, tensorOf, type Graph, type Node } from "../ir.js";
import { KilnError } from "../errors.js";
import { opDef } from "../ops/registry.js";
import { SOFTMAX_OUTPUT } from "../ops/softmax.js";
import type { OpDef } from "../ops/op.js";
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
  if (!q) throw new Error(`internal: tensor '${name}' is not quantized yet`);
  return { scale: q.scale[0], zeroPoint: q.zeroPoint[0] };
}

function quantizeProducer(graph: Graph, node: Node, out: AffineQuant): void {
  const input = quantOf(graph, node.inputs[0]);
  const w = tensorOf(graph, node.inputs[1]);
  const channels = w.shape[w.shape.length - 1];
  const { data, scales } = quantizeWeightsPerChannel(w.data as Float32Array, channels);
  const wName = `${node.inputs[1]}#int8`;
  graph.tensors.set(wName, { name: wName, shape: w.shape, dtype: "int8", data, quant: { scale: scales, zeroPoint: scales.map(() => 0), axis: w.shape.length - 1 } });
  node.inputs[1] = wName;
  if (node.inputs[2]) {
    const b = tensorOf(graph, node.inputs[2]);
    const bName = `${node.inputs[2]}#int32`;
    const bias = Int32Array.from(b.data as Float32Array, (v, c) => Math.round(v / (input.scale * scales[c])));
    graph.tensors.set(bName, { name: bName, shape: b.shape, dtype: "int32", data: bias, quant: { scale: scales.map((s) => input.scale * s), zeroPoint: scales.map(() => 0), axis: 0 } });
    node.inputs[2] = bName;
  }
  const { lo, hi } = activationBounds(attrString(node, "activation", "linear"), out);
  node.attrs.multipliers = scales.map((s) => Math.fround((input.scale * s) / out.scale));
  node.attrs.input_zp = input.zeroPoint;
  node.attrs.output_zp = out.zeroPoint;
  node.attrs.clamp_lo = lo;
  node.attrs.clamp_hi = hi;
}

/** A 256-entry table: dequantize, apply the float function, requantize. */
function lookupTable(fn: (v: number) => number, input: AffineQuant, out: AffineQuant): number[] {
  return Array.from({ length: 256 }, (_v, i) => quantizeValue(fn((i - 128 - input.zeroPoint) * input.scale), out));
}

export function quantizeGraph(input: Graph, ranges: Map<string, Range>, mapping: InputMapping): Graph {
  const graph = cloneGraph(input);
  const rangeOf = (name: string): Range => {
    const r = ranges.get(name);
    if (!r || !Number.isFinite(r.min)) throw new Error(`internal: no calibration range for tensor '${name}'`);
    return r;
  };
  const inQ = inputQuant(mapping, rangeOf(graph.inputs[0]));
  setQuant(graph, graph.inputs[0], inQ);
  graph.meta.inputExact = inQ.exact;
  for (const node of graph.nodes) {
    const def: OpDef = opDef(node);
    if (!def.int8) {
      throw new KilnError(`node '${node.name}' (op ${node.op}) has no int8 kernel; compile with --quantize none to keep the model in float`);
    }
    const out = node.outputs[0];
    const inQuant = quantOf(graph, node.inputs[0]);
    switch (def.category) {
      case "producer":
        setQuant(graph, out, affineFromRange(rangeOf(out).min, rangeOf(out).max));
        quantizeProducer(graph, node, quantOf(graph, out));
        break;
      case "pool":
      case "layout":
        // Pools and reshapes keep the input's scale: max pool and copies are then exact.
        setQuant(graph, out, inQuant);
        node.attrs.input_zp = inQuant.zeroPoint;
        break;
      default:
        if (node.op === "softmax") {
          setQuant(graph, out, SOFTMAX_OUTPUT);
          node.attrs.exp_table = Array.from({ length: 256 }, (_v, d) => Math.fround(Math.exp(-d * inQuant.scale)));
        } else if ("fn" in def) {
          setQuant(graph, out, affineFromRange(rangeOf(out).min, rangeOf(out).max));
          node.attrs.lut = lookupTable((def as OpDef & { fn(v: number): number }).fn, inQuant, quantOf(graph, out));
        } else {
          throw new KilnError(`node '${node.name}' (op ${node.op}) cannot be quantized; compile with --quantize none`);
        }
    }
  }
  return graph;
}
