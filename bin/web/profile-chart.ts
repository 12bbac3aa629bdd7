// The per-layer profile as a bar chart: one bar per layer (its p50), then the end-to-end time and the gap.
import type { ProfileResult } from "../../runtime/profile.js";
import { el, formatUs } from "./dom.js";

export function renderProfile(container: HTMLElement, p: ProfileResult, where: string): void {
  const longest = Math.max(...p.layers.map((l) => l.p50Us), Number.MIN_VALUE);
  const chart = el("div", "chart");
  chart.setAttribute("role", "list");
  for (const layer of p.layers) {
    const row = el("div", "chart-row");
    row.setAttribute("role", "listitem");
    const label = el("span", "chart-label", `${layer.index} ${layer.name}`);
    label.title = `${layer.ops}${layer.kernel ? ` (${layer.kernel})` : ""}, ${layer.macs.toLocaleString("en-US")} MACs`;
    const track = el("span", "chart-track");
    const bar = el("span", "bar");
    bar.style.width = `${(100 * layer.p50Us) / longest}%`;
    bar.dataset.us = String(layer.p50Us);
    track.append(bar);
    const gmacs = layer.gmacPerSecond > 0 ? `, ${layer.gmacPerSecond.toFixed(1)} GMAC/s` : "";
    row.append(label, track, el("span", "chart-value", `${formatUs(layer.p50Us)} (${(100 * layer.share).toFixed(0)} %${gmacs})`));
    chart.append(row);
  }
  const e = p.endToEnd;
  const total = el("p", "end-to-end",
    `end to end ${formatUs(e.p50Us)} p50 (p90 ${formatUs(e.p90Us)}, min ${formatUs(e.minUs)}); layers sum to ${formatUs(p.layerSumP50Us)} ` +
    `(gap ${(100 * p.gap).toFixed(0)} %); ${p.runs} timed runs after ${p.warmup} warm-up, ${where}`);
  container.replaceChildren(chart, total);
}
