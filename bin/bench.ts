#!/usr/bin/env node
// `npm run bench`: Kiln's blobs against TF.js and ONNX Runtime on the same models, batch 1, one thread, one process.
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { KilnError, UsageError } from "../compiler/errors.js";
import { defineCommand, helpText, parseArgs } from "./args.js";
import { BLOB_KINDS, compareScores, kilnBlob, type KilnBlob } from "./bench/kiln-blobs.js";
import { timeCompiles } from "./bench/compile-time.js";
import { benchWorkDir, loadBenchModels, MODEL_NAMES, type BenchModel } from "./bench/models.js";
import { exportOnnxFile } from "./bench/onnx-export.js";
import { maxAbsDiff, ortNodeEngine, ortWebEngine, tfjsEngine, type Engine } from "./bench/peers.js";
import { evaluateTargets, reportText, type BenchResult, type Check, type EngineResult, type ModelResult } from "./bench/report.js";
import { layerTypeSummary } from "./bench/layer-types.js";
import { measurePeak, timeInterleaved, type PeakResult, type TimingOptions } from "./bench/timing.js";

const spec = defineCommand({
  name: "bench",
  summary: "time Kiln's int8 simd/scalar and float blobs against TF.js and ONNX Runtime",
  usage: "npm run -s bench -- [--runs N] [--models a,b] [--quick] [--json]   (-s keeps npm's banner out of the JSON)",
  options: {
    runs: { type: "number", integer: true, min: 1, max: 1_000_000, description: "timed runs per engine and model", default: 300 },
    warmup: { type: "number", integer: true, min: 0, max: 1_000_000, description: "untimed runs per engine first", default: 30 },
    block: { type: "number", integer: true, min: 1, max: 1_000_000, description: "consecutive timed runs of one engine before the next one's turn", default: 10 },
    models: { type: "string", description: `comma-separated, from ${MODEL_NAMES.join(", ")}`, default: MODEL_NAMES.join(",") },
    quick: { type: "boolean", description: "a smoke check: 20 runs, 3 warm-up (overrides --runs/--warmup)" },
    json: { type: "boolean", description: "print one JSON object (per-run samples included) instead of tables" },
    "keep-files": { type: "boolean", description: "keep the temporary folder with the generated model and blobs" },
  },
});

const log = (line: string): void => { process.stderr.write(line + "\n"); };

/** Checks the exported ONNX model and Kiln's float blob against TF.js (cpu), and reports int8 drift for information. */
function checks(engines: Engine[]): Check[] {
  const reference = engines.find((e) => e.name === "tfjs cpu")?.output();
  if (!reference) return [];
  const out: Check[] = [];
  const add = (name: string, what: string, limit: number): void => {
    const e = engines.find((x) => x.name === name);
    if (!e) return;
    const d = maxAbsDiff(e.output(), reference);
    out.push({ what: `${what} vs tfjs cpu`, maxAbsDiff: d, limit, ok: d <= limit });
  };
  add("onnxruntime-node", "exported ONNX on onnxruntime-node", 1e-4);
  add("onnxruntime-web", "exported ONNX on onnxruntime-web", 1e-4);
  add("tfjs-backend-wasm", "tfjs-backend-wasm", 1e-4);
  add("kiln float simd", "kiln float blob", 1e-4);
  const int8 = engines.find((x) => x.name === "kiln int8 simd")?.output();
  const scalar = engines.find((x) => x.name === "kiln int8 scalar")?.output();
  if (int8 && scalar) out.push({ what: "kiln int8 simd vs int8 scalar (bit-exact)", maxAbsDiff: maxAbsDiff(int8, scalar), limit: 0, ok: maxAbsDiff(int8, scalar) === 0 });
  if (int8) {
    const c = compareScores(int8, reference);
    out.push({ what: `kiln int8 (dequantized) vs float, top-1 ${c.sameTop1 ? "same" : "DIFFERENT"} (quantization error, not a bug)`, maxAbsDiff: c.maxAbsDiff, limit: null, ok: true });
  }
  return out;
}

/** This model's share of the runs: a big model gets fewer (at least 5 timed runs, and blocks no longer than that). */
function timingFor(m: BenchModel, timing: TimingOptions): TimingOptions {
  const share = m.runShare ?? 1;
  if (share === 1) return timing;
  const runs = Math.max(5, Math.round(timing.runs * share));
  return { runs, warmup: Math.max(1, Math.round(timing.warmup * share)), block: Math.min(timing.block, Math.max(1, Math.round(timing.block * share * 2))) };
}

/** Wall-clock budget of the per-layer profile of each int8 blob (the profile stops early when it runs out). */
const PROFILE_BUDGET_MS = 3000;
/** The blobs have just been timed, so they are warm: one untimed profile round is enough. */
const PROFILE_WARMUP = 1;

async function benchModel(m: BenchModel, allTiming: TimingOptions, peak: PeakResult, workDir: string): Promise<ModelResult> {
  const timing = timingFor(m, allTiming);
  log(`${m.name}: compiling Kiln blobs`);
  const blobs: KilnBlob[] = [];
  for (const kind of BLOB_KINDS) blobs.push(await kilnBlob(kind, m, workDir));
  log(`${m.name}: timing kiln compile (CLI)`);
  // A median of fresh processes; big models (a share of the runs) compile once.
  const cliCompile = timeCompiles(m.modelJson, m.calibration ? ["--calibration", m.calibration] : [], join(workDir, `${m.name}.cli.wasm`), (m.runShare ?? 1) < 1 ? 1 : 5);
  const cliCompileMs = cliCompile.ms;
  log(`${m.name}: exporting to ONNX, loading peers`);
  const onnx = exportOnnxFile(m.modelJson);
  const engines: Engine[] = [
    ...blobs.map((b) => b.engine),
    await tfjsEngine("cpu", m), await tfjsEngine("wasm", m),
    await ortWebEngine(m, onnx), await ortNodeEngine(m, onnx),
  ];
  // One run each so that every output exists for the checks before anything is timed.
  for (const e of engines) { await e.activate?.(); e.prepare?.(); await e.run(); }
  const checked = checks(engines);
  for (const c of checked) if (!c.ok) log(`${m.name}: CHECK FAILED: ${c.what}: max |diff| ${c.maxAbsDiff}`);
  // The pure-JS reference on a big model takes seconds per run: there it only provides the checks' reference output.
  const timed = m.untimedReference ? engines.filter((e) => e.name !== "tfjs cpu") : engines;
  log(`${m.name}: timing ${timed.length} engines × ${timing.runs} runs`);
  let shown = -1;
  const timings = await timeInterleaved(timed, timing, (done, total) => {
    const pct = Math.floor((100 * done) / total / 10) * 10;
    if (pct !== shown) { shown = pct; log(`${m.name}: ${pct} %`); }
  });
  const macs = blobs[0].facts.macs;
  const kilnMedian = timings[0].medianUs;
  const results: EngineResult[] = timings.map((t, i) => {
    const { samplesUs, ...rest } = t;
    const gmacPerSecond = macs / t.medianUs / 1000;
    const int8 = timed[i].kind === "kiln" && timed[i].name.includes("int8");
    return {
      ...rest, kind: timed[i].kind, detail: timed[i].detail, gmacPerSecond, kilnOverThis: kilnMedian / t.medianUs,
      ...(int8 ? { shareOfPeak: gmacPerSecond / peak.gmacPerSecond } : {}),
      samplesUs: samplesUs.map((s) => Math.round(s * 100) / 100),
    };
  });
  log(`${m.name}: per-layer profile of the int8 blobs`);
  const layerTypes = blobs.flatMap((b) => {
    if (b.facts.kind === "float simd") return [];
    // A profile round is run() plus every layer once, ~2 inferences: give slow blobs time for at least 5 timed rounds.
    const budget = Math.max(PROFILE_BUDGET_MS, (2 * (PROFILE_WARMUP + 5) * (timings.find((t) => t.name === b.engine.name)?.medianUs ?? 0)) / 1000);
    return [layerTypeSummary(b.facts.kind, b.model, peak.gmacPerSecond, { warmup: PROFILE_WARMUP, budgetMs: budget })];
  });
  return {
    model: m.name, weights: m.weights, input: m.shape, macs, engines: results, blobs: blobs.map((b) => b.facts), layerTypes, timing,
    cliCompileMs, cliCompile, onnx: { nodes: onnx.nodeCount, bytes: onnx.bytes.length }, checks: checked,
    referenceMaxAbs: Math.max(...(engines.find((e) => e.name === "tfjs cpu")?.output() ?? [NaN]).map(Math.abs)),
  };
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) { console.log(helpText(spec).replaceAll("kiln bench", "npm run bench")); return; }
  const { options: o, positionals } = parseArgs(spec, argv);
  if (positionals.length) throw new UsageError(`npm run bench: unexpected argument '${positionals[0]}' (usage: ${spec.usage})`);
  const quick = o.quick;
  const timing: TimingOptions = { runs: quick ? 20 : o.runs, warmup: quick ? 3 : o.warmup, block: quick ? 5 : o.block };
  const names = o.models.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(MODEL_NAMES as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) throw new UsageError(`npm run bench: unknown model '${unknown[0] ?? ""}' (known: ${MODEL_NAMES.join(", ")})`);
  const started = performance.now();
  const loadAtStart = loadavg()[0];
  const workDir = benchWorkDir();
  try {
    log("measuring the int8 SIMD peak");
    const peak = await measurePeak();
    const models: ModelResult[] = [];
    for (const m of await loadBenchModels(names, workDir)) models.push(await benchModel(m, timing, peak, workDir));
    const cpu = cpus();
    const result: BenchResult = {
      machine: {
        cpu: cpu[0]?.model ?? "unknown", cores: cpu.length, node: process.versions.node, v8: process.versions.v8,
        os: `${platform()} ${release()}`, memoryGiB: Math.round(totalmem() / 2 ** 30),
        loadAverage: { start: loadAtStart, end: loadavg()[0] },
      },
      options: { ...timing, quick },
      peak, models, targets: evaluateTargets(models), seconds: (performance.now() - started) / 1000,
    };
    if (o.json) console.log(JSON.stringify(result));
    else {
      console.log(reportText(result).join("\n"));
    }
    if (models.some((m) => m.checks.some((c) => !c.ok))) process.exitCode = 1;
  } finally {
    if (o["keep-files"]) log(`files kept in ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const err = e as Error;
  // parseArgs words its messages for `kiln <command>`; this is `npm run bench`, not the device `kiln bench`.
  const message = err instanceof KilnError ? err.message.replace(/kiln help bench\b/g, "npm run bench -- --help").replace(/kiln bench\b/g, "npm run bench") : err.stack ?? String(err);
  process.stderr.write(`${message.startsWith("npm run bench") ? "" : "npm run bench: "}${message}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
