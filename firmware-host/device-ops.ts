// What a host does with a device once connected: read long replies, INFO, RUN, PROFILE, EVAL, RESET.
import { createHash } from "node:crypto";
import { BlobError } from "../runtime/errors.js";
import type { Manifest } from "../runtime/manifest.js";
import { validateManifest } from "../runtime/manifest-check.js";
import type { ProfileResult } from "../runtime/profile.js";
import { expectKind, type Answer, type DeviceClient } from "./client.js";
import { ProtocolError } from "./errors.js";
import { INFO_BLOB, INFO_MANIFEST, rawFromBytes, type RawOutput, type Request } from "./messages.js";

/** Device work allowances added to request timeouts. */
export const PROFILE_MS = 60_000, EVAL_MS = 60_000;

/**
 * The most the host reads, whatever a device announces: a manifest or a profile (JSON, a few KB for real models),
 * and a blob (also at most the maxBlob and the model size the device stated in HELLO).
 */
export const MAX_MANIFEST_BYTES = 4 << 20, MAX_PROFILE_BYTES = 4 << 20, MAX_BLOB_BYTES = 256 << 20;

/** The manifest each client's device sent last: RUN and EVAL answers are checked against it. */
const manifests = new WeakMap<DeviceClient, Manifest>();

/** Sends INFO or PROFILE and reads the whole paged reply with MORE; a total above `maxBytes` is refused before anything is allocated. */
export async function readLong(client: DeviceClient, req: Extract<Request, { kind: "info" | "profile" }>, deviceMs = 0, maxBytes = MAX_MANIFEST_BYTES): Promise<Uint8Array> {
  const { reply, seq } = await client.call(req, { deviceMs });
  if (reply.kind !== "infoOk" && reply.kind !== "profileOk") throw new ProtocolError(`expected a long reply, got ${reply.kind}`);
  const what = req.kind === "profile" ? "PROFILE" : req.what === INFO_BLOB ? "INFO (blob)" : "INFO (manifest)";
  if (reply.total > maxBytes) throw new ProtocolError(`${what}: the device announces ${reply.total} bytes; this answer has at most ${maxBytes}`);
  const out = new Uint8Array(reply.total);
  if (reply.data.length > reply.total) throw new ProtocolError("long reply: first page larger than the total");
  out.set(reply.data, 0);
  let offset = reply.data.length;
  while (offset < reply.total) {
    const more = expectKind(await client.request({ kind: "more", of: seq, offset }), "moreOk");
    if (more.offset !== offset || more.total !== reply.total || more.data.length === 0 || offset + more.data.length > reply.total) {
      throw new ProtocolError(`long reply: page at ${more.offset} (+${more.data.length}) of ${more.total} does not continue at ${offset} of ${reply.total}`);
    }
    out.set(more.data, offset);
    offset += more.data.length;
  }
  return out;
}

/** The manifest of the model the device runs, checked like a blob's own (shapes positive and bounded) before use. */
export async function deviceManifest(client: DeviceClient): Promise<Manifest> {
  const bytes = await readLong(client, { kind: "info", what: INFO_MANIFEST }, 0, MAX_MANIFEST_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ProtocolError("INFO: the device sent a manifest that is not JSON");
  }
  try {
    const manifest = validateManifest(json, "the device's manifest");
    manifests.set(client, manifest);
    return manifest;
  } catch (e) {
    if (e instanceof BlobError) throw new ProtocolError(`INFO: ${e.message}`);
    throw e;
  }
}

const elements = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
const outputBytes = (m: Manifest): number => elements(m.output.shape) * (m.output.dtype === "float32" ? 4 : 1);

/** Downloads the active blob and checks it against the model id the device announced. */
export async function fetchBlob(client: DeviceClient): Promise<Uint8Array> {
  const hello = client.device;
  const limit = Math.min(MAX_BLOB_BYTES, hello?.maxBlob || MAX_BLOB_BYTES, hello?.modelSize || MAX_BLOB_BYTES);
  const bytes = await readLong(client, { kind: "info", what: INFO_BLOB }, 0, limit);
  const id = createHash("sha256").update(bytes).digest("hex");
  if (client.device?.modelId && id !== client.device.modelId) throw new ProtocolError(`downloaded blob has SHA-256 ${id.slice(0, 12)}, the device announced ${client.device.modelId.slice(0, 12)}`);
  return bytes;
}

/**
 * The round trip of the attempt a reply answered: the last one sent at least `deviceUs` before the reply (a device
 * busier than the first timeout answers the first attempt, and the resends only hit its reply cache).
 */
export function answeredRoundTrip(answer: Answer, deviceUs: number): number {
  const busy = deviceUs / 1000;
  const ago = answer.attemptsAgoMs;
  for (let i = ago.length - 1; i >= 0; i--) if (ago[i] >= busy) return ago[i];
  return ago[0] ?? answer.rttMs;
}

export interface DeviceRun {
  index: number;
  raw: RawOutput;
  /** Time of run() on the device. */
  deviceUs: number;
  /** Request to reply, on the host. */
  rttMs: number;
}

/** One RUN; the answer must be what the device's manifest (when read with deviceManifest) says the model outputs. */
export async function runOnDevice(client: DeviceClient, pixels: Uint8Array): Promise<DeviceRun> {
  const answer = await client.call({ kind: "run", float: false, input: pixels }, { deviceMs: client.workAllowance() });
  const r = expectKind(answer.reply, "runOk");
  const rttMs = answeredRoundTrip(answer, r.deviceUs);
  const manifest = manifests.get(client);
  if (manifest) {
    const bytes = outputBytes(manifest), dtype = manifest.output.dtype === "float32" ? "float32" : "int8";
    if (r.dtype !== dtype || r.output.length !== bytes || r.index >= elements(manifest.output.shape)) {
      throw new ProtocolError(`RUN: the device answered ${r.output.length} ${r.dtype} bytes (index ${r.index}); its model outputs ${bytes} ${dtype} bytes`);
    }
  } else if (r.dtype === "float32" && r.output.length % 4 !== 0) {
    throw new ProtocolError(`RUN: ${r.output.length} bytes of float32 output`);
  }
  return { index: r.index, raw: rawFromBytes(r.output, r.dtype), deviceUs: r.deviceUs, rttMs };
}

/** Per-layer profile measured on the device (the Node agent's profileModel, or the firmware's cycle counter). */
export async function profileOnDevice(client: DeviceClient, runs: number, warmup: number): Promise<ProfileResult> {
  const bytes = await readLong(client, { kind: "profile", runs, warmup }, client.workAllowance(PROFILE_MS), MAX_PROFILE_BYTES);
  let result: unknown;
  try {
    result = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ProtocolError("PROFILE: the device sent a result that is not JSON");
  }
  return checkProfile(result, manifests.get(client) ?? null, { runs, warmup });
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const count = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const MAX_LAYERS = 100_000;

/**
 * A device's PROFILE result rebuilt from checked fields only, so that what the host prints and computes never
 * depends on what a device may put in a JSON object. Timings must be finite and non-negative; a layer has a name
 * and a p50 in µs, or a p50 in cycles with the device's clockHz. What a small device leaves out (ops, shapes, MACs,
 * weights, p90) comes from its manifest when the host has read it; shares and GMAC/s are computed here.
 */
export function checkProfile(result: unknown, manifest: Manifest | null, asked: { runs: number; warmup: number }): ProfileResult {
  const bad = (why: string): never => { throw new ProtocolError(`PROFILE: ${why}`); };
  if (!isObject(result) || !Array.isArray(result.layers) || result.layers.length > MAX_LAYERS) return bad("the device's result has no list of layers with names and times");
  const clockHz = result.clockHz === undefined ? undefined : count(result.clockHz) && result.clockHz > 0 ? result.clockHz : bad("clockHz is not a positive number");
  const fromCycles = (c: number): number => (clockHz ? (c / clockHz) * 1e6 : NaN);
  const known = manifest?.layers;
  if (known && result.layers.length !== known.length) bad(`the device timed ${result.layers.length} layers; its model has ${known.length}`);
  const rows = (result.layers as unknown[]).map((l, i) => {
    if (!isObject(l)) return bad(`layer ${i} is not an object`);
    const info = known?.[i];
    const name = typeof l.name === "string" ? l.name : info?.name ?? bad(`layer ${i} has no name`);
    const cycles = l.cycles === undefined ? undefined : count(l.cycles) ? l.cycles : bad(`layer ${i}: cycles is not a count`);
    const p50Us = count(l.p50Us) ? l.p50Us : cycles !== undefined && clockHz ? fromCycles(cycles) : bad(`layer ${i} has no time (p50Us, or cycles with clockHz)`);
    const time = (v: unknown): number => (count(v) ? v : p50Us);
    const shape = Array.isArray(l.outputShape) && l.outputShape.length <= 16 && l.outputShape.every((d) => Number.isInteger(d) && d >= 0)
      ? (l.outputShape as number[]).slice() : info?.outputShape.slice() ?? [];
    const macs = count(l.macs) ? l.macs : info?.macs ?? 0;
    return {
      index: i, name, ops: typeof l.ops === "string" ? l.ops : (info?.fused ?? []).join("+"),
      kernel: (info?.kernels ?? []).join("+"), outputShape: shape, macs,
      weightBytes: count(l.weightBytes) ? l.weightBytes : info?.weightBytes ?? 0,
      p50Us, p90Us: Math.max(p50Us, time(l.p90Us)), meanUs: time(l.meanUs), minUs: Math.min(p50Us, time(l.minUs)),
      share: 0, gmacPerSecond: p50Us > 0 ? macs / p50Us / 1000 : 0, ...(cycles !== undefined ? { cycles } : {}),
    };
  });
  const layerSumP50Us = rows.reduce((a, l) => a + l.p50Us, 0);
  for (const l of rows) l.share = layerSumP50Us > 0 ? l.p50Us / layerSumP50Us : 0;
  const e2e = isObject(result.endToEnd) ? result.endToEnd : {};
  const rawCycles = result.endToEndCycles ?? e2e.cycles;
  const endToEndCycles = rawCycles === undefined ? undefined : count(rawCycles) ? rawCycles : bad("endToEndCycles is not a count");
  const p50 = count(e2e.p50Us) ? e2e.p50Us : endToEndCycles !== undefined && clockHz ? fromCycles(endToEndCycles) : layerSumP50Us;
  const endToEnd = { p50Us: p50, p90Us: Math.max(p50, count(e2e.p90Us) ? e2e.p90Us : p50), meanUs: count(e2e.meanUs) ? e2e.meanUs : p50, minUs: Math.min(p50, count(e2e.minUs) ? e2e.minUs : p50) };
  const text = (v: unknown, fallback: string): string => (typeof v === "string" ? v.slice(0, 200) : fallback);
  return {
    model: text(result.model, manifest?.model ?? ""), target: text(result.target, manifest?.target ?? ""), quantize: text(result.quantize, manifest?.quantize ?? ""),
    runs: Number.isInteger(result.runs) && (result.runs as number) >= 0 ? result.runs as number : asked.runs,
    warmup: Number.isInteger(result.warmup) && (result.warmup as number) >= 0 ? result.warmup as number : asked.warmup,
    layers: rows, layerSumP50Us, endToEnd, gap: p50 > 0 ? (layerSumP50Us - p50) / p50 : 0,
    ...(clockHz !== undefined ? { clockHz } : {}), ...(endToEndCycles !== undefined ? { endToEndCycles } : {}),
  };
}

export interface DeviceEval {
  count: number;
  correct: number;
  predictions: Uint16Array;
  /** Raw outputs per image when asked for. */
  outputs: RawOutput[];
  deviceUs: number;
  linkMs: number;
}

/** EVAL over a data set, in batches as large as the frame allows; accuracy is computed on the device. */
export async function evalOnDevice(client: DeviceClient, manifest: Manifest, pixels: Uint8Array, labels: Uint8Array,
  options: { outputs?: boolean; onProgress?: (done: number) => void } = {}): Promise<DeviceEval> {
  const inputSize = elements(manifest.input.shape);
  const outputSize = elements(manifest.output.shape);
  const dtype = manifest.output.dtype === "float32" ? "float32" : "int8";
  const outBytes = options.outputs ? outputSize * (dtype === "float32" ? 4 : 1) : 0;
  const count = labels.length;
  const batch = Math.min(65535, Math.floor((client.maxBody - 3) / (inputSize + 1)), Math.floor((client.maxBody - 12) / (2 + outBytes)));
  if (batch < 1) throw new ProtocolError(`an image of ${inputSize} bytes does not fit the link's ${client.channel.sendLimit}-byte frames`);
  const result: DeviceEval = { count, correct: 0, predictions: new Uint16Array(count), outputs: [], deviceUs: 0, linkMs: 0 };
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const answer = await client.call({ kind: "eval", outputs: Boolean(options.outputs), count: n,
      inputs: pixels.subarray(start * inputSize, (start + n) * inputSize), labels: labels.subarray(start, start + n) }, { deviceMs: client.workAllowance(EVAL_MS) });
    const r = expectKind(answer.reply, "evalOk");
    const rttMs = answeredRoundTrip(answer, r.deviceUs);
    if (r.count !== n || r.outputs.length !== n * outBytes || r.correct > n || r.predictions.some((p) => p >= outputSize)) {
      throw new ProtocolError(`EVAL: asked for ${n} results of ${outputSize} classes${outBytes ? ` with ${outBytes}-byte outputs` : ""}; `
        + `the device answered ${r.count} (${r.correct} correct, ${r.outputs.length} output bytes)`);
    }
    result.correct += r.correct;
    result.predictions.set(r.predictions, start);
    for (let i = 0; i < n && outBytes; i++) result.outputs.push(rawFromBytes(r.outputs.subarray(i * outBytes, (i + 1) * outBytes), dtype));
    result.deviceUs += r.deviceUs;
    result.linkMs += Math.max(0, rttMs - r.deviceUs / 1000);
    options.onProgress?.(start + n);
  }
  return result;
}

export async function resetDevice(client: DeviceClient, discardUpload = false): Promise<void> {
  expectKind(await client.request({ kind: "reset", discardUpload }), "resetOk");
}
