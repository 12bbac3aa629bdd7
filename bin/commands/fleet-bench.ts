// `kiln bench` on several devices: their per-layer profiles side by side (one column per device), or as JSON.
import { createHash } from "node:crypto";
import { KilnError } from "../../compiler/errors.js";
import type { Manifest } from "../../runtime/model.js";
import type { DeviceClient } from "../../firmware-host/client.js";
import { deploy } from "../../firmware-host/deploy.js";
import { deviceManifest, profileOnDevice } from "../../firmware-host/device-ops.js";
import type { HelloInfo } from "../../firmware-host/messages.js";
import { DeviceTarget } from "../../firmware-host/target.js";
import { fleetLines, progressLabels, type FleetLines } from "../fleet-progress.js";
import type { FleetDevice } from "../fleet-file.js";
import type { Io } from "../io.js";
import { BOLD, DIM, paint, renderTable, useColor } from "../table.js";
import { escapeControl } from "../terminal.js";
import { failureReason } from "./fleet-deploy.js";
import { linkTiming } from "./device-common.js";

export interface FleetBenchOptions {
  blob: { path: string; bytes: Uint8Array; info: Manifest } | null;
  runs: number;
  warmup: number;
  linkRuns: number;
  sequential: boolean;
  json: boolean;
  quiet: boolean;
}

export interface LayerP50 { index: number; name: string; ops: string; p50Us: number; p90Us: number }

/** One device's column; the numbers are null when it failed (`error` says why, one line, no token). */
export interface FleetBenchColumn {
  device: string;
  source: string;
  ok: boolean;
  error: string | null;
  hello: HelloInfo | null;
  modelId: string | null;
  model: string | null;
  endToEndP50Us: number | null;
  endToEndP90Us: number | null;
  layerSumP50Us: number | null;
  /** RUN request to reply on the host: device time plus the link's. */
  roundTripP50Us: number | null;
  layers: LayerP50[];
}

const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

async function benchOne(device: FleetDevice, label: string, index: number, o: FleetBenchOptions, lines: FleetLines): Promise<FleetBenchColumn> {
  const show = (text: string): void => lines.set(index, `${label}  ${text}`);
  const column: FleetBenchColumn = { device: device.description, source: device.source, ok: false, error: null, hello: null, modelId: null, model: null,
    endToEndP50Us: null, endToEndP90Us: null, layerSumP50Us: null, roundTripP50Us: null, layers: [] };
  let target: DeviceTarget | null = null, client: DeviceClient | null = null;
  show("connecting…");
  try {
    target = await DeviceTarget.open(device.uri);
    client = await target.connect();
    column.hello = client.device;
    if (o.blob && client.device?.modelId !== sha256Hex(o.blob.bytes)) {
      await client.close();
      show(`deploying ${escapeControl(o.blob.info.model)}…`);
      await deploy(target, o.blob.bytes, { name: o.blob.path, needsSimd: o.blob.info.simd });
      client = await target.connect();
      column.hello = client.device;
    }
    const hello = client.device as HelloInfo;
    if (!hello.modelId) throw new KilnError("the device has no model; pass a blob or kiln deploy one first");
    const manifest = await deviceManifest(client);
    column.modelId = hello.modelId;
    column.model = manifest.model;
    show(`profiling (${o.runs} runs)…`);
    const profile = await profileOnDevice(client, o.runs, o.warmup);
    show("timing RUN round trips…");
    const link = await linkTiming(client, manifest.input.shape.reduce((a, b) => a * b, 1), o.linkRuns);
    Object.assign(column, {
      ok: true, endToEndP50Us: profile.endToEnd.p50Us, endToEndP90Us: profile.endToEnd.p90Us, layerSumP50Us: profile.layerSumP50Us,
      roundTripP50Us: link.roundTripP50Us, layers: profile.layers.map((l) => ({ index: l.index, name: l.name, ops: l.ops, p50Us: l.p50Us, p90Us: l.p90Us })),
    });
    lines.finish(index, `${label}  end to end p50 ${us(profile.endToEnd.p50Us)} µs`);
  } catch (e) {
    column.error = failureReason(e, { description: device.description, needsSimd: o.blob?.info.simd ?? false, hello: column.hello });
    lines.finish(index, `${label}  failed: ${column.error}`);
  } finally {
    await client?.close().catch(() => {});
    await target?.dispose().catch(() => {});
  }
  return column;
}

const us = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Rows by layer: "index name", in the order the devices list them (devices running different models get "-"). */
function layerKeys(columns: FleetBenchColumn[]): string[] {
  const keys: string[] = [];
  for (const c of columns) for (const l of c.layers) if (!keys.includes(`${l.index} ${l.name}`)) keys.push(`${l.index} ${l.name}`);
  return keys;
}

export function fleetBenchTable(columns: FleetBenchColumn[], color: boolean): string[] {
  const keys = layerKeys(columns);
  const cell = (c: FleetBenchColumn, v: number | null | undefined): string => (!c.ok ? "failed" : v === null || v === undefined ? "-" : us(v));
  const rows = [
    ...keys.map((k) => [k, ...columns.map((c) => cell(c, c.layers.find((l) => `${l.index} ${l.name}` === k)?.p50Us))]),
    ["layers sum", ...columns.map((c) => cell(c, c.layerSumP50Us))],
    ["end to end", ...columns.map((c) => cell(c, c.endToEndP50Us))],
    ["RUN round trip", ...columns.map((c) => cell(c, c.roundTripP50Us))],
  ];
  const endToEndRow = keys.length + 1;
  const lines = renderTable([{ header: "p50 µs" }, ...columns.map((c) => ({ header: escapeControl(c.device), align: "right" as const }))], rows,
    (text, row) => (row === endToEndRow ? paint(text, BOLD, color) : text));
  lines[0] = paint(lines[0], DIM, color);
  return lines;
}

/** Benches every device, concurrently unless `sequential`; exit 1 when any failed (the others' columns are still shown). */
export async function benchFleet(devices: FleetDevice[], o: FleetBenchOptions, io: Io): Promise<void> {
  const lines = fleetLines(devices.length, !o.json && !o.quiet);
  const labels = progressLabels(devices);
  let columns: FleetBenchColumn[] = [];
  try {
    if (o.sequential) {
      for (const [i, d] of devices.entries()) columns.push(await benchOne(d, labels[i], i, o, lines));
    } else {
      // Devices are separate machines, so their benches do not disturb each other. Agents on one machine (several
      // `local` devices, or agents started side by side for a test) share its CPUs: use --sequential for them.
      columns = await Promise.all(devices.map((d, i) => benchOne(d, labels[i], i, o, lines)));
    }
  } finally {
    lines.close();
  }
  const failed = columns.filter((c) => !c.ok);
  if (o.json) {
    io.out(JSON.stringify({ runs: o.runs, warmup: o.warmup, linkRuns: o.linkRuns, layers: layerKeys(columns), devices: columns }));
  } else {
    const color = useColor();
    fleetBenchTable(columns, color).forEach((l) => io.out(l));
    io.out("");
    for (const c of columns) {
      const h = c.hello;
      const what = c.ok && h ? `${escapeControl(h.device)}, ${escapeControl(h.runtime)}, SIMD ${h.simd ? "yes" : "no"}; ${escapeControl(c.model ?? "")} (${(c.modelId ?? "").slice(0, 12)})`
        : `failed: ${c.error}`;
      io.out(`${escapeControl(c.device)}: ${what}`);
    }
    if (new Set(columns.filter((c) => c.ok).map((c) => c.modelId)).size > 1) io.out("the devices run different models: rows are matched by layer index and name");
    io.out(paint(`${o.runs} profile runs after ${o.warmup} warm-up and ${o.linkRuns} RUN round trips on each device${o.sequential ? ", one device at a time" : ""}`, DIM, color));
  }
  if (failed.length) throw new KilnError(`kiln bench: ${failed.length} of ${columns.length} devices failed: ${failed.map((c) => c.device).join(", ")}`);
}
