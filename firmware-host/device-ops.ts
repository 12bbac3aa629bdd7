// What a host does with a device once connected: read long replies, INFO, RUN, PROFILE, EVAL, RESET.
import { createHash } from "node:crypto";
import type { Manifest } from "../runtime/manifest.js";
import type { ProfileResult } from "../runtime/profile.js";
import { expectKind, type DeviceClient } from "./client.js";
import { ProtocolError } from "./errors.js";
import { INFO_BLOB, INFO_MANIFEST, rawFromBytes, type RawOutput, type Request } from "./messages.js";

/** Device work allowances added to request timeouts. */
export const PROFILE_MS = 60_000, EVAL_MS = 60_000;

/** Sends INFO or PROFILE and reads the whole paged reply with MORE. */
export async function readLong(client: DeviceClient, req: Extract<Request, { kind: "info" | "profile" }>, deviceMs = 0): Promise<Uint8Array> {
  const { reply, seq } = await client.call(req, { deviceMs });
  if (reply.kind !== "infoOk" && reply.kind !== "profileOk") throw new ProtocolError(`expected a long reply, got ${reply.kind}`);
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

/** The manifest of the model the device runs. */
export async function deviceManifest(client: DeviceClient): Promise<Manifest> {
  const bytes = await readLong(client, { kind: "info", what: INFO_MANIFEST });
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
  } catch {
    throw new ProtocolError("INFO: the device sent a manifest that is not JSON");
  }
}

/** Downloads the active blob and checks it against the model id the device announced. */
export async function fetchBlob(client: DeviceClient): Promise<Uint8Array> {
  const bytes = await readLong(client, { kind: "info", what: INFO_BLOB });
  const id = createHash("sha256").update(bytes).digest("hex");
  if (client.device?.modelId && id !== client.device.modelId) throw new ProtocolError(`downloaded blob has SHA-256 ${id.slice(0, 12)}, the device announced ${client.device.modelId.slice(0, 12)}`);
  return bytes;
}

export interface DeviceRun {
  index: number;
  raw: RawOutput;
  /** Time of run() on the device. */
  deviceUs: number;
  /** Request to reply, on the host. */
  rttMs: number;
}

export async function runOnDevice(client: DeviceClient, pixels: Uint8Array): Promise<DeviceRun> {
  const { reply, rttMs } = await client.call({ kind: "run", float: false, input: pixels });
  const r = expectKind(reply, "runOk");
  return { index: r.index, raw: rawFromBytes(r.output, r.dtype), deviceUs: r.deviceUs, rttMs };
}

/** Per-layer profile measured on the device with the runtime's profileModel. */
export async function profileOnDevice(client: DeviceClient, runs: number, warmup: number): Promise<ProfileResult> {
  const bytes = await readLong(client, { kind: "profile", runs, warmup }, PROFILE_MS);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as ProfileResult;
  } catch {
    throw new ProtocolError("PROFILE: the device sent a result that is not JSON");
  }
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
  const inputSize = manifest.input.shape.reduce((a, b) => a * b, 1);
  const outputSize = manifest.output.shape.reduce((a, b) => a * b, 1);
  const dtype = manifest.output.dtype === "float32" ? "float32" : "int8";
  const outBytes = options.outputs ? outputSize * (dtype === "float32" ? 4 : 1) : 0;
  const count = labels.length;
  const batch = Math.min(65535, Math.floor((client.maxBody - 3) / (inputSize + 1)), Math.floor((client.maxBody - 12) / (2 + outBytes)));
  if (batch < 1) throw new ProtocolError(`an image of ${inputSize} bytes does not fit the link's ${client.channel.sendLimit}-byte frames`);
  const result: DeviceEval = { count, correct: 0, predictions: new Uint16Array(count), outputs: [], deviceUs: 0, linkMs: 0 };
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const { reply, rttMs } = await client.call({ kind: "eval", outputs: Boolean(options.outputs), count: n,
      inputs: pixels.subarray(start * inputSize, (start + n) * inputSize), labels: labels.subarray(start, start + n) }, { deviceMs: EVAL_MS });
    const r = expectKind(reply, "evalOk");
    if (r.count !== n || r.outputs.length !== n * outBytes) throw new ProtocolError(`EVAL: asked for ${n} results, got ${r.count}`);
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
