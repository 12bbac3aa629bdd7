// The blob's manifest on the page, laid out as `kiln inspect` prints it: summary lines, then one row per layer.
import type { Manifest } from "../../runtime/manifest.js";
import { el, formatCount } from "./dom.js";
import { formatBytes } from "../format-bytes.js";

const quant = (t: { scale?: number; zeroPoint?: number }): string => (t.scale === undefined ? "" : `  scale ${t.scale.toPrecision(6)} zero point ${t.zeroPoint}`);

/** The lines `kiln inspect` prints above and below its table. */
export function summaryLines(m: Manifest, fileBytes: number): { head: string[]; foot: string[] } {
  const params = m.layers.reduce((a, l) => a + (l.params ?? 0), 0);
  const manifestBytes = new TextEncoder().encode(JSON.stringify(m)).length;
  const head = [
    `model ${m.model}  (${m.quantize === "none" ? "float32" : m.quantize}, target ${m.target}${m.simd ? ", needs SIMD128" : ""})`,
    `input  ${m.input.name} [${m.input.shape}] ${m.input.dtype}${quant(m.input)}  pixel × ${m.input.pixelScale.toPrecision(6)} + ${m.input.pixelOffset}`,
    `output ${m.output.name} [${m.output.shape}] ${m.output.dtype}${quant(m.output)}`,
  ];
  const foot = [
    `total params ${formatCount(params)}   MACs ${formatCount(m.macs)}   arena ${formatBytes(m.arenaBytes)} (lower bound ${formatBytes(m.arenaLowerBound)})`,
    `size ${formatBytes(fileBytes)}: weights ${formatBytes(m.weightBytes)}, code ${formatBytes(fileBytes - m.weightBytes - manifestBytes)}, manifest ${formatBytes(manifestBytes)}`,
  ];
  if (m.quantization) {
    const q = m.quantization;
    foot.push(`${q.method === "qdq" ? `pre-quantized, not calibrated: ${q.images}` : `calibrated on ${q.images} (${q.method})`}; pixels map to int8 ${q.inputExact ? "exactly" : "approximately"}`);
  }
  foot.push(`labels ${m.labels.join(", ")}`);
  return { head, foot };
}

export function renderManifest(container: HTMLElement, m: Manifest, fileBytes: number, source: string): void {
  const { head, foot } = summaryLines(m, fileBytes);
  const int8 = m.quantize !== "none";
  const table = el("table", "layers");
  const columns = ["#", "layer", "ops", "kernel", "output", "params", "MACs", "weights", ...(int8 ? ["out scale / zp"] : [])];
  const numeric = new Set([0, 5, 6, 7]);
  const headRow = table.createTHead().insertRow();
  columns.forEach((c, i) => headRow.append(el("th", numeric.has(i) ? "num" : "", c)));
  const body = table.createTBody();
  m.layers.forEach((l, i) => {
    const cells = [String(i), l.name, l.fused.join("+"), (l.kernels ?? []).join("+") || "-", `[${l.outputShape.join(",")}]`, formatCount(l.params ?? 0),
      formatCount(l.macs), formatBytes(l.weightBytes), ...(int8 ? [l.outputScale === undefined ? "" : `${l.outputScale.toPrecision(4)} / ${l.outputZeroPoint}`] : [])];
    const row = body.insertRow();
    cells.forEach((c, j) => row.append(el("td", numeric.has(j) ? "num" : "", c)));
  });
  container.replaceChildren(el("p", "source", source), el("pre", "summary", head.join("\n")), table, el("pre", "summary", foot.join("\n")));
}
