// `kiln deploy`: puts a blob on a device (serial, TCP or local) with a verified, resumable upload (several devices: fleet-deploy.ts).
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { KilnError } from "../../compiler/errors.js";
import { INPUT_LIMITS, readInputFile } from "../../io/input-file.js";
import { inspectBlob, type Manifest } from "../../runtime/model.js";
import { deploy } from "../../firmware-host/deploy.js";
import { DeviceTarget } from "../../firmware-host/target.js";
import { UnreachableError } from "../../firmware-host/errors.js";
import { defineCommand, parseArgs, requirePositionals } from "../args.js";
import { formatBytes, type Io } from "../io.js";
import { modelNotBlob } from "../blob-runs.js";
import { asKilnError, deviceUriOption, helloLine, rate, transferBar } from "./device-common.js";
import { fleetDevices } from "../fleet-file.js";
import { deployToFleet } from "./fleet-deploy.js";
import { escapeControl } from "../terminal.js";

export const deploySpec = defineCommand({
  name: "deploy",
  summary: "upload a blob to a device; it is verified there and replaces the running model atomically",
  usage: "kiln deploy <blob.wasm> --device <uri> [--device <uri> …] [--fleet <file>] [--json]",
  options: {
    device: { type: "string", multiple: true, description: "serial:/dev/ttyUSB0?baud=115200, tcp://host:port?token-env=NAME, or local; repeat it for several devices" },
    fleet: { type: "string", description: "a file of device URIs, one per line (# comments; tokens only as token-env=NAME): deploy to all of them at once" },
    sessions: { type: "number", integer: true, min: 1, max: 100, description: "connections to try; each resumes where the last one stopped", default: 4 },
    json: { type: "boolean", description: "the result as one JSON object" },
    quiet: { type: "boolean", short: "q", description: "no progress bar" },
  },
});

/** Reads a blob and checks locally that it is a Kiln blob, before spending link time on it (none of its code runs). */
export async function readBlob(command: string, path: string): Promise<{ bytes: Uint8Array; model: { info: Manifest } }> {
  if (!existsSync(path)) throw new KilnError(`kiln ${command}: ${path}: file not found`);
  const notBlob = modelNotBlob(command, path);
  if (notBlob) throw notBlob;
  let bytes: Uint8Array;
  try {
    bytes = readInputFile(path, "blob", INPUT_LIMITS.maxBlobBytes);
  } catch (e) {
    throw new KilnError(`kiln ${command}: ${(e as Error).message}`);
  }
  try {
    return { bytes, model: { info: (await inspectBlob(bytes)).info } };
  } catch (e) {
    throw new KilnError(`kiln ${command}: ${path}: ${(e as Error).message}`);
  }
}

export async function deployCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(deploySpec, argv);
  const [blobPath] = requirePositionals(deploySpec, parsed, 1, "<blob.wasm>");
  const o = parsed.options;
  const devices = o.device, sessions = o.sessions;
  if (o.fleet !== undefined || devices.length > 1) {
    // Every device is checked before the blob is read or anything is connected.
    const fleet = fleetDevices("deploy", devices, o.fleet);
    const { bytes, model } = await readBlob("deploy", blobPath);
    await deployToFleet(fleet, { blobPath, bytes, info: model.info, sessions, json: o.json, quiet: o.quiet }, io);
    return;
  }
  const uri = deviceUriOption("deploy", devices[0]);
  const { bytes, model } = await readBlob("deploy", blobPath);
  const target = await DeviceTarget.open(uri);
  const progress = transferBar("uploading", !o.json && !o.quiet);
  try {
    const r = await deploy(target, bytes, {
      name: basename(blobPath), sessions, needsSimd: model.info.simd,
      onHello: (h) => { if (!o.json) io.out(escapeControl(helloLine(h, target.description))); },
      onProgress: (done, total) => progress.update(done, total),
      onRetry: (session, e, acked) => {
        progress.done();
        if (o.json) return;
        // Before any byte arrived there is nothing to resume: the device may not even have been reached.
        if (e instanceof UnreachableError && acked === 0) io.err(`${e.message}; trying again (${session + 1} of ${sessions})`);
        else io.err(`link error: ${e.message}; reconnecting (session ${session + 1} of ${sessions}, device holds ${acked} bytes)`);
      },
    });
    progress.done();
    if (o.json) {
      io.out(JSON.stringify({
        device: r.hello, modelId: r.modelId, model: r.name, size: r.size, seconds: r.seconds, bytesPerSecond: r.size / r.seconds,
        sessions: r.sessions, resumedFrom: r.resumedFrom, alreadyActive: r.alreadyActive, chunks: r.chunks, failedAttempts: r.failedAttempts, wireBytesOut: r.wireBytesOut,
      }));
      return;
    }
    if (r.alreadyActive) { io.out(`the device already runs this blob: model ${escapeControl(r.modelId)} (${escapeControl(model.info.model)}, ${formatBytes(r.size)})`); return; }
    io.out(`committed model ${escapeControl(r.modelId)} (${escapeControl(model.info.model)}, ${formatBytes(r.size)}) in ${r.seconds.toFixed(2)} s, ${rate(r.size, r.seconds)}`
      + (r.resumedFrom > 0 ? `, resumed at byte ${r.resumedFrom}` : "")
      + (r.failedAttempts > 0 ? `, ${r.failedAttempts} chunk attempts repeated` : ""));
  } catch (e) {
    progress.done();
    throw asKilnError("deploy", e);
  } finally {
    await target.dispose();
  }
}
