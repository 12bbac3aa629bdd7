// The quantization error report: an int8 graph against the float graph it was quantized from, layer by layer, on held-out images.
//
// measureQuantError(float, quantized, heldOut, options?) → QuantReport (runtime/manifest.ts)
//   float      the fused float graph the quantize pass received (its node and tensor names are the int8 graph's)
//   quantized  the quantize pass's result; nodes kept in float (float32 output tensors) are compared directly, and
//              nodes that exist only here (quantize/dequantize steps of a mixed graph) are skipped in the layer list
//   heldOut    float inputs exactly as the float graph takes them (pixelsToInputs of images NOT used for calibration)
//   options    pixels: the same images as uint8, so the int8 input is quantized exactly as the runtime quantizes
//              pixels (without them, each float is quantized as the runtime quantizes a float input)
// Cost: one float run, one int8 reference run and one more int8 reference run of every layer alone, per image.
import { sizeOf, tensorOf, type Graph, type Node, type QuantParams, type TensorData } from "../ir.js";
import { runFloatAll } from "../interpreter.js";
import { quantizePixels, runInt8All } from "../int8-interpreter.js";
import { opDef } from "../ops/registry.js";
import { quoteName } from "../errors.js";
import { float64Runner } from "./float64-runner.js";
import type { QuantLayerReport, QuantReport } from "../../runtime/manifest.js";

export type { QuantLayerReport, QuantReport };

/**
 * Below this, a layer's own SQNR earns a warning. 20 dB is noise at a tenth of the signal's RMS. An int8 tensor whose
 * values fill its range measures about 6.02·8 + 1.76 ≈ 50 dB, minus its crest factor: typical int8 layers land at
 * 25–45 dB (mnist-cnn's all do); under 20 dB most of the 256 levels are unused or the layer clips.
 */
export const LOW_SQNR_DB = 20;
/** Top-1 agreement with float below this earns a warning (issue 18's bar). */
export const LOW_AGREEMENT = 0.98;
/** An SQNR where the float signal is zero but the error is not; a JSON-safe floor for "all noise". */
export const FLOOR_DB = -99;

export interface MeasureOptions {
  /** The held-out images' uint8 pixels (NHWC, one after another) and the pixel mapping the float inputs came from. */
  pixels?: Uint8Array;
  pixelScale?: number;
  pixelOffset?: number;
  /** Own-SQNR warning threshold in dB (default LOW_SQNR_DB). */
  lowSqnrDb?: number;
}

/** Signal and noise energy of one comparison, summed over images (f64 sums of f64 squares). */
class Energy {
  signal = 0;
  noise = 0;
  max = 0;
  add(f: ArrayLike<number>, dq: ArrayLike<number>, channels?: Energy[]): void {
    const c = channels?.length ?? 0;
    for (let k = 0; k < f.length; k++) {
      const e = f[k] - dq[k], s = f[k] * f[k], n = e * e;
      this.signal += s; this.noise += n;
      if (Math.abs(e) > this.max) this.max = Math.abs(e);
      if (c > 0) { const ch = channels![k % c]; ch.signal += s; ch.noise += n; }
    }
  }
  db(): number | null {
    return sqnrDb(this.signal, this.noise);
  }
}

/** 10·log10(signal / noise); null when there is no noise (exact), FLOOR_DB when there is noise but no signal. */
export function sqnrDb(signal: number, noise: number): number | null {
  if (noise === 0) return null;
  if (signal === 0) return FLOOR_DB;
  return Math.max(FLOOR_DB, 10 * Math.log10(signal / noise));
}

/** The median channel's SQNR, over channels whose float signal is not all zero (dead channels have none to lose). */
function medianChannelDb(channels: Energy[]): number | null {
  const live = channels.filter((ch) => ch.signal > 0).map((ch) => ch.db() ?? Infinity).sort((a, b) => a - b);
  if (live.length === 0) return null;
  const m = live.length % 2 ? live[(live.length - 1) / 2] : (live[live.length / 2 - 1] + live[live.length / 2]) / 2;
  return Number.isFinite(m) ? m : null;
}

/** (q − zp)·scale for an int8 tensor; a float tensor (a layer kept in float) as it is. */
function dequantized(values: TensorData, quant: QuantParams | undefined): ArrayLike<number> {
  if (!(values instanceof Int8Array)) return values as Float32Array;
  if (!quant) throw new Error("internal: an int8 tensor without quantization");
  const scale = quant.scale[0], zp = quant.zeroPoint[0];
  return Float64Array.from(values, (q) => (q - zp) * scale);
}

/** Floats to int8 exactly as the runtime quantizes a float input (runtime/model.ts setInput). */
function quantizeLikeRuntime(values: Float32Array, quant: QuantParams): Int8Array {
  const scale = quant.scale[0], zp = quant.zeroPoint[0];
  return Int8Array.from(values, (v) => { const q = Math.round(v / scale) + zp; return q < -128 ? -128 : q > 127 ? 127 : q; });
}

/** Index of the first largest value (the runtime's predict picks the first of equals too). */
function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** The float value each quantized-graph tensor stands for: a quantize/dequantize step's output is its input's. */
function floatNames(float: Graph, quantized: Graph): Map<string, string> {
  const floatNodes = new Set(float.nodes.map((n) => n.name));
  const alias = new Map<string, string>();
  for (const node of quantized.nodes) {
    if (floatNodes.has(node.name)) continue;
    const source = node.inputs.find((name) => !tensorOf(quantized, name).data);
    if (source !== undefined) alias.set(node.outputs[0], alias.get(source) ?? source);
  }
  return alias;
}

/** Nodes of the quantized graph that the float graph has under the same name with the same output tensor. */
function comparedNodes(float: Graph, quantized: Graph): Node[] {
  const floatByName = new Map(float.nodes.map((n) => [n.name, n]));
  return quantized.nodes.filter((n) => floatByName.get(n.name)?.outputs[0] === n.outputs[0]);
}

/** Runs `node` alone in the quantized graph on the float graph's values of its inputs (quantized where it takes int8). */
function runAlone(quantized: Graph, node: Node, floatOf: (name: string) => Float32Array): TensorData {
  const def = opDef(node);
  const shapes = node.inputs.map((n) => tensorOf(quantized, n).shape);
  const out = tensorOf(quantized, node.outputs[0]);
  const inputs = node.inputs.map((name): TensorData => {
    const t = tensorOf(quantized, name);
    if (t.data) return t.data;
    return t.dtype === "int8" ? quantizeLikeRuntime(floatOf(name), t.quant!) : floatOf(name);
  });
  if (out.dtype === "float32") return def.float(node, inputs as Float32Array[], shapes, out.shape);
  if (!def.int8) throw new Error(`internal: node ${quoteName(node.name)} has no int8 reference`);
  return def.int8(node, inputs, shapes, out.shape);
}

/** The report over `heldOut` (see the top of this file); warnings name low-SQNR layers and low agreement. */
export function measureQuantError(float: Graph, quantized: Graph, heldOut: Float32Array[], options: MeasureOptions = {}): QuantReport {
  const steps = measureSteps(float, quantized, heldOut, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same report, yielding to the event loop after each image: a compile measures it while its builder process
 * compiles the blob, and the build request must reach that process meanwhile.
 */
export async function measureQuantErrorAsync(float: Graph, quantized: Graph, heldOut: Float32Array[], options: MeasureOptions = {}): Promise<QuantReport> {
  const steps = measureSteps(float, quantized, heldOut, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The measurement, one held-out image per step. */
function* measureSteps(float: Graph, quantized: Graph, heldOut: Float32Array[], options: MeasureOptions): Generator<void, QuantReport> {
  const started = performance.now();
  const nodes = comparedNodes(float, quantized);
  const alias = floatNames(float, quantized);
  const energy = nodes.map(() => ({ cumulative: new Energy(), own: new Energy(), channels: [] as Energy[], passThrough: true }));
  nodes.forEach((node, i) => {
    const shape = tensorOf(quantized, node.outputs[0]).shape;
    energy[i].channels = Array.from({ length: shape[shape.length - 1] ?? 1 }, () => new Energy());
  });
  const runner = float64Runner(float);
  const inputTensor = tensorOf(quantized, quantized.inputs[0]);
  const size = sizeOf(inputTensor.shape);
  let agree = 0;
  for (const [image, x] of heldOut.entries()) {
    const floats = runner ? runner.run(x) : runFloatAll(float, x);
    const floatOf = (name: string): Float32Array => {
      const v = floats.get(alias.get(name) ?? name);
      if (!v) throw new Error(`internal: no float value for tensor ${quoteName(name)}`);
      return v;
    };
    let input: TensorData = x;
    if (inputTensor.dtype === "int8") {
      const { pixels, pixelScale, pixelOffset } = options;
      input = pixels && pixelScale !== undefined && pixelOffset !== undefined
        ? quantizePixels(quantized, pixels.subarray(image * size, (image + 1) * size), pixelScale, pixelOffset)
        : quantizeLikeRuntime(x, inputTensor.quant!);
    }
    // A mixed graph's interpreter returns float values for layers kept in float: both kinds are TensorData.
    const ints = runInt8All(quantized, input as Int8Array) as Map<string, TensorData>;
    nodes.forEach((node, i) => {
      const out = tensorOf(quantized, node.outputs[0]);
      const f = floatOf(node.outputs[0]);
      energy[i].cumulative.add(f, dequantized(ints.get(node.outputs[0])!, out.quant));
      const alone = runAlone(quantized, node, floatOf);
      if (energy[i].passThrough && !(alone instanceof Int8Array && sameValues(alone, quantizeLikeRuntime(f, out.quant!)))) energy[i].passThrough = false;
      energy[i].own.add(f, dequantized(alone, out.quant), energy[i].channels);
    });
    const outName = quantized.outputs[0];
    if (argmax(floatOf(outName)) === argmax(dequantized(ints.get(outName)!, tensorOf(quantized, outName).quant))) agree++;
    yield;
  }
  const layers: QuantLayerReport[] = nodes.map((node, i) => {
    const e = energy[i], quant = tensorOf(quantized, node.outputs[0]).quant;
    return {
      name: node.name, op: (node.fused ?? [node.op]).join("+"), sqnrDb: e.cumulative.db(), ownSqnrDb: e.own.db(),
      channelSqnrDb: medianChannelDb(e.channels), maxAbsError: e.cumulative.max, scale: quant ? quant.scale[0] : null,
      ...(e.passThrough && heldOut.length > 0 ? { passThrough: true as const } : {}),
    };
  });
  const worst = rankWorst(layers);
  const agreement = heldOut.length > 0 ? agree / heldOut.length : 1;
  const report: QuantReport = { images: heldOut.length, agreement, layers, worst, warnings: [], seconds: 0 };
  report.warnings = reportWarnings(report, options.lowSqnrDb ?? LOW_SQNR_DB);
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/**
 * What ranks a layer: its own error, whole-tensor or in its median channel, whichever is worse (exact = +∞). A
 * pass-through layer (reshape, max pool: its int8 output is its float output quantized, exactly) adds no error of its
 * own; what it shows is its input's rounding, already counted at the layer that made it, so it ranks last (+∞).
 */
export function layerScore(layer: QuantLayerReport): number {
  if (layer.passThrough) return Infinity;
  return Math.min(layer.ownSqnrDb ?? Infinity, layer.channelSqnrDb ?? Infinity);
}

function sameValues(a: Int8Array, b: Int8Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** Layer names, worst first; equal scores keep graph order. */
export function rankWorst(layers: QuantLayerReport[]): string[] {
  return layers.map((l, i) => ({ l, i, s: layerScore(l) })).sort((a, b) => a.s - b.s || a.i - b.i).map(({ l }) => l.name);
}

function reportWarnings(report: QuantReport, lowDb: number): string[] {
  const warnings: string[] = [];
  for (const name of report.worst) {
    const layer = report.layers.find((l) => l.name === name)!;
    const score = layerScore(layer);
    if (!(score < lowDb)) break;
    const which = layer.channelSqnrDb !== null && layer.channelSqnrDb < (layer.ownSqnrDb ?? Infinity)
      ? `its median output channel's SQNR is ${score.toFixed(1)} dB (the whole tensor's ${fmtDb(layer.ownSqnrDb)}): the per-tensor scale crushes most channels`
      : `its own SQNR is ${score.toFixed(1)} dB`;
    warnings.push(`layer ${quoteName(name)} (${layer.op}): int8 hurts: ${which} (below ${lowDb} dB)`);
  }
  if (report.images > 0 && report.agreement < LOW_AGREEMENT) {
    warnings.push(`int8 agrees with float on the top-1 class of ${(100 * report.agreement).toFixed(1)} % of ${report.images} held-out images (below ${100 * LOW_AGREEMENT} %)`);
  }
  return warnings;
}

/** A dB figure as the report prints it: "exact" for no error. */
export function fmtDb(db: number | null): string {
  return db === null ? "exact" : `${db.toFixed(1)} dB`;
}
