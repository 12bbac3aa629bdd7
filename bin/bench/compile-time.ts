// The bench's compile time: `kiln compile` in fresh processes, as a median, split into the compiler's part and the build's.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { BUILD_TIMING_LINE } from "../../compiler/toolchain.js";
import { repoRoot } from "./models.js";
import { median } from "./timing.js";

export interface CompileTiming {
  /** Median wall time of the whole command, spawn to exit. */
  ms: number;
  /** Median time from the process's start to the build request: loading the CLI and the model, passes, calibration, codegen. */
  parentMs: number;
  /** Median time from the build request to the blob: what the builder (started with the process) still had to do. */
  buildMs: number;
  /** Median time from the blob to the process's exit (the error report's measurement may outlast the build; writing the file). */
  afterMs: number;
  runs: number;
}

/** Runs `kiln compile <model> <args>` `runs` times (each a fresh process, nothing cached between them). */
export function timeCompiles(modelJson: string, args: string[], out: string, runs = 5): CompileTiming {
  const cli = join(repoRoot(), "dist", "bin", "kiln.js");
  const walls: number[] = [], parents: number[] = [], builds: number[] = [], afters: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [cli, "compile", modelJson, "-o", out, "--quiet", ...args], {
      encoding: "utf8", env: { ...process.env, KILN_BUILD_TIMING: "1" },
    });
    walls.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`kiln compile failed (exit ${String(r.status)}): ${r.stderr}`);
    const timing = BUILD_TIMING_LINE.exec(r.stderr);
    if (!timing) throw new Error(`kiln compile printed no build timing line: ${r.stderr}`);
    parents.push(Number(timing[1]));
    builds.push(Number(timing[2]) - Number(timing[1]));
    afters.push(Math.max(0, walls[i] - Number(timing[2])));
  }
  return { ms: median(walls), parentMs: median(parents), buildMs: median(builds), afterMs: median(afters), runs };
}

export function compileTimingText(t: CompileTiming): string {
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  return `${s(t.ms)} (compiler until the build request ${s(t.parentMs)}, build ${s(t.buildMs)}, after the blob ${s(t.afterMs)}; medians of ${t.runs} fresh processes)`;
}
