// Measuring: interleaved timing of several engines (median, p90), and the machine's int8 SIMD peak from a dot_i16x8_s microkernel.
import { performance } from "node:perf_hooks";
import type { Engine } from "./peers.js";

export interface TimingOptions {
  /** Timed runs per engine. */
  runs: number;
  /** Untimed runs per engine before timing starts (in the same rotation, so every engine is warm). */
  warmup: number;
  /** Consecutive timed runs of one engine before the next engine's turn. */
  block: number;
}

export interface EngineTiming {
  name: string;
  samplesUs: number[];
  medianUs: number;
  p90Us: number;
  meanUs: number;
  minUs: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The median of unsorted values (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

export function summarize(name: string, samplesUs: number[]): EngineTiming {
  const sorted = [...samplesUs].sort((a, b) => a - b);
  return {
    name, samplesUs,
    medianUs: quantile(sorted, 0.5), p90Us: quantile(sorted, 0.9),
    meanUs: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), minUs: sorted[0] ?? NaN,
  };
}

/** Runs one engine once; awaits only when the engine is asynchronous (ONNX Runtime), so sync calls stay sync. */
async function once(e: Engine): Promise<number> {
  e.prepare?.();
  const t0 = performance.now();
  const r = e.run();
  if (r) await r;
  return (performance.now() - t0) * 1000;
}

/**
 * Every engine gets `warmup` untimed runs, then rounds: in each round each engine (in an order rotated every round,
 * so no engine always follows the same one) does one untimed run to refill its caches after the others, then
 * `block` timed runs. Slow drift of the machine (clock, other load) thus hits every engine alike.
 */
export async function timeInterleaved(engines: Engine[], options: TimingOptions, progress?: (done: number, total: number) => void): Promise<EngineTiming[]> {
  const samples = engines.map(() => [] as number[]);
  for (let w = 0; w < options.warmup; w++) {
    for (const e of engines) { await e.activate?.(); await once(e); }
  }
  const rounds = Math.ceil(options.runs / options.block);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < engines.length; k++) {
      const i = (k + round) % engines.length;
      const e = engines[i];
      await e.activate?.();
      await once(e);
      const n = Math.min(options.block, options.runs - samples[i].length);
      for (let r = 0; r < n; r++) samples[i].push(await once(e));
    }
    progress?.(round + 1, rounds);
  }
  return engines.map((e, i) => summarize(e.name, samples[i]));
}

// ---- The int8 SIMD MAC peak: a register-resident i32x4.dot_i16x8_s microkernel, compiled with asc in this process.
export interface PeakResult {
  /** Best rate over the kernel variants, in billions of multiply-accumulates per second. */
  gmacPerSecond: number;
  /** Each variant: independent accumulators and its best rate. */
  variants: { accumulators: number; gmacPerSecond: number }[];
  /** asc + Binaryen compile time of the microkernel module. */
  compileMs: number;
}

const UNROLL = 2;
const VARIANTS = [4, 6, 8];

/**
 * One kernel with `n` independent accumulators: acc[k] += dot(x[k % 2], w[k / 2]) — every product distinct, so nothing
 * can be shared or hoisted — and the two activation vectors change every step so no product is loop-invariant.
 * A dot_i16x8_s is 8 MACs (8 i16 products summed pairwise into 4 i32 lanes); the add into the accumulator is the
 * same instruction pair every int8 kernel needs, so this is the realistic ceiling for widened-int8 MACs.
 */
function kernelSource(n: number): string {
  const lines: string[] = [];
  const nw = n / 2;
  lines.push(`export function peak${n}(iters: i32, seed: i32): i32 {`);
  lines.push(`  let x0 = i16x8.splat(<i16>seed);`, `  let x1 = i16x8.splat(<i16>(seed ^ 0x55));`);
  for (let j = 0; j < nw; j++) lines.push(`  const w${j} = i16x8.splat(<i16>(seed * ${j + 3} + ${j}));`);
  lines.push(`  const one = i16x8.splat(1);`);
  for (let k = 0; k < n; k++) lines.push(`  let a${k} = i32x4.splat(0);`);
  lines.push(`  for (let i = 0; i < iters; i++) {`);
  for (let u = 0; u < UNROLL; u++) {
    for (let k = 0; k < n; k++) lines.push(`    a${k} = i32x4.add(a${k}, i32x4.dot_i16x8_s(x${k % 2}, w${Math.floor(k / 2)}));`);
    lines.push(`    x0 = i16x8.add(x0, one);`, `    x1 = i16x8.add(x1, one);`);
  }
  lines.push(`  }`);
  const sum = Array.from({ length: n }, (_, k) => `a${k}`).reduce((acc, a) => `i32x4.add(${acc}, ${a})`);
  lines.push(`  const s = ${sum};`);
  lines.push(`  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3);`);
  lines.push(`}`);
  return lines.join("\n");
}

export function peakSource(): string {
  return VARIANTS.map(kernelSource).join("\n\n") + "\n";
}

/** Compiles the microkernels with asc (in memory, -O3, SIMD), as compiler/build.ts drives it for blobs. */
export async function compilePeakModule(): Promise<{ wasm: Uint8Array; ms: number }> {
  const t0 = performance.now();
  const { default: asc } = await import("assemblyscript/asc");
  const source = peakSource();
  let binary: Uint8Array | undefined;
  let errors = "";
  const { error } = await asc.main([
    "peak.ts", "--outFile", "peak.wasm", "--runtime", "stub", "--noAssert", "--use", "abort=",
    "--optimizeLevel", "3", "--shrinkLevel", "0", "--enable", "simd",
  ], {
    readFile: (name: string) => (name.replace(/^\.\//, "") === "peak.ts" ? source : null),
    writeFile(name: string, contents: Uint8Array | string) {
      if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
    },
    listFiles: () => [],
    stdout: { write: () => true } as never,
    stderr: { write: (s: string | Uint8Array) => { errors += String(s); return true; } } as never,
  });
  if (error || !binary) throw new Error(`peak microkernel did not compile:\n${errors || error?.message}`);
  return { wasm: binary, ms: performance.now() - t0 };
}

type PeakFn = (iters: number, seed: number) => number;

/** Best-of-`trials` rate of one kernel after a warm-up long enough for V8 to tier up to TurboFan. */
function measure(fn: PeakFn, n: number, trials: number): number {
  const macsPerIter = n * 8 * UNROLL;
  let iters = 1 << 14;
  // Warm up and size the trial so that one call takes ~20 ms.
  for (let i = 0; i < 20; i++) fn(iters, i);
  for (;;) {
    const t0 = performance.now();
    fn(iters, 1);
    const ms = performance.now() - t0;
    if (ms > 20 || iters > 1 << 28) break;
    iters *= 2;
  }
  let best = 0;
  let sink = 0;
  for (let t = 0; t < trials; t++) {
    const t0 = performance.now();
    sink ^= fn(iters, t + 2);
    const s = (performance.now() - t0) / 1000;
    best = Math.max(best, (iters * macsPerIter) / s / 1e9);
  }
  if (sink === 0.5) console.log(sink); // keeps the results observable
  return best;
}

export async function measurePeak(trials = 7): Promise<PeakResult> {
  const { wasm, ms } = await compilePeakModule();
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(new Uint8Array(wasm)), {});
  const variants = VARIANTS.map((n) => ({ accumulators: n, gmacPerSecond: measure(instance.exports[`peak${n}`] as PeakFn, n, trials) }));
  return { gmacPerSecond: Math.max(...variants.map((v) => v.gmacPerSecond)), variants, compileMs: ms };
}
