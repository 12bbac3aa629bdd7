// Kiln's side of the benchmark: compile the three blobs, time instantiation, wrap each as an Engine (compile-time.ts times `kiln compile`).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { compileFile, DEFAULT_COMPILE_OPTIONS, type CompileOptions } from "../../compiler/compile.js";
import { Model } from "../../runtime/model.js";
import type { BenchModel } from "./models.js";
import { repoRoot } from "./models.js";
import type { Engine } from "./peers.js";
import { calibrationImages } from "../calibration.js";

export type BlobKind = "int8 simd" | "int8 scalar" | "float simd";

export const BLOB_KINDS: BlobKind[] = ["int8 simd", "int8 scalar", "float simd"];

export interface BlobFacts {
  kind: BlobKind;
  /** Bytes of the .wasm file, and its parts. */
  sizes: { weights: number; code: number; manifest: number; total: number };
  arenaBytes: number;
  macs: number;
  /** compileFile() in this process (the toolchain already loaded for all but the first). */
  compileMs: number;
  /** Median over fresh Node processes of Model.load (WebAssembly compile + instantiate), then + setInput and the first run(). */
  instantiateMs: number;
  firstInferenceMs: number;
}

export interface KilnBlob {
  facts: BlobFacts;
  engine: Engine;
  model: Model;
}

function optionsFor(kind: BlobKind, m: BenchModel): CompileOptions {
  return {
    ...DEFAULT_COMPILE_OPTIONS,
    quantize: kind === "float simd" ? "none" : "int8",
    target: kind === "int8 scalar" ? "scalar" : "simd",
    calibration: calibrationImages(m.calibration),
  };
}

/**
 * Compiles, instantiates and wraps one blob. The input is written once with setInput; because the memory planner lets
 * later activations reuse the input's arena bytes, run() overwrites it, so those raw bytes are copied back (untimed)
 * before every run. The timed call is exports.run(), as a user calls it.
 */
export async function kilnBlob(kind: BlobKind, m: BenchModel, workDir: string): Promise<KilnBlob> {
  const t0 = performance.now();
  const compiled = await compileFile(m.modelJson, optionsFor(kind, m));
  const compileMs = performance.now() - t0;
  const file = join(workDir, `${m.name}.${kind.replace(" ", "-")}.wasm`);
  writeFileSync(file, compiled.wasm);
  const startup = timeStartup(file, m, workDir);
  const model = await Model.load(compiled.wasm);
  model.setInput(m.pixels);
  const bytes = model.inputSize * (model.info.input.dtype === "float32" ? 4 : 1);
  const saved = new Uint8Array(model.exports.memory.buffer, model.exports.input_ptr(), bytes).slice();
  const inputView = new Uint8Array(model.exports.memory.buffer, model.exports.input_ptr(), bytes);
  const run = model.exports.run;
  return {
    facts: {
      kind, sizes: compiled.sizes, arenaBytes: compiled.manifest.arenaBytes, macs: compiled.manifest.macs, compileMs, ...startup,
    },
    model,
    engine: {
      name: `kiln ${kind}`,
      kind: "kiln",
      detail: `Kiln blob, ${kind}, ${compiled.sizes.total} bytes`,
      prepare: () => inputView.set(saved),
      run: () => run(),
      output: () => model.scores(),
    },
  };
}

const STARTUP_SCRIPT = `
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
const [runtime, blob, input] = process.argv.slice(1);
const { Model } = await import(runtime);
const bytes = new Uint8Array(readFileSync(blob)), pixels = new Uint8Array(readFileSync(input));
const t0 = performance.now();
const model = await Model.load(bytes);
const t1 = performance.now();
model.setInput(pixels);
model.exports.run();
const t2 = performance.now();
console.log(JSON.stringify({ instantiateMs: t1 - t0, firstInferenceMs: t2 - t0 }));
`;

const STARTUP_PROCESSES = 7;

/**
 * Instantiate + first inference as a fresh process sees it (nothing compiled or cached yet): median of 7 processes.
 * The first run is bimodal: in 20–35 % of processes it takes ~2 ms more, when V8 tiers the hot kernel up to its
 * optimising compiler during that run (with `--liftoff-only` or a huge `--wasm-tiering-budget` it never does:
 * 0 of 20 each, Intel Xeon, Node 20), so one sample says little.
 */
function timeStartup(blob: string, m: BenchModel, workDir: string): { instantiateMs: number; firstInferenceMs: number } {
  // This process has just compiled a blob: let its background compiler threads finish before a child is timed.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
  const input = join(workDir, `${m.name}.input.u8`);
  writeFileSync(input, m.pixels);
  const runtime = pathToFileURL(join(repoRoot(), "dist", "runtime", "model.js")).href;
  const samples: { instantiateMs: number; firstInferenceMs: number }[] = [];
  for (let i = 0; i < STARTUP_PROCESSES; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", STARTUP_SCRIPT, runtime, blob, input], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`startup timing of ${blob} failed: ${r.stderr}`);
    samples.push(JSON.parse(r.stdout) as { instantiateMs: number; firstInferenceMs: number });
  }
  const median = (k: "instantiateMs" | "firstInferenceMs"): number => samples.map((s) => s[k]).sort((a, b) => a - b)[STARTUP_PROCESSES >> 1];
  return { instantiateMs: median("instantiateMs"), firstInferenceMs: median("firstInferenceMs") };
}

/** The largest |a − b| in real units, and whether both outputs pick the same top-1 class. */
export function compareScores(a: Float32Array, b: Float32Array): { maxAbsDiff: number; sameTop1: boolean } {
  let d = 0, ia = 0, ib = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    if (a[i] > a[ia]) ia = i;
    if (b[i] > b[ib]) ib = i;
  }
  return { maxAbsDiff: a.length === b.length ? d : Infinity, sameTop1: ia === ib };
}
