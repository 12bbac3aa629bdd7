// The benchmark's result object (what --json prints) and its aligned text tables, ratios and target checks.
import { compileTimingText, type CompileTiming } from "./compile-time.js";
import { formatBytes } from "../io.js";
import { renderTable } from "../table.js";
import type { BlobFacts } from "./kiln-blobs.js";
import type { LayerTypeSummary } from "./layer-types.js";
import type { EngineTiming, PeakResult, TimingOptions } from "./timing.js";

export interface EngineResult extends Omit<EngineTiming, "samplesUs"> {
  /** Every timed run, µs (in --json only). */
  samplesUs?: number[];
  kind: "kiln" | "peer";
  detail: string;
  gmacPerSecond: number;
  /** For Kiln's int8 blobs: MAC rate as a share of the measured int8 dot peak, 0..1. */
  shareOfPeak?: number;
  /** Kiln int8 simd median ÷ this engine's median (< 1: Kiln is faster). */
  kilnOverThis: number;
}

/** A comparison of two outputs; `limit` null means reported for information only. */
export interface Check { what: string; maxAbsDiff: number; limit: number | null; ok: boolean }

export interface ModelResult {
  model: string;
  weights: string;
  input: number[];
  macs: number;
  engines: EngineResult[];
  blobs: BlobFacts[];
  /** Kiln's per-layer profile of each int8 blob, summed per layer type. */
  layerTypes: LayerTypeSummary[];
  /** The runs this model got (big models get a share of --runs). */
  timing: TimingOptions;
  cliCompileMs: number;
  /** The compile time's median and split (bin/bench/compile-time.ts); absent in results saved before it. */
  cliCompile?: CompileTiming;
  onnx: { nodes: number; bytes: number };
  checks: Check[];
  /** Largest |output| of the tfjs cpu reference, to read the check tolerances against. */
  referenceMaxAbs: number;
}

export interface BenchResult {
  machine: { cpu: string; cores: number; node: string; v8: string; os: string; memoryGiB: number; loadAverage: { start: number; end: number } };
  options: { runs: number; warmup: number; block: number; quick: boolean };
  peak: PeakResult;
  models: ModelResult[];
  targets: { what: string; value: string; ok: boolean }[];
  seconds: number;
}

const us = (v: number): string => (v >= 1000 ? v.toFixed(0) : v >= 100 ? v.toFixed(1) : v.toFixed(2));
const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(2));

/** "12.3× faster" / "1.40× slower" from Kiln's point of view. */
export function speedup(kilnOverThis: number): string {
  if (!Number.isFinite(kilnOverThis) || kilnOverThis <= 0) return "-";
  return kilnOverThis <= 1 ? `${(1 / kilnOverThis).toFixed(2)}× faster` : `${kilnOverThis.toFixed(2)}× slower`;
}

export function modelTable(m: ModelResult): string[] {
  const lines = [`${m.model}  (${m.weights}; input ${m.input.join("×")}; ${(m.macs / 1e6).toFixed(2)} M MACs; batch 1, one thread; ${m.timing.runs} timed runs after ${m.timing.warmup} warm-up)`];
  const rows = m.engines.map((e) => [
    e.name, us(e.medianUs), us(e.p90Us), e.gmacPerSecond.toFixed(2), e.shareOfPeak === undefined ? "" : `${(100 * e.shareOfPeak).toFixed(1)}%`,
    e.name === "kiln int8 simd" ? "1" : e.kilnOverThis.toFixed(3), e.name === "kiln int8 simd" ? "" : speedup(e.kilnOverThis),
  ]);
  lines.push(...renderTable([
    { header: "engine" }, { header: "median µs", align: "right" }, { header: "p90 µs", align: "right" }, { header: "GMAC/s", align: "right" },
    { header: "% peak", align: "right" }, { header: "kiln÷this", align: "right" }, { header: "kiln int8 simd is" },
  ], rows).map((l) => `  ${l}`));
  lines.push("");
  const blobRows = m.blobs.map((b) => [b.kind, formatBytes(b.sizes.total), formatBytes(b.sizes.weights), formatBytes(b.sizes.code),
    formatBytes(b.sizes.total - b.sizes.weights), formatBytes(b.arenaBytes), ms(b.compileMs), ms(b.instantiateMs), ms(b.firstInferenceMs)]);
  lines.push(...renderTable([
    { header: "blob" }, { header: "size", align: "right" }, { header: "weights", align: "right" }, { header: "code", align: "right" },
    { header: "size−weights", align: "right" }, { header: "arena", align: "right" }, { header: "compile ms", align: "right" },
    { header: "instantiate ms", align: "right" }, { header: "+1st run ms", align: "right" },
  ], blobRows).map((l) => `  ${l}`));
  lines.push(`  kiln compile (CLI, int8 simd): ${m.cliCompile ? compileTimingText(m.cliCompile) : `${ms(m.cliCompileMs)} ms`}; ONNX export: ${m.onnx.nodes} nodes, ${formatBytes(m.onnx.bytes)}`);
  lines.push(`  checks on one input (reference: tfjs cpu, outputs up to ±${m.referenceMaxAbs.toPrecision(3)}):`);
  for (const c of m.checks) lines.push(`    ${c.ok ? "ok  " : "FAIL"} ${c.what}: max |diff| ${c.maxAbsDiff.toExponential(2)}${c.limit === null ? "" : ` (limit ${c.limit})`}`);
  for (const t of m.layerTypes) lines.push(...layerTypeTable(t));
  return lines;
}

/** One blob's per-layer-type profile: where the time goes, and how close each kind of layer runs to the dot peak. */
export function layerTypeTable(t: LayerTypeSummary): string[] {
  const lines = [`  per layer type, kiln ${t.blob} (kiln profile, ${t.runs} runs; layers sum ${us(t.layerSumUs)} µs, run() ${us(t.endToEndUs)} µs):`];
  const rows = t.rows.map((r) => [r.type, String(r.layers), r.macs ? (r.macs / 1e6).toFixed(2) : "-", us(r.p50Us), `${(100 * r.share).toFixed(1)}%`,
    r.macs ? r.gmacPerSecond.toFixed(2) : "-", r.shareOfPeak === undefined ? "" : `${(100 * r.shareOfPeak).toFixed(1)}%`]);
  lines.push(...renderTable([
    { header: "layer type · kernel" }, { header: "layers", align: "right" }, { header: "M MACs", align: "right" }, { header: "p50 µs", align: "right" },
    { header: "share", align: "right" }, { header: "GMAC/s", align: "right" }, { header: "% peak", align: "right" },
  ], rows).map((l) => `    ${l}`));
  return lines;
}

/** Issue 6's targets for mnist-cnn and issue 17's for the MobileNets and mnist-cnn, on this run's figures (reported, never enforced). */
export function evaluateTargets(models: ModelResult[]): BenchResult["targets"] {
  const out: BenchResult["targets"] = [];
  for (const m of models) {
    const e = (name: string) => m.engines.find((x) => x.name === name);
    const kiln = e("kiln int8 simd"), blob = m.blobs.find((b) => b.kind === "int8 simd");
    if (!kiln) continue;
    const faster = (issue: number, peer: string, factor: number): void => {
      const p = e(peer);
      if (p) out.push({ what: `${m.model}: ${factor === 1 ? "at least as fast as" : `≥ ${factor}× faster than`} ${peer} (issue ${issue})`, value: speedup(p.kilnOverThis), ok: p.medianUs / kiln.medianUs >= factor });
    };
    if (m.model === "mobilenet-96" || m.model === "mobilenetv2-224") {
      faster(17, "onnxruntime-node", 1);
      faster(17, "onnxruntime-web", 3);
    }
    if (m.model !== "mnist-cnn") continue;
    faster(6, "tfjs-backend-wasm", 5);
    faster(6, "onnxruntime-web", 5);
    const native = e("onnxruntime-node");
    if (native) out.push({ what: `${m.model}: within 1.5× of onnxruntime-node (issue 6)`, value: `${native.kilnOverThis.toFixed(2)}× its time`, ok: native.kilnOverThis <= 1.5 });
    faster(17, "onnxruntime-node", 1.5);
    if (kiln.shareOfPeak !== undefined) out.push({ what: `${m.model}: ≥ 50 % of the int8 dot peak (issue 6)`, value: `${(100 * kiln.shareOfPeak).toFixed(1)} %`, ok: kiln.shareOfPeak >= 0.5 });
    if (blob) {
      out.push({ what: `${m.model}: blob ≤ int8 weights + 6 KiB (issue 6)`, value: `weights + ${formatBytes(blob.sizes.total - blob.sizes.weights)}`, ok: blob.sizes.total - blob.sizes.weights <= 6 * 1024 });
      out.push({ what: `${m.model}: instantiate + first inference ≤ 2 ms (issue 6)`, value: `${blob.firstInferenceMs.toFixed(2)} ms`, ok: blob.firstInferenceMs <= 2 });
    }
    out.push({ what: `${m.model}: kiln compile ≤ 3 s (issue 6)`, value: `${(m.cliCompileMs / 1000).toFixed(2)} s`, ok: m.cliCompileMs <= 3000 });
    if (m.model === "mnist-cnn") out.push({ what: `${m.model}: kiln compile ≤ 1.5 s (issue 17)`, value: `${(m.cliCompileMs / 1000).toFixed(2)} s`, ok: m.cliCompileMs <= 1500 });
  }
  return out;
}

export function reportText(r: BenchResult): string[] {
  const lines = [
    `Kiln benchmark — ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.os}, Node ${r.machine.node} (V8 ${r.machine.v8})`,
    `1-minute load average ${r.machine.loadAverage.start.toFixed(2)} at the start, ${r.machine.loadAverage.end.toFixed(2)} at the end (anything near ${r.machine.cores} means other work shared the cores)`,
    `${r.options.runs} timed runs per engine (median, p90) after ${r.options.warmup} warm-up runs, interleaved in blocks of ${r.options.block}${r.options.quick ? " (--quick: a smoke check, not a measurement)" : ""}`,
    `int8 SIMD peak (register-resident i32x4.dot_i16x8_s + i32x4.add): ${r.peak.gmacPerSecond.toFixed(1)} GMAC/s ` +
      `(${r.peak.variants.map((v) => `${v.accumulators} acc ${v.gmacPerSecond.toFixed(1)}`).join(", ")})`,
  ];
  lines.push("GMAC/s and % peak count a model's MACs as a direct convolution would: Kiln's Winograd 3×3 convs multiply 2.25× less, so a model can pass 100 %");
  const peers = r.models[0]?.engines.filter((e) => e.kind === "peer") ?? [];
  if (peers.length) lines.push(`peers: ${peers.map((e) => e.detail).join("; ")}`);
  lines.push("");
  for (const m of r.models) lines.push(...modelTable(m), "");
  if (r.targets.length) {
    lines.push("targets (kiln int8 simd; reported, not enforced):");
    lines.push(...renderTable([{ header: "target" }, { header: "this run" }, { header: "" }],
      r.targets.map((t) => [t.what, t.value, t.ok ? "met" : "MISSED"])).map((l) => `  ${l}`));
  }
  lines.push("", `done in ${r.seconds.toFixed(0)} s`);
  return lines;
}
