// `kiln deploy` to several devices at once: one progress line per device, then a table; one failure stops no other.
import { createHash } from "node:crypto";
import { basename } from "node:path";
import { KilnError } from "../../compiler/errors.js";
import type { Manifest } from "../../runtime/model.js";
import { deploy, DeployError, type DeployResult } from "../../firmware-host/deploy.js";
import { DeviceUriError, redactTokens } from "../../firmware-host/device-uri.js";
import { UnreachableError } from "../../firmware-host/errors.js";
import type { HelloInfo } from "../../firmware-host/messages.js";
import { DeviceTarget } from "../../firmware-host/target.js";
import { fleetLines, progressLabels, type FleetLines } from "../fleet-progress.js";
import type { FleetDevice } from "../fleet-file.js";
import { formatBytes, type Io } from "../io.js";
import { bar, BOLD, DIM, GREEN, paint, renderTable, useColor, YELLOW } from "../table.js";
import { escapeControl } from "../terminal.js";
import { rate } from "./device-common.js";

export interface FleetDeployOptions {
  blobPath: string;
  bytes: Uint8Array;
  info: Manifest;
  sessions: number;
  json: boolean;
  quiet: boolean;
}

export interface FleetDeployRow {
  device: string;
  source: string;
  ok: boolean;
  /** "deployed", "already running", or "failed: <why>" (one line, no token). */
  result: string;
  /** The model the device runs afterwards: the blob's id, or (when it failed) the one it keeps serving. */
  modelId: string | null;
  seconds: number;
  hello: HelloInfo | null;
  deploy: Pick<DeployResult, "sessions" | "resumedFrom" | "chunks" | "failedAttempts" | "alreadyActive" | "size"> | null;
}

/** Longest reason the table shows; the whole message is one line either way. */
const MAX_REASON = 120;

/** What a failure's reason is told about the device and the attempt. */
export interface FailureContext {
  /** The device's URI as rows show it (left out of the reason: the row names the device). */
  description: string;
  /** The blob needs WebAssembly SIMD. */
  needsSimd: boolean;
  /** The device's HELLO, when it answered one. */
  hello: HelloInfo | null;
  /** Sessions the deploy had, when the command chose them. */
  sessions?: number;
}

/** Why a device failed, as one line for a table cell, without a token. */
export function failureReason(e: unknown, c: FailureContext): string {
  let why: string;
  if (e instanceof DeployError && e.lastError) {
    const tried = c.sessions ? `${c.sessions} session${c.sessions === 1 ? "" : "s"}` : "every session";
    why = `${failureReason(e.lastError, c)} (${tried}${e.acked ? `, ${e.acked} bytes acknowledged` : ""})`;
  } else if (e instanceof DeployError && c.needsSimd && c.hello && !c.hello.simd) {
    why = "no WebAssembly SIMD on the device and the blob needs it; compile with --target scalar (nothing uploaded)";
  } else if (e instanceof UnreachableError) {
    why = `unreachable: ${e.reason}`;
  } else if (e instanceof DeviceUriError) {
    why = e.message.startsWith(`${c.description}: `) ? e.message.slice(c.description.length + 2) : e.message;
  } else {
    why = e instanceof Error ? e.message.split(c.description).join("the device") : String(e);
  }
  const line = escapeControl(redactTokens(why));
  return line.length > MAX_REASON ? `${line.slice(0, MAX_REASON - 1)}…` : line;
}

async function deployOne(device: FleetDevice, label: string, index: number, o: FleetDeployOptions, lines: FleetLines): Promise<FleetDeployRow> {
  const started = performance.now();
  let hello: HelloInfo | null = null, target: DeviceTarget | null = null, rateStart = -1;
  const show = (text: string): void => lines.set(index, `${label}  ${text}`);
  const context = { description: device.description, needsSimd: o.info.simd, sessions: o.sessions };
  show("connecting…");
  try {
    target = await DeviceTarget.open(device.uri);
    const r = await deploy(target, o.bytes, {
      name: basename(o.blobPath), sessions: o.sessions, needsSimd: o.info.simd,
      onHello: (h) => { hello = h; show(`${escapeControl(h.device)}: uploading`); },
      onProgress: (done, total) => {
        if (rateStart < 0) rateStart = performance.now();
        const seconds = (performance.now() - rateStart) / 1000, share = total > 0 ? done / total : 1;
        show(`${bar(share, 20).padEnd(20)} ${String(Math.floor(share * 100)).padStart(3)}%  ${formatBytes(done)}/${formatBytes(total)}  ${rate(done, seconds)}`);
      },
      onRetry: (session, e) => show(`reconnecting (session ${session + 1} of ${o.sessions}): ${failureReason(e, { ...context, hello })}`),
    });
    const seconds = (performance.now() - started) / 1000;
    const result = r.alreadyActive ? "already running" : "deployed";
    lines.finish(index, `${label}  ${result} ${r.modelId.slice(0, 12)} in ${seconds.toFixed(2)} s`);
    return {
      device: device.description, source: device.source, ok: true, result, modelId: r.modelId, seconds, hello: r.hello,
      deploy: { sessions: r.sessions, resumedFrom: r.resumedFrom, chunks: r.chunks, failedAttempts: r.failedAttempts, alreadyActive: r.alreadyActive, size: r.size },
    };
  } catch (e) {
    const seconds = (performance.now() - started) / 1000;
    const result = `failed: ${failureReason(e, { ...context, hello })}`;
    lines.finish(index, `${label}  ${result}`);
    const known = hello as HelloInfo | null;
    return { device: device.description, source: device.source, ok: false, result, modelId: known?.modelId ?? null, seconds, hello: known, deploy: null };
  } finally {
    await target?.dispose().catch(() => {});
  }
}

export function fleetDeployTable(rows: FleetDeployRow[], color: boolean): string[] {
  // The runtime without its parenthesised detail ("node v18.20.4 linux-arm64"): --json has all of HELLO.
  const cells = rows.map((r) => [r.device, r.hello ? r.hello.runtime.replace(/\s*\([^)]*\)/g, "") : "-", r.hello ? (r.hello.simd ? "yes" : "no") : "-", r.result,
    r.modelId ? r.modelId.slice(0, 12) : "-", r.seconds.toFixed(2)]);
  const lines = renderTable([{ header: "device" }, { header: "runtime" }, { header: "SIMD" }, { header: "result" }, { header: "model id" },
    { header: "seconds", align: "right" }], cells, (text, row, col) => (col === 3 ? paint(text, rows[row].ok ? GREEN : YELLOW, color) : text));
  lines[0] = paint(lines[0], DIM, color);
  return lines;
}

/** Deploys to every device concurrently (each with its own sessions and retries); exit 1 when any failed. */
export async function deployToFleet(devices: FleetDevice[], o: FleetDeployOptions, io: Io): Promise<void> {
  const started = performance.now();
  const lines = fleetLines(devices.length, !o.json && !o.quiet);
  const labels = progressLabels(devices);
  let rows: FleetDeployRow[];
  try {
    rows = await Promise.all(devices.map((d, i) => deployOne(d, labels[i], i, o, lines)));
  } finally {
    lines.close();
  }
  const failed = rows.filter((r) => !r.ok);
  const seconds = (performance.now() - started) / 1000;
  const modelId = createHash("sha256").update(o.bytes).digest("hex");
  if (o.json) {
    io.out(JSON.stringify({ model: o.info.model, size: o.bytes.length, modelId, seconds, deployed: rows.length - failed.length, failed: failed.length, devices: rows }));
  } else {
    const color = useColor();
    fleetDeployTable(rows, color).forEach((l) => io.out(l));
    io.out("");
    io.out(paint(`model ${modelId.slice(0, 12)} (${escapeControl(o.info.model)}, ${formatBytes(o.bytes.length)}) on ${rows.length - failed.length} of ${rows.length} devices `
      + `in ${seconds.toFixed(2)} s${failed.length ? `; ${failed.length} failed` : ""}`, BOLD, color));
  }
  if (failed.length) throw new KilnError(`kiln deploy: ${failed.length} of ${rows.length} devices failed: ${failed.map((r) => r.device).join(", ")}`);
}
