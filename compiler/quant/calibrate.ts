// Calibration: runs the float reference over representative inputs and picks each tensor's real range.
import { sizeOf, tensorOf, type Graph } from "../ir.js";
import { runFloatAll, type Activations } from "../interpreter.js";

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

/** Ranges of every activation tensor (input included) over `inputs`; constants are not calibrated. */
export function calibrate(graph: Graph, inputs: Float32Array[], method: CalibrationMethod = "minmax",
  progress?: (done: number, total: number) => void): Map<string, Range> {
  const names = [graph.inputs[0], ...graph.nodes.flatMap((n) => n.outputs)];
  const ranges = new Map<string, Range>(names.map((n) => [n, { min: Infinity, max: -Infinity }]));
  // Min/max need each run only once; the histogram methods keep every run for their second pass.
  const runs: Activations[] = [];
  inputs.forEach((x, i) => {
    const values = runFloatAll(graph, x);
    for (const name of names) {
      const v = values.get(name)!, r = ranges.get(name)!;
      let min = r.min, max = r.max;
      for (let k = 0; k < v.length; k++) { if (v[k] < min) min = v[k]; if (v[k] > max) max = v[k]; }
      r.min = min; r.max = max;
    }
    if (method !== "minmax") runs.push(values);
    progress?.(i + 1, inputs.length);
  });
  if (method === "minmax") return ranges;
  for (const name of names) {
    if (name === graph.inputs[0]) continue;
    const r = ranges.get(name)!;
    const h: Histogram = { min: r.min, max: r.max, lo: new Float64Array(BINS), hi: new Float64Array(BINS) };
    const extentLo = Math.max(0, -r.min), extentHi = Math.max(0, r.max);
    for (const values of runs) {
      const v = values.get(name)!;
      for (let i = 0; i < v.length; i++) {
        if (v[i] >= 0) { if (extentHi > 0) h.hi[Math.min(BINS - 1, Math.floor((v[i] / extentHi) * BINS))]++; }
        else if (extentLo > 0) h.lo[Math.min(BINS - 1, Math.floor((-v[i] / extentLo) * BINS))]++;
      }
    }
    ranges.set(name, { min: -chooseBound(h.lo, extentLo, method), max: chooseBound(h.hi, extentHi, method) });
  }
  return ranges;
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
