// The quantization error report: an int8 graph against the float graph it was quantized from, layer by layer, on held-out images.
//
// measureQuantError(float, quantized, heldOut, options?) → QuantReport (runtime/manifest.ts)
//   float      the fused float graph the quantize pass received (its node and tensor names are the int8 graph's)
//   quantized  the quantize pass's result; nodes kept in float (float32 output tensors) are compared directly, and
//              nodes that exist only here (quantize/dequantize steps of a mixed graph) are skipped in the layer list
//   heldOut    float inputs exactly as the float graph takes them (pixelsToInputs of images NOT used for calibration)
//   options    pixels: the same images as uint8, so the int8 input is quantized exactly as the runtime quantizes
//              pixels (without them, each float is quantized as the runtime quantizes a float input); int8: where the
//              int8 values come from (int8-values.ts: the JS reference by default, or the built blob, bit for bit equal)
// Cost per image: one float run, one int8 run end to end and one more int8 run of every layer alone.
import { sizeOf, tensorOf, type Graph, type Node, type QuantParams, type TensorData } from "../ir.js";
import { quantizePixels } from "../int8-interpreter.js";
import { quoteName } from "../errors.js";
import { floatRunner } from "./float64-runner.js";
import { referenceValues, type Int8Values } from "./int8-values.js";
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
  /** Where the int8 values come from (default: the JS reference interpreter). */
  int8?: Int8Values;
}

/** Signal and noise energy of one comparison, summed over images (f64 sums of f64 squares), optionally per channel. */
class Energy {
  signal = 0;
  noise = 0;
  max = 0;
  /** Per output channel (the tensor's last axis), when asked for. */
  readonly channelSignal: Float64Array;
  readonly channelNoise: Float64Array;
  constructor(channels = 0) {
    this.channelSignal = new Float64Array(channels);
    this.channelNoise = new Float64Array(channels);
  }
  /** Float values `f` against `q`: int8 values dequantized, (q − zp)·scale, or float values (a layer kept in float) as they are. */
  add(f: Float32Array, q: TensorData, quant: QuantParams | undefined): void {
    const int8 = q instanceof Int8Array;
    if (int8 && !quant) throw new Error("internal: an int8 tensor without quantization");
    const scale = int8 ? quant!.scale[0] : 1, zp = int8 ? quant!.zeroPoint[0] : 0;
    const c = this.channelSignal.length, cs = this.channelSignal, cn = this.channelNoise;
    let signal = this.signal, noise = this.noise, max = this.max;
    for (let k = 0, ch = 0; k < f.length; k++) {
      const e = f[k] - (int8 ? (q[k] - zp) * scale : q[k]), s = f[k] * f[k], n = e * e;
      signal += s; noise += n;
      if (Math.abs(e) > max) max = Math.abs(e);
      if (c > 0) { cs[ch] += s; cn[ch] += n; if (++ch === c) ch = 0; }
    }
    this.signal = signal; this.noise = noise; this.max = max;
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
function medianChannelDb(energy: Energy): number | null {
  const live: number[] = [];
  energy.channelSignal.forEach((signal, ch) => { if (signal > 0) live.push(sqnrDb(signal, energy.channelNoise[ch]) ?? Infinity); });
  live.sort((a, b) => a - b);
  if (live.length === 0) return null;
  const m = live.length % 2 ? live[(live.length - 1) / 2] : (live[live.length / 2 - 1] + live[live.length / 2]) / 2;
  return Number.isFinite(m) ? m : null;
}

/** (q − zp)·scale for an int8 tensor; a float tensor (a layer kept in float) as it is. */
function dequantized(values: TensorData, quant: QuantParams | undefined): ArrayLike<number> {
  if (!(values instanceof Int8Array)) return values as Float32Array;
  if (!quant) throw new Error("internal: an int8 tensor without quantization");
  const scale = quant.scale[0], zp = quant.zeroPoint[0];
  const out = new Float64Array(values.length);
  for (let k = 0; k < values.length; k++) out[k] = (values[k] - zp) * scale;
  return out;
}

/** Floats to int8 exactly as the runtime quantizes a float input (runtime/model.ts setInput). */
function quantizeLikeRuntime(values: Float32Array, quant: QuantParams): Int8Array {
  const scale = quant.scale[0], zp = quant.zeroPoint[0];
  const out = new Int8Array(values.length);
  for (let k = 0; k < values.length; k++) {
    const q = Math.round(values[k] / scale) + zp;
    out[k] = q < -128 ? -128 : q > 127 ? 127 : q;
  }
  return out;
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

/** The float values the report reads: every compared node's output and non-constant inputs (as floatNames maps them). */
function floatsRead(quantized: Graph, nodes: Node[], alias: Map<string, string>): string[] {
  const names = new Set<string>();
  for (const node of nodes) {
    for (const name of [node.outputs[0], ...node.inputs]) if (!tensorOf(quantized, name).data) names.add(alias.get(name) ?? name);
  }
  return [...names];
}

/** The float graph's values on one input at a time (views the next run overwrites): the fast f64 kernels where they run. */
function floatRun(float: Graph): (x: Float32Array) => Map<string, Float32Array> {
  const runner = floatRunner(float);
  return (x) => runner.run(x);
}

/** The report over `heldOut` (see the top of this file); warnings name low-SQNR layers and low agreement. */
export function measureQuantError(float: Graph, quantized: Graph, heldOut: Float32Array[], options: MeasureOptions = {}): QuantReport {
  const run = floatRun(float);
  return measure(float, quantized, heldOut, options, options.int8 ?? referenceValues(quantized), (_i, x) => run(x));
}

/**
 * Float values of held-out images computed while the int8 values are not ready yet (a compile's blob is building), at
 * most this many bytes of them: all of a small model's images (mnist-cnn: 29 KB each), a few of a big one's
 * (MobileNetV2-224: 28 MB each).
 */
export const EARLY_FLOAT_BYTES = 128 << 20;

/**
 * The same report with int8 values that come later (`int8`: the blob being built). Meanwhile it computes the float side
 * of the first images, yielding to the event loop after each (the build request must reach the builder); its
 * `seconds` count the time spent measuring, not waiting.
 */
export async function measureQuantErrorAsync(float: Graph, quantized: Graph, heldOut: Float32Array[], options: MeasureOptions, int8: Promise<Int8Values>): Promise<QuantReport> {
  let ready = false;
  int8.then(() => { ready = true; }, () => { ready = true; });
  const started = performance.now();
  const run = floatRun(float);
  const wanted = floatsRead(quantized, comparedNodes(float, quantized), floatNames(float, quantized));
  const early: Map<string, Float32Array>[] = [];
  let bytes = 0;
  while (!ready && early.length < heldOut.length && bytes < EARLY_FLOAT_BYTES) {
    const values = run(heldOut[early.length]);
    early.push(new Map(wanted.map((name) => [name, values.get(name)!.slice()])));
    bytes += wanted.reduce((sum, name) => sum + early.at(-1)!.get(name)!.byteLength, 0);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const busy = performance.now() - started;
  const values = await int8;
  const report = measure(float, quantized, heldOut, options, values, (i, x) => {
    const known = early[i];
    if (!known) return run(x);
    delete early[i];
    return known;
  });
  return { ...report, seconds: report.seconds! + busy / 1000 };
}

/** The measurement; `floatsOf(i, x)` gives the float graph's values on held-out image i (input x). */
function measure(float: Graph, quantized: Graph, heldOut: Float32Array[], options: MeasureOptions, int8: Int8Values,
  floatsOf: (image: number, x: Float32Array) => Map<string, Float32Array>): QuantReport {
  const started = performance.now();
  const nodes = comparedNodes(float, quantized);
  const alias = floatNames(float, quantized);
  const energy = nodes.map((node) => {
    const shape = tensorOf(quantized, node.outputs[0]).shape;
    return { cumulative: new Energy(), own: new Energy(shape[shape.length - 1] ?? 1), passThrough: true };
  });
  const inputTensor = tensorOf(quantized, quantized.inputs[0]);
  const size = sizeOf(inputTensor.shape);
  const outName = quantized.outputs[0];
  const compared = [...new Set([...nodes.map((node) => node.outputs[0]), outName])];
  let agree = 0;
  for (const [image, x] of heldOut.entries()) {
    const floats = floatsOf(image, x);
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
    const ints = int8.endToEnd(input, compared);
    // Alone, a layer takes the float model's values at its inputs, quantized where it takes int8.
    const inputOf = (name: string): TensorData => {
      const t = tensorOf(quantized, name);
      return t.dtype === "int8" ? quantizeLikeRuntime(floatOf(name), t.quant!) : floatOf(name);
    };
    nodes.forEach((node, i) => {
      const out = tensorOf(quantized, node.outputs[0]);
      const f = floatOf(node.outputs[0]);
      energy[i].cumulative.add(f, ints.get(node.outputs[0])!, out.quant);
      const alone = int8.alone(node, inputOf);
      if (energy[i].passThrough && !(alone instanceof Int8Array && sameValues(alone, quantizeLikeRuntime(f, out.quant!)))) energy[i].passThrough = false;
      energy[i].own.add(f, alone, out.quant);
    });
    if (argmax(floatOf(outName)) === argmax(dequantized(ints.get(outName)!, tensorOf(quantized, outName).quant))) agree++;
  }
  const layers: QuantLayerReport[] = nodes.map((node, i) => {
    const e = energy[i], quant = tensorOf(quantized, node.outputs[0]).quant;
    return {
      name: node.name, op: (node.fused ?? [node.op]).join("+"), sqnrDb: e.cumulative.db(), ownSqnrDb: e.own.db(),
      channelSqnrDb: medianChannelDb(e.own), maxAbsError: e.cumulative.max, scale: quant ? quant.scale[0] : null,
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
