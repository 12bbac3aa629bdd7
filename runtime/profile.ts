// Per-layer profiling of a loaded blob, timed from outside through run_layer(i): no special build needed.
import type { Model } from "./model.js";

export interface ProfileOptions {
  /** Timed runs (default 200) after `warmup` untimed ones (default 20). */
  runs?: number;
  warmup?: number;
  /** Stop timing after this many milliseconds (at least one timed run is made); `runs` then reports how many were. */
  budgetMs?: number;
  /**
   * Back-to-back calls per timed sample (default 1), the sample being their mean: for hosts whose clock is coarse
   * (a browser rounds performance.now() to 100 µs, or 5 µs when cross-origin isolated). Kiln's kernels take the
   * same time whatever the values, so a layer called again (even on an input it overwrote in place) times it fairly.
   */
  repeat?: number;
  /** Called after every run, e.g. to tell a watchdog that the blob still makes progress. */
  onRun?: () => void;
}

export interface TimingStats {
  p50Us: number;
  p90Us: number;
  meanUs: number;
  minUs: number;
}

export interface LayerProfile extends TimingStats {
  index: number;
  name: string;
  /** The ops fused into this layer, e.g. "conv2d+relu+max_pool". */
  ops: string;
  /** Mixed-precision blobs (--keep-float): "float" for a layer kept in float (or a dequantize step), else "int8". */
  precision?: "int8" | "float";
  /** The kernel functions the layer calls, e.g. "conv_wino_i8" ("" for blobs whose manifest does not say). */
  kernel: string;
  outputShape: number[];
  macs: number;
  weightBytes: number;
  /** This layer's share of the summed per-layer p50s, 0..1. */
  share: number;
  /** Multiply-accumulates per second at the p50 time, in billions. */
  gmacPerSecond: number;
  /** Devices with a cycle counter (the board firmware): the layer's p50 in CPU cycles. */
  cycles?: number;
}

export interface ProfileResult {
  model: string;
  target: string;
  quantize: string;
  runs: number;
  warmup: number;
  layers: LayerProfile[];
  /** Sum of the per-layer p50s. */
  layerSumP50Us: number;
  /** The whole model through run(), timed in the same loop. */
  endToEnd: TimingStats;
  /** (layer sum − end to end) / end to end: timer overhead and cache effects, reported rather than hidden. */
  gap: number;
  /** Devices with a cycle counter: the CPU clock the cycles are stated at (µs = cycles / clockHz × 10⁶). */
  clockHz?: number;
  /** Devices with a cycle counter: run()'s p50 in cycles. */
  endToEndCycles?: number;
}

export function stats(samples: number[]): TimingStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50Us: at(0.5), p90Us: at(0.9), meanUs: sorted.reduce((a, b) => a + b, 0) / sorted.length, minUs: sorted[0] };
}

/** A fixed pseudo-random input, so that profiles are repeatable and no layer sees only zeros. */
function sampleInput(size: number): Uint8Array {
  let s = 12345;
  return Uint8Array.from({ length: size }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24));
}

export function profileModel(model: Model, options: ProfileOptions = {}): ProfileResult {
  const runs = Math.max(1, Math.floor(options.runs ?? 200));
  const warmup = Math.max(0, Math.floor(options.warmup ?? 20));
  const repeat = Math.max(1, Math.floor(options.repeat ?? 1));
  const { exports, info } = model;
  // Model.load checked that layer_count() equals the manifest's layer table.
  const count = info.layers.length;
  model.setInput(sampleInput(model.inputSize));
  const perLayer: number[][] = Array.from({ length: count }, () => []);
  const whole: number[] = [];
  const deadline = performance.now() + (options.budgetMs ?? Infinity);
  let timed = 0, warmed = 0;
  for (let r = 0; r < warmup + runs; r++) {
    if (performance.now() > deadline) {
      if (timed > 0) break;
      r = Math.max(r, warmup); // out of time while warming up: one timed run still gives a profile
    }
    // Interleaved: the end-to-end run and the layer-by-layer run see the same machine state.
    const t0 = performance.now();
    for (let k = 0; k < repeat; k++) exports.run();
    const t1 = performance.now();
    if (r >= warmup) whole.push(((t1 - t0) * 1000) / repeat);
    for (let i = 0; i < count; i++) {
      const a = performance.now();
      for (let k = 0; k < repeat; k++) exports.run_layer(i);
      const b = performance.now();
      if (r >= warmup) perLayer[i].push(((b - a) * 1000) / repeat);
    }
    if (r >= warmup) timed++;
    else warmed++;
    options.onRun?.();
  }
  const layerStats = perLayer.map(stats);
  const layerSumP50Us = layerStats.reduce((a, s) => a + s.p50Us, 0);
  const layers: LayerProfile[] = layerStats.map((s, i) => {
    const layer = info.layers[i];
    return {
      index: i, name: layer?.name ?? `layer ${i}`, ops: (layer?.fused ?? []).join("+"), kernel: (layer?.kernels ?? []).join("+"), outputShape: layer?.outputShape ?? [],
      macs: layer?.macs ?? 0, weightBytes: layer?.weightBytes ?? 0, ...(layer?.precision ? { precision: layer.precision } : {}), ...s,
      share: layerSumP50Us > 0 ? s.p50Us / layerSumP50Us : 0,
      gmacPerSecond: s.p50Us > 0 ? (layer?.macs ?? 0) / s.p50Us / 1000 : 0,
    };
  });
  const endToEnd = stats(whole);
  return {
    model: info.model, target: info.target, quantize: info.quantize, runs: timed, warmup: warmed, layers, layerSumP50Us, endToEnd,
    gap: endToEnd.p50Us > 0 ? (layerSumP50Us - endToEnd.p50Us) / endToEnd.p50Us : 0,
  };
}
