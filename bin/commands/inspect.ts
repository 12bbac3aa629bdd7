// `kiln inspect`: what a blob is, read from its kiln.manifest section.
import { existsSync, statSync } from "node:fs";
import { INPUT_LIMITS, readInputFile } from "../../io/input-file.js";
import { escapeControl as safe } from "../terminal.js";
import { inspectBlob } from "../../runtime/model.js";
import { keptFloatLayers } from "../../runtime/manifest.js";
import { KilnError } from "../../compiler/errors.js";
import { defineCommand, parseArgs, requirePositionals } from "../args.js";
import { formatBytes, type Io } from "../io.js";
import { modelNotBlob } from "../blob-runs.js";
import { reportLines, warningLines } from "../quant-report.js";

export const inspectSpec = defineCommand({
  name: "inspect",
  summary: "show a blob's manifest: layers, shapes, MACs, memory",
  usage: "kiln inspect <blob.wasm> [--json]",
  options: {
    json: { type: "boolean", description: "print the manifest as JSON" },
  },
});

export async function inspectCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(inspectSpec, argv);
  const [blob] = requirePositionals(inspectSpec, parsed, 1, "<blob.wasm>");
  if (!existsSync(blob)) throw new KilnError(`${blob}: file not found`);
  const notBlob = modelNotBlob("inspect", blob);
  if (notBlob) throw notBlob;
  // Checked and compiled, never instantiated: no code of the blob runs to describe it.
  let bytes: Uint8Array;
  try { bytes = readInputFile(blob, "blob", INPUT_LIMITS.maxBlobBytes); } catch (e) { throw e instanceof KilnError ? e : new KilnError(`${blob}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  const m = (await inspectBlob(bytes).catch((e: Error) => { throw new KilnError(`${blob}: ${e.message}`); })).info;
  const size = statSync(blob).size;
  if (parsed.options.json) { io.out(JSON.stringify(m)); return; }
  const q = (t: { scale?: number; zeroPoint?: number }): string => (t.scale === undefined ? "" : `  scale ${t.scale.toPrecision(6)} zero point ${t.zeroPoint}`);
  io.out(`model ${safe(m.model)}  (${m.quantize === "none" ? "float32" : m.quantize}, target ${m.target}${m.simd ? ", needs SIMD128" : ""})`);
  io.out(`input  ${safe(m.input.name)} [${m.input.shape}] ${m.input.dtype}${q(m.input)}  pixel × ${m.input.pixelScale.toPrecision(6)} + ${m.input.pixelOffset}`);
  io.out(`output ${safe(m.output.name)} [${m.output.shape}] ${m.output.dtype}${q(m.output)}`);
  const kept = keptFloatLayers(m).map((l) => safe(l.name));
  if (kept.length) io.out(`mixed precision: ${kept.join(", ")} kept in float32 (--keep-float), quantize/dequantize at their edges`);
  io.out("");
  const int8 = m.quantize !== "none";
  const rows = m.layers.map((l, i) => [String(i), safe(l.name), safe(l.fused.join("+")), (l.kernels ?? []).join("+") || "-", `[${l.outputShape.join(",")}]`, (l.params ?? 0).toLocaleString("en-US"),
    l.macs.toLocaleString("en-US"), formatBytes(l.weightBytes), ...(int8 ? [l.outputScale === undefined ? (l.precision === "float" ? "float32" : "") : `${l.outputScale.toPrecision(4)} / ${l.outputZeroPoint}`] : [])]);
  const head = ["#", "layer", "ops", "kernel", "output", "params", "MACs", "weights", ...(int8 ? ["out scale / zp"] : [])];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const fmt = (r: string[]): string => r.map((v, c) => (c >= 5 && c <= 7 ? v.padStart(widths[c]) : v.padEnd(widths[c]))).join("  ").trimEnd();
  io.out(fmt(head));
  for (const r of rows) io.out(fmt(r));
  io.out("");
  const params = m.layers.reduce((a, l) => a + (l.params ?? 0), 0);
  const manifestBytes = new TextEncoder().encode(JSON.stringify(m)).length;
  io.out(`total params ${params.toLocaleString("en-US")}   MACs ${m.macs.toLocaleString("en-US")}   arena ${formatBytes(m.arenaBytes)} (lower bound ${formatBytes(m.arenaLowerBound)})`);
  io.out(`size ${formatBytes(size)}: weights ${formatBytes(m.weightBytes)}, code ${formatBytes(size - m.weightBytes - manifestBytes)}, manifest ${formatBytes(manifestBytes)}`);
  if (m.quantization) {
    const how = m.quantization.method === "qdq" ? `pre-quantized, not calibrated: ${safe(m.quantization.images)}` : `calibrated on ${safe(m.quantization.images)} (${safe(m.quantization.method)})`;
    io.out(`${how}; pixels map to int8 ${m.quantization.inputExact ? "exactly" : "approximately"}`);
    warningLines(m.quantization).forEach((line) => io.out(line));
  }
  io.out(`labels ${m.labels.map(safe).join(", ")}`);
  if (m.quantization?.report) { io.out(""); reportLines(m.quantization.report, m.quantization).forEach((line) => io.out(line)); }
}
