// What one scalar blob costs per layer: executed WebAssembly instructions (wabt's wasm-interp --trace) and cycles on
// the emulated Cortex-M4 board (the self-test firmware under qemu-system-arm -icount, deterministic virtual time).
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Model } from "../../runtime/model.js";
import { repoRoot } from "./models.js";

export interface LayerCost {
  name: string;
  kernels: string[];
  macs: number;
  /** Instructions wasm-interp executed for the layer (its call from run() included). */
  instructions?: number;
  /** SysTick cycles of run_layer(i) on the board. */
  cycles?: number;
}

export interface BlobCost {
  blobBytes: number;
  macs: number;
  layers: LayerCost[];
  /** Whole run(): instructions under wasm-interp, cycles on the board. */
  instructions?: number;
  cycles?: number;
  /** Whether the board's output bytes equal Node's on the same input (undefined: not run on the board). */
  boardEqualsNode?: boolean;
  /** Why the board or the interpreter was skipped, if it was. */
  notes: string[];
}

export function hasTool(cmd: string, arg = "--version"): boolean {
  return !spawnSync(cmd, [arg], { stdio: "ignore" }).error;
}

/** The layers as the blob's manifest lists them (name, kernels, MACs). */
export async function manifestLayers(blob: Uint8Array): Promise<LayerCost[]> {
  const m = await Model.load(blob);
  return m.info.layers.map((l) => ({ name: l.name, kernels: l.kernels ?? [], macs: l.macs }));
}

/**
 * The blob plus one export per layer, "probe_<i>", calling run_layer(i): wasm-interp --run-all-exports runs every
 * export without arguments, so this is how it runs one layer. Layers still run in order, after run() itself.
 */
function withLayerProbes(file: string, layers: number): string {
  const wat = spawnSync("wasm2wat", [file], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (wat.status !== 0) throw new Error(`wasm2wat ${file}: ${wat.stderr.trim()}`);
  const runLayer = /\(export "run_layer" \(func (\d+)\)\)/.exec(wat.stdout)?.[1];
  const at = wat.stdout.indexOf("\n  (export ");
  if (runLayer === undefined || at < 0) throw new Error(`${file}: no run_layer export`);
  const probes = Array.from({ length: layers }, (_, i) => `\n  (func (export "probe_${i}") i32.const ${i} call ${runLayer})`).join("");
  const probed = file.replace(/\.wasm$/, "") + ".probed";
  writeFileSync(`${probed}.wat`, wat.stdout.slice(0, at) + probes + wat.stdout.slice(at));
  const w = spawnSync("wat2wasm", [`${probed}.wat`, "-o", `${probed}.wasm`], { encoding: "utf8" });
  if (w.status !== 0) throw new Error(`wat2wasm: ${w.stderr.trim()}`);
  return `${probed}.wasm`;
}

/**
 * Instructions wasm-interp executes in run() and in each layer (run_layer(i), through a probe export). Memory starts
 * zeroed: the scalar kernels execute the same instructions whatever the input holds (their data-dependent choices
 * are selects, not branches), so the count is the blob's, not the input's.
 */
export function countInstructions(file: string, layers: number): Promise<{ perLayer: number[]; total: number }> {
  const probed = withLayerProbes(file, layers);
  return new Promise((resolve, reject) => {
    const p = spawn("wasm-interp", [probed, "--run-all-exports", "--trace"], { stdio: ["ignore", "pipe", "pipe"] });
    const counts = new Map<string, number>();
    let current: string | undefined;
    const lines = createInterface({ input: p.stdout });
    lines.on("line", (line) => {
      if (line.charCodeAt(0) === 35 /* # */) {
        if (current !== undefined) counts.set(current, (counts.get(current) ?? 0) + 1);
      } else if (line.startsWith(">>> running export ")) {
        current = /"(.*)"/.exec(line)?.[1];
      }
    });
    p.on("error", reject);
    p.on("close", () => {
      const perLayer = Array.from({ length: layers }, (_, i) => counts.get(`probe_${i}`) ?? NaN);
      const total = counts.get("run");
      if (total === undefined || perLayer.some(Number.isNaN)) reject(new Error(`wasm-interp did not run every export of ${probed}`));
      else resolve({ perLayer, total });
    });
  });
}

/** firmware/selftest/boot.mjs: the self-test's host side (input, Node's output on it, booting the firmware). */
interface SelftestHost {
  nodeSelftestOutput(model: typeof Model, blob: Uint8Array): Promise<{ inBytes: number; outBytes: number; hex: string }>;
  bootSelftest(elf: string, timeoutMs: number): Promise<string>;
}

interface FirmwareBuilder {
  buildFirmware(o: { buildDir: string; target: string; quiet: boolean; defines: Record<string, string | number> }): string;
  missingTools(): string[];
}

/** Runs the blob on the emulated board: whole-run and per-layer cycles, and whether its output equals Node's. */
export async function boardCycles(file: string, blob: Uint8Array, buildDir: string): Promise<{ perLayer: number[]; total: number; equal: boolean }> {
  const fw = (await import(pathToFileURL(join(repoRoot(), "firmware", "build.mjs")).href)) as FirmwareBuilder;
  const missing = fw.missingTools();
  if (missing.length) throw new Error(`missing ${missing.join("; ")}`);
  const selftest = (await import(pathToFileURL(join(repoRoot(), "firmware", "selftest", "boot.mjs")).href)) as SelftestHost;
  const host = await selftest.nodeSelftestOutput(Model, blob);
  mkdirSync(buildDir, { recursive: true });
  const elf = fw.buildFirmware({ buildDir, target: "kiln-fw-selftest", quiet: true, defines: {
    KILN_SELFTEST_BLOB: file, KILN_SELFTEST_INPUT_BYTES: host.inBytes, KILN_SELFTEST_OUTPUT_BYTES: host.outBytes } });
  const text = await selftest.bootSelftest(elf, 600_000);
  const fail = /^FAIL.*$/m.exec(text)?.[0];
  if (fail) throw new Error(`the board said: ${fail}`);
  const total = Number(/^run: (\d+) cycles/m.exec(text)?.[1] ?? NaN);
  if (!Number.isFinite(total)) throw new Error("the board printed no run time");
  const perLayer = [...text.matchAll(/^layer (\d+): (\d+) cycles$/gm)].map((m) => Number(m[2]));
  const board = /^out: (.*)$/m.exec(text)?.[1]?.trim();
  return { perLayer, total, equal: board === host.hex };
}
