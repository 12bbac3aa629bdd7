// The quantization error report as the CLI prints it (kiln compile, eval, inspect): agreement, then layers worst first.
import type { Manifest, QuantReport } from "../runtime/manifest.js";
import { renderTable, type Column } from "./table.js";
import { escapeControl } from "./terminal.js";

/** Models with at most this many layers show every layer; bigger ones the worst SHOWN_WORST and a count. */
const SHOW_ALL_UP_TO = 16;
const SHOWN_WORST = 10;

const db = (v: number | null): string => (v === null ? "exact" : v.toFixed(1));

/** A number of about 3 significant digits, plain for ordinary magnitudes. */
function error(v: number): string {
  return v === 0 ? "0" : v >= 0.001 && v < 10000 ? v.toPrecision(3) : v.toExponential(2);
}

/** Lines for a report: what it ran on, top-1 agreement, and the layer table (worst first, by the layer's own error). */
export function reportLines(report: QuantReport, counts: { calibrated?: number; heldOut?: number } = {}): string[] {
  const lines: string[] = [];
  const { calibrated, heldOut } = counts;
  const some = heldOut !== undefined && heldOut > report.images ? ` of the ${heldOut}` : "";
  const on = `${report.images}${some} held-out image${report.images === 1 && !some ? "" : "s"}${calibrated !== undefined ? ` (not among the ${calibrated} calibrated on)` : ""}`;
  lines.push(`quantization error on ${on}${report.seconds !== undefined ? `, measured in ${report.seconds.toFixed(2)} s` : ""}:`);
  lines.push(`  top-1 agreement int8 vs float: ${(100 * report.agreement).toFixed(2)} %`);
  const byName = new Map(report.layers.map((l) => [l.name, l]));
  const shown = report.worst.length <= SHOW_ALL_UP_TO ? report.worst : report.worst.slice(0, SHOWN_WORST);
  const columns: Column[] = [
    { header: "layer (worst first)" }, { header: "op" }, { header: "own dB", align: "right" }, { header: "median ch dB", align: "right" },
    { header: "SQNR dB", align: "right" }, { header: "max |error|", align: "right" },
  ];
  const cells = shown.map((name) => {
    const l = byName.get(name)!;
    return [l.name, l.passThrough ? `${l.op} (pass-through)` : l.op, db(l.ownSqnrDb), db(l.channelSqnrDb), db(l.sqnrDb), error(l.maxAbsError)];
  });
  lines.push(...renderTable(columns, cells).map((l) => "  " + l));
  if (shown.length < report.worst.length) lines.push(`  … and ${report.worst.length - shown.length} more layers (--json shows all)`);
  lines.push("  own: the layer alone on float inputs; median ch: its median output channel; SQNR: the int8 model end to end up to it");
  if (report.layers.some((l) => l.passThrough)) lines.push("  pass-through: adds no error (its int8 output is its float output rounded), so it ranks last");
  return lines;
}

/** The compile's warnings, one `warning: …` line each (names from the model escaped). */
export function warningLines(quantization: Manifest["quantization"]): string[] {
  return (quantization?.warnings ?? []).map((w) => `warning: ${escapeControl(w)}`);
}
