// `kiln profile`: per-layer latency of a blob on this machine, as a table, JSON or CSV.
import type { ProfileResult } from "../../runtime/profile.js";
import { KilnError } from "../../compiler/errors.js";
import { defineCommand, parseArgs, requirePositionals } from "../args.js";
import { blobRunError, openBlob, timeLimitOption } from "../blob-runs.js";
import { formatBytes, type Io } from "../io.js";
import { bar, BOLD, CYAN, DIM, paint, renderTable, useColor } from "../table.js";
import { escapeControl } from "../terminal.js";

export const profileSpec = defineCommand({
  name: "profile",
  summary: "time every layer of a blob (p50/p90 µs, share, GMAC/s) and the whole model",
  usage: "kiln profile <blob.wasm> [--runs N] [--warmup N] [--json|--csv] [--time-limit MS]",
  options: {
    runs: { type: "number", integer: true, min: 1, max: 1_000_000, description: "timed runs", default: 200 },
    warmup: { type: "number", integer: true, min: 0, max: 1_000_000, description: "untimed runs first", default: 20 },
    json: { type: "boolean", description: "the profile as one JSON object" },
    csv: { type: "boolean", description: "one CSV row per layer" },
    "time-limit": timeLimitOption,
  },
});

const us = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Two decimals, or two significant digits below 0.01 (a microcontroller does MMAC/s, not GMAC/s). */
const gmac = (g: number): string => (g >= 0.01 ? g.toFixed(2) : g.toPrecision(2));
const cyclesText = (c: number): string => Math.round(c).toLocaleString("en-US");
const perMac = (cycles: number, macs: number): string => (macs > 0 ? (cycles / macs).toFixed(1) : "-");

export function profileTable(p: ProfileResult, color: boolean): string[] {
  // Devices with a cycle counter (the board firmware) add cycles and cycles per MAC, the numbers that carry to other clocks.
  const cycles = p.layers.some((l) => l.cycles !== undefined);
  // A mixed-precision blob marks the layers kept in float: their kernels are the exact f64 ones, not int8.
  const rows = p.layers.map((l) => [String(l.index), l.name, l.precision === "float" ? `${l.ops} (float)` : l.ops, l.kernel || "-", `[${l.outputShape.join(",")}]`, l.macs.toLocaleString("en-US"),
    formatBytes(l.weightBytes), us(l.p50Us), us(l.p90Us),
    ...(cycles ? [l.cycles !== undefined ? cyclesText(l.cycles) : "-", l.cycles !== undefined ? perMac(l.cycles, l.macs) : "-"] : []),
    `${(100 * l.share).toFixed(1)}%`, l.gmacPerSecond ? gmac(l.gmacPerSecond) : "-", bar(l.share, 20)]);
  const barColumn = cycles ? 13 : 11;
  const lines = renderTable([
    { header: "#", align: "right" }, { header: "layer" }, { header: "ops" }, { header: "kernel" }, { header: "output" }, { header: "MACs", align: "right" },
    { header: "weights", align: "right" }, { header: "p50 µs", align: "right" }, { header: "p90 µs", align: "right" },
    ...(cycles ? [{ header: "cycles", align: "right" as const }, { header: "cyc/MAC", align: "right" as const }] : []),
    { header: "share", align: "right" }, { header: "GMAC/s", align: "right" }, { header: "" },
  ], rows, (text, _r, c) => (c === barColumn ? paint(text, CYAN, color) : c === 7 ? paint(text, BOLD, color) : text));
  lines[0] = paint(lines[0], DIM, color);
  const macs = p.layers.reduce((a, l) => a + l.macs, 0);
  lines.push("");
  lines.push(`layers sum  p50 ${us(p.layerSumP50Us)} µs`);
  lines.push(paint(`end to end  p50 ${us(p.endToEnd.p50Us)} µs   p90 ${us(p.endToEnd.p90Us)} µs   ${gmac(macs / p.endToEnd.p50Us / 1000)} GMAC/s`, BOLD, color));
  if (cycles) {
    const layerCycles = p.layers.reduce((a, l) => a + (l.cycles ?? 0), 0);
    const whole = p.endToEndCycles;
    lines.push(`cycles      layers ${cyclesText(layerCycles)}${whole !== undefined ? `, run() ${cyclesText(whole)}` : ""}; `
      + `${perMac(whole ?? layerCycles, macs)} cycles per MAC${p.clockHz ? ` at ${(p.clockHz / 1e6).toFixed(p.clockHz % 1e6 ? 2 : 0)} MHz` : ""}`);
  }
  lines.push(`gap between the layer sum and run(): ${(100 * p.gap).toFixed(1)} % (timer overhead per layer call)`);
  lines.push(paint(`${escapeControl(p.model)}, ${p.quantize === "none" ? "float32" : p.quantize} ${p.target}, ${p.runs} runs after ${p.warmup} warm-up`, DIM, color));
  return lines;
}

export function profileCsv(p: ProfileResult): string[] {
  const quote = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return ["index,name,ops,kernel,output_shape,macs,weight_bytes,p50_us,p90_us,mean_us,share,gmac_per_s,precision",
    ...p.layers.map((l) => [l.index, quote(l.name), quote(l.ops), quote(l.kernel), quote(l.outputShape.join("x")), l.macs, l.weightBytes,
      l.p50Us.toFixed(3), l.p90Us.toFixed(3), l.meanUs.toFixed(3), l.share.toFixed(4), l.gmacPerSecond.toFixed(3), l.precision ?? (p.quantize === "none" ? "float" : "int8")].join(","))];
}

export async function profileCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(profileSpec, argv);
  const [blob] = requirePositionals(profileSpec, parsed, 1, "<blob.wasm>");
  const o = parsed.options;
  if (o.json && o.csv) throw new KilnError("kiln profile: choose one of --json and --csv", 2);
  const model = await openBlob("profile", blob, o["time-limit"]);
  // On the worker, with the time limit applying to each run (a profile of many runs may take long in total).
  const result = await model.profile({ runs: o.runs, warmup: o.warmup }, { perInference: true })
    .catch((e: unknown) => { throw blobRunError("profile", blob, e); })
    .finally(() => model.close());
  if (o.json) io.out(JSON.stringify(result));
  else if (o.csv) profileCsv(result).forEach((l) => io.out(l));
  else profileTable(result, useColor()).forEach((l) => io.out(l));
}
