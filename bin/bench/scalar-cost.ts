#!/usr/bin/env node
// `npm run bench:scalar`: what the scalar (`--target scalar`) blobs cost where interpreters run them, per layer:
// executed WebAssembly instructions per MAC (wabt's wasm-interp) and cycles per MAC on the emulated Cortex-M4 board
// (WAMR's fast interpreter under qemu-system-arm -icount: deterministic). With --before <checkout> it compiles the
// same models with another Kiln checkout (its dist/ built) too and prints before → after ratios from the one run.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { cpus } from "node:os";
import { KilnError, UsageError } from "../../compiler/errors.js";
import { defineCommand, helpText, parseArgs } from "../args.js";
import { renderTable } from "../table.js";
import { benchWorkDir, loadBenchModels, MODEL_NAMES, repoRoot, type BenchModel } from "./models.js";
import { boardCycles, countInstructions, hasTool, manifestLayers, type BlobCost } from "./scalar-measure.js";

const spec = defineCommand({
  name: "bench:scalar",
  summary: "executed wasm instructions and emulated-board cycles per MAC of the scalar blobs, per layer",
  usage: "npm run -s bench:scalar -- [--models a,b] [--before <kiln checkout>] [--no-board] [--no-interp] [--json]",
  options: {
    models: { type: "string", description: `comma-separated, from ${MODEL_NAMES.join(", ")}`, default: "mnist-cnn,lenet5" },
    before: { type: "string", description: "another Kiln checkout (with dist/ built) whose scalar blobs are the 'before'" },
    board: { type: "boolean", default: true, description: "run on the emulated board (qemu-system-arm, arm-none-eabi-gcc, cmake); --no-board skips it" },
    interp: { type: "boolean", default: true, description: "count instructions under wasm-interp (Debian: wabt: wasm-interp, wasm2wat, wat2wasm); --no-interp skips it" },
    json: { type: "boolean", description: "print one JSON object instead of tables" },
  },
});

const log = (line: string): void => { process.stderr.write(line + "\n"); };

/** Compiles `m` for the scalar target with the CLI of the Kiln checkout at `root`. */
function compileScalar(root: string, m: BenchModel, out: string): Uint8Array {
  const cli = join(root, "dist", "bin", "kiln.js");
  if (!existsSync(cli)) throw new UsageError(`--before: ${cli} not found (build that checkout first: npm run build)`);
  const args = [cli, "compile", m.modelJson, "--target", "scalar", "-o", out, "-q", ...(m.calibration ? ["--calibration", m.calibration] : [])];
  const r = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (r.status !== 0) throw new KilnError(`compiling ${m.name} with ${root} failed: ${(r.stderr || r.stdout).trim()}`);
  return readFileSync(out);
}

async function measure(m: BenchModel, which: string, root: string, workDir: string, board: boolean, interp: boolean): Promise<BlobCost> {
  const file = join(workDir, `${m.name}.${which}.scalar.wasm`);
  const blob = compileScalar(root, m, file);
  const layers = await manifestLayers(blob);
  const cost: BlobCost = { blobBytes: blob.length, macs: layers.reduce((s, l) => s + l.macs, 0), layers, notes: [] };
  if (interp) {
    log(`${m.name} (${which}): counting instructions under wasm-interp`);
    const c = await countInstructions(file, layers.length);
    cost.instructions = c.total;
    c.perLayer.forEach((n, i) => { if (layers[i]) layers[i].instructions = n; });
  }
  if (board) {
    log(`${m.name} (${which}): running on the emulated board`);
    try {
      // A build folder per model and side, kept, so that the next run only relinks the firmware.
      const c = await boardCycles(file, blob, join(repoRoot(), "firmware", "build", `scalar-cost-${m.name}-${which}`));
      cost.cycles = c.total;
      cost.boardEqualsNode = c.equal;
      c.perLayer.forEach((n, i) => { if (layers[i]) layers[i].cycles = n; });
    } catch (e) {
      cost.notes.push(`board: ${(e as Error).message}`);
    }
  }
  return cost;
}

const perMac = (n: number | undefined, macs: number): string => (n === undefined || macs === 0 ? "-" : (n / macs).toFixed(1));
const ratio = (before: number | undefined, after: number | undefined): string =>
  (before === undefined || after === undefined || after === 0 ? "" : ` (${(before / after).toFixed(2)}×)`);

/** Per MAC, before → after (ratio); a layer without MACs (flatten, a reshape) shows "-". */
function cell(before: number | undefined, after: number | undefined, macs: number, hasBefore: boolean): string {
  if (macs === 0) return "-";
  return hasBefore ? `${perMac(before, macs)} → ${perMac(after, macs)}${ratio(before, after)}` : perMac(after, macs);
}

function table(name: string, after: BlobCost, before: BlobCost | undefined): string[] {
  const b = before !== undefined;
  // A measure neither side has (--no-interp, --no-board, a tool missing) gets no column.
  const showInstr = after.instructions !== undefined || before?.instructions !== undefined;
  const showCycles = after.cycles !== undefined || before?.cycles !== undefined;
  const cols = [{ header: "layer" }, { header: "kernels" }, { header: "MACs", align: "right" as const },
    ...(showInstr ? [{ header: `wasm instr/MAC${b ? " before → after" : ""}`, align: "right" as const }] : []),
    ...(showCycles ? [{ header: `board cycles/MAC${b ? " before → after" : ""}`, align: "right" as const }] : [])];
  const row = (label: string, kernels: string, macs: number, o: { instructions?: number; cycles?: number } | undefined,
    n: { instructions?: number; cycles?: number }): string[] => [label, kernels, macs.toLocaleString("en-US"),
    ...(showInstr ? [cell(o?.instructions, n.instructions, macs, b)] : []), ...(showCycles ? [cell(o?.cycles, n.cycles, macs, b)] : [])];
  const rows = after.layers.map((l, i) => row(l.name, l.kernels.join("+") || "-", l.macs, before?.layers[i], l));
  rows.push(row("whole run()", "", after.macs, before, after));
  const size = b ? `blob ${before.blobBytes.toLocaleString("en-US")} → ${after.blobBytes.toLocaleString("en-US")} bytes` : `blob ${after.blobBytes.toLocaleString("en-US")} bytes`;
  const totals = after.cycles !== undefined ? `; run() ${(after.cycles / 1e6).toFixed(1)} M cycles${b && before.cycles !== undefined ? ` (before ${(before.cycles / 1e6).toFixed(1)} M)` : ""}` : "";
  const equal = [before, after].filter((c) => c?.boardEqualsNode !== undefined).every((c) => c?.boardEqualsNode) ? "" : "; BOARD OUTPUT DIFFERS FROM NODE";
  const notes = [...(before?.notes.map((n) => `before: ${n}`) ?? []), ...after.notes];
  return [`${name} (scalar; ${size}${totals}${equal})`, ...renderTable(cols, rows), ...notes.map((n) => `  note: ${n}`), ""];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(helpText(spec).replaceAll("kiln bench:scalar", "npm run bench:scalar"));
    return;
  }
  const { options: args } = parseArgs(spec, argv);
  const names = String(args.models).split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!(MODEL_NAMES as readonly string[]).includes(n)) throw new UsageError(`--models: unknown model '${n}' (known: ${MODEL_NAMES.join(", ")})`);
  const interp = args.interp && ["wasm-interp", "wasm2wat", "wat2wasm"].every((t) => hasTool(t));
  const board = args.board && hasTool("qemu-system-arm");
  if (args.interp && !interp) log("wasm-interp not found (Debian: apt-get install wabt): no instruction counts");
  if (args.board && !board) log("qemu-system-arm not found (Debian: apt-get install qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi cmake): no board cycles");
  const beforeRoot = args.before ? resolve(String(args.before)) : undefined;
  const workDir = benchWorkDir();
  try {
    const models = await loadBenchModels(names, workDir);
    const results: { model: string; before?: BlobCost; after: BlobCost }[] = [];
    for (const m of models) {
      const before = beforeRoot ? await measure(m, "before", beforeRoot, workDir, board, interp) : undefined;
      const after = await measure(m, "after", repoRoot(), workDir, board, interp);
      results.push({ model: m.name, before, after });
    }
    if (args.json) {
      process.stdout.write(JSON.stringify({ machine: cpus()[0]?.model, before: beforeRoot, results }, null, 2) + "\n");
      return;
    }
    const lines = [`Scalar blobs, per MAC (wasm-interp: wabt's instruction count; board: mps2-an386 Cortex-M4 under qemu-system-arm -icount shift=5, WAMR fast interpreter)`,
      `host: ${cpus()[0]?.model ?? "?"} (the counts do not depend on it)${beforeRoot ? `; before: ${beforeRoot}` : ""}`, ""];
    for (const r of results) lines.push(...table(r.model, r.after, r.before));
    process.stdout.write(lines.join("\n"));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  if (e instanceof KilnError || e instanceof UsageError) {
    console.error(`bench:scalar: ${e.message}`);
    process.exit(2);
  }
  throw e;
});
