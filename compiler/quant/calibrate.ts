// Calibration: runs the float model (the reference's values, fast) over representative inputs and picks each tensor's range.
import { sizeOf, tensorOf, type Graph } from "../ir.js";
import type { Activations } from "../interpreter.js";
import { floatRunner } from "./float64-runner.js";

export type CalibrationMethod = "minmax" | "percentile" | "mse";

export interface Range { min: number; max: number }

const BINS = 2048;
const PERCENTILE = 0.9999;

/** Histogram of |values| per tensor side, used by the percentile and MSE methods. */
interface Histogram { min: number; max: number; lo: Float64Array; hi: Float64Array }

function chooseBound(counts: Float64Array, extent: number, method: CalibrationMethod): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0 || extent === 0) return extent;
  const binWidth = extent / BINS;
  if (method === "percentile") {
    let seen = 0;
    for (let i = 0; i < BINS; i++) {
      seen += counts[i];
      if (seen >= PERCENTILE * total) return (i + 1) * binWidth;
    }
    return extent;
  }
  // MSE: the clip bound minimising clipping error plus rounding error (uniform within a step).
  let best = extent, bestErr = Infinity;
  for (let b = 16; b <= BINS; b += 8) {
    const bound = b * binWidth, step = bound / 255;
    let err = 0;
    for (let i = 0; i < BINS; i++) {
      const centre = (i + 0.5) * binWidth;
      err += centre > bound ? counts[i] * (centre - bound) ** 2 : counts[i] * step * step / 12;
    }
    if (err < bestErr) { bestErr = err; best = bound; }
  }
  return best;
}

/** Which float evaluator calibration runs: both give the same values bit for bit (tests/calibration-fast.test.ts). */
export type CalibrationEvaluator = "fast" | "reference";

export interface CalibrateOptions {
  /** "fast" (the default): float64-runner's kernels where they apply; "reference": runFloatAll, op by op. */
  evaluator?: CalibrationEvaluator;
  /** Called after each image, with the images done and the total (twice the images when histograms re-run them). */
  progress?: (done: number, total: number) => void;
  /** Histogram methods keep all images' activations up to this many bytes, else run the images twice (default 256 MiB). */
  keepRunsBytes?: number;
}

/** Histogram methods keep every image's activations for their second pass when they fit in this; else they re-run. */
const KEEP_RUNS_BYTES = 256 * 2 ** 20;

/** Ranges of every activation tensor (input included) over `inputs`; constants are not calibrated. */
export function calibrate(graph: Graph, inputs: Float32Array[], method: CalibrationMethod = "minmax",
  options: CalibrateOptions = {}): Map<string, Range> {
  const { evaluator = "fast", progress, keepRunsBytes = KEEP_RUNS_BYTES } = options;
  const names = [graph.inputs[0], ...graph.nodes.flatMap((n) => n.outputs)];
  const ranges = new Map<string, Range>(names.map((n) => [n, { min: Infinity, max: -Infinity }]));
  const runner = floatRunner(graph, evaluator === "fast");
  const perImage = names.reduce((bytes, n) => bytes + sizeOf(tensorOf(graph, n).shape) * 4, 0);
  // Min/max need each run only once; the histogram methods need the final extents first, then every value again.
  const keepRuns = method !== "minmax" && perImage * inputs.length <= keepRunsBytes;
  const steps = method !== "minmax" && !keepRuns ? 2 * inputs.length : inputs.length;
  const runs: Activations[] = [];
  inputs.forEach((x, i) => {
    const values = runner.run(x);
    for (const name of names) runner.widenRange(name, ranges.get(name)!);
    if (keepRuns) runs.push(new Map([...values].map(([name, v]) => [name, v.slice()])));
    progress?.(i + 1, steps);
  });
  if (method === "minmax") return ranges;
  const histograms = new Map<string, Histogram>();
  for (const name of names) {
    if (name === graph.inputs[0]) continue;
    const r = ranges.get(name)!;
    histograms.set(name, { min: r.min, max: r.max, lo: new Float64Array(BINS), hi: new Float64Array(BINS) });
  }
  // Counts are integers (exact in f64), so adding them image by image gives the same histogram as any other order.
  const count = (values: Activations) => {
    for (const [name, h] of histograms) addToHistogram(h, values.get(name)!);
  };
  if (keepRuns) runs.forEach(count);
  else inputs.forEach((x, i) => { count(runner.run(x)); progress?.(inputs.length + i + 1, steps); });
  for (const [name, h] of histograms) {
    const extentLo = Math.max(0, -h.min), extentHi = Math.max(0, h.max);
    ranges.set(name, { min: -chooseBound(h.lo, extentLo, method), max: chooseBound(h.hi, extentHi, method) });
  }
  return ranges;
}

/** Bins |v| of one tensor's values on its side of 0, over the extents the min/max pass found. */
function addToHistogram(h: Histogram, v: Float32Array): void {
  const extentLo = Math.max(0, -h.min), extentHi = Math.max(0, h.max);
  for (let i = 0; i < v.length; i++) {
    if (v[i] >= 0) { if (extentHi > 0) h.hi[Math.min(BINS - 1, Math.floor((v[i] / extentHi) * BINS))]++; }
    else if (extentLo > 0) h.lo[Math.min(BINS - 1, Math.floor((-v[i] / extentLo) * BINS))]++;
  }
}

/** Floats for the float reference from uint8 pixels with the model's pixel mapping. */
export function pixelsToInputs(graph: Graph, pixels: Uint8Array, count: number, scale: number, offset: number): Float32Array[] {
  const size = sizeOf(tensorOf(graph, graph.inputs[0]).shape);
  return Array.from({ length: count }, (_v, i) => {
    const x = new Float32Array(size);
    for (let k = 0; k < size; k++) x[k] = pixels[i * size + k] * scale + offset;
    return x;
  });
}
