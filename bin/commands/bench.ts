// `kiln bench --device`: the per-layer profile measured on a device, link time apart, and on-device accuracy (several devices: fleet-bench.ts).
import { createHash } from "node:crypto";
import { KilnError } from "../../compiler/errors.js";
import { readLabelledImages, type LabelledImages } from "../../io/idx.js";
import { WorkerModel } from "../../runtime/worker-model.js";
import type { DeviceClient } from "../../firmware-host/client.js";
import { deploy } from "../../firmware-host/deploy.js";
import { deviceManifest, evalOnDevice, fetchBlob, profileOnDevice } from "../../firmware-host/device-ops.js";
import { DeviceTarget } from "../../firmware-host/target.js";
import { defineCommand, parseArgs } from "../args.js";
import { formatBytes, type Io } from "../io.js";
import { progressBar } from "../progress.js";
import { escapeControl } from "../terminal.js";
import { BOLD, paint, useColor } from "../table.js";
import { asKilnError, deviceUriOption, helloLine, linkTiming } from "./device-common.js";
import { fleetDevices } from "../fleet-file.js";
import { benchFleet } from "./fleet-bench.js";
import { readBlob } from "./deploy.js";
import { profileTable } from "./profile.js";

export const benchSpec = defineCommand({
  name: "bench",
  summary: "profile the model on a device per layer (device time and link time apart); accuracy on the device",
  usage: "kiln bench [blob.wasm] (--device <uri> [--device <uri> …] | --fleet <file>) [--runs N] [--images <idx> --labels <idx>] [--json]",
  options: {
    device: { type: "string", multiple: true, description: "serial:/dev/ttyUSB0?baud=115200, tcp://host:port?token-env=NAME, or local; repeat it to compare devices" },
    fleet: { type: "string", description: "a file of device URIs, one per line: their profiles side by side" },
    sequential: { type: "boolean", description: "with several devices: one after another (agents sharing one machine's CPUs)" },
    runs: { type: "number", integer: true, min: 1, max: 1_000_000, description: "timed profile runs on the device", default: 200 },
    warmup: { type: "number", integer: true, min: 0, max: 1_000_000, description: "untimed runs first", default: 20 },
    "link-runs": { type: "number", integer: true, min: 1, max: 1_000_000, description: "RUN round trips timed to separate link time from device time", default: 20 },
    images: { type: "string", description: "idx images: accuracy measured on the device (EVAL)" },
    labels: { type: "string", description: "idx labels for --images" },
    count: { type: "number", integer: true, min: 1, max: 1_000_000_000, description: "evaluate the first N images", default: 1000 },
    json: { type: "boolean", description: "one JSON object" },
    quiet: { type: "boolean", short: "q", description: "no progress bars" },
  },
});

const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export async function benchCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(benchSpec, argv);
  const o = parsed.options;
  if (parsed.positionals.length > 1) throw new KilnError(`kiln bench: unexpected argument '${parsed.positionals[1]}' (usage: ${benchSpec.usage})`, 2);
  const devices = o.device;
  const { runs, warmup, count } = o, linkRuns = o["link-runs"];
  if (Boolean(o.images) !== Boolean(o.labels)) throw new KilnError("kiln bench: --images and --labels go together", 2);
  if (o.fleet !== undefined || devices.length > 1) {
    if (o.images) throw new KilnError("kiln bench: --images measures accuracy on one device; with several devices, bench them one at a time", 2);
    const fleet = fleetDevices("bench", devices, o.fleet);
    const path = parsed.positionals[0];
    const read = path ? await readBlob("bench", path) : null;
    const blob = read ? { path, bytes: read.bytes, info: read.model.info } : null;
    await benchFleet(fleet, { blob, runs, warmup, linkRuns, sequential: o.sequential, json: o.json, quiet: o.quiet }, io);
    return;
  }
  const uri = deviceUriOption("bench", devices[0]);
  let data: LabelledImages | null = null;
  if (o.images && o.labels) {
    try { data = readLabelledImages(o.images, o.labels); } catch (e) { throw new KilnError(`kiln bench: ${(e as Error).message}`); }
  }
  const local = parsed.positionals[0] ? await readBlob("bench", parsed.positionals[0]) : null;
  const show = !o.json && !o.quiet;
  const color = useColor();
  const target = await DeviceTarget.open(uri);
  let client: DeviceClient | null = null;
  try {
    client = await target.connect();
    if (local && client.device?.modelId !== sha256Hex(local.bytes)) {
      await client.close();
      if (!o.json) io.err(`deploying ${escapeControl(parsed.positionals[0])} first (the device ${client.device?.modelId ? `runs ${escapeControl(client.device.modelName)}` : "has no model"})`);
      await deploy(target, local.bytes, { name: parsed.positionals[0], needsSimd: local.model.info.simd });
      client = await target.connect();
    }
    const hello = client.device!;
    if (!hello.modelId) throw new KilnError(`kiln bench: ${target.description} has no model; pass a blob or kiln deploy one first`);
    if (!o.json) io.out(escapeControl(helloLine(hello, target.description)));
    const manifest = await deviceManifest(client);
    const inputSize = manifest.input.shape.reduce((a, b) => a * b, 1);
    const profile = await profileOnDevice(client, runs, warmup);
    const link = await linkTiming(client, inputSize, linkRuns);
    let evalResult: { count: number; correct: number; accuracy: number; deviceUs: number; linkMs: number; seconds: number; outputsEqual: number; mismatches: number; predictionsDiffer: number } | null = null;
    let mismatches = 0;
    if (data) {
      const n = Math.min(count, data.count);
      if (inputSize !== data.height * data.width * data.channels) throw new KilnError(`kiln bench: images are ${data.height}×${data.width}×${data.channels}; the device's model expects [${manifest.input.shape}]`);
      const bar = progressBar("evaluating on the device", n, show);
      const pixels = data.pixels.subarray(0, n * inputSize), labels = data.labels.subarray(0, n);
      const started = performance.now();
      const r = await evalOnDevice(client, manifest, pixels, labels, { outputs: true, onProgress: (d) => bar.update(d) });
      bar.done();
      const seconds = (performance.now() - started) / 1000;
      // The host's own run of the same blob (downloaded from the device when none was given), output for output.
      // On a worker with a time limit per image: a blob that never returns stops with an error, not a hang.
      const hostModel = await WorkerModel.load(local?.bytes ?? await fetchBlob(client));
      const ours = await hostModel.classify(pixels, n, { outputs: true, perInference: true }).finally(() => hostModel.close());
      const rawBytes = ours.outputs.length / n;
      // An image counts as a mismatch when its output bytes or the device's prediction differ from the host's.
      let predictionsDiffer = 0;
      for (let i = 0; i < n; i++) {
        const differ = r.predictions[i] !== ours.predictions[i];
        if (differ) predictionsDiffer++;
        if (differ || !sameBytes(ours.outputs.subarray(i * rawBytes, (i + 1) * rawBytes), r.outputs[i])) mismatches++;
      }
      evalResult = { count: n, correct: r.correct, accuracy: r.correct / n, deviceUs: r.deviceUs, linkMs: r.linkMs, seconds, outputsEqual: n - mismatches, mismatches, predictionsDiffer };
    }
    if (o.json) {
      io.out(JSON.stringify({ device: hello, model: manifest.model, profile, link, eval: evalResult }));
    } else {
      io.out(paint(`measured on the device (${hello.device}, ${hello.runtime})`, BOLD, color));
      profileTable(profile, color).forEach((l) => io.out(l));
      io.out("");
      io.out(`link: RUN round trip p50 ${(link.roundTripP50Us / 1000).toFixed(2)} ms = device run() p50 ${link.deviceRunP50Us.toFixed(1)} µs `
        + `+ link ${(link.linkP50Us / 1000).toFixed(2)} ms (${formatBytes(link.requestBytes)} out, ${formatBytes(link.replyBytes)} back, ${link.runs} runs)`);
      if (evalResult) {
        const e = evalResult;
        io.out(`accuracy on the device: ${(100 * e.accuracy).toFixed(2)} % (${e.correct}/${e.count}); device ${(e.deviceUs / 1000).toFixed(1)} ms, `
          + `link ${(e.linkMs / 1000).toFixed(2)} s of ${e.seconds.toFixed(2)} s`);
        io.out(mismatches === 0 ? `device outputs equal the host's run of the same blob on all ${e.count} images`
          : `device outputs DIFFER from the host's run of the same blob on ${mismatches} of ${e.count} images`);
      }
    }
    if (mismatches > 0) throw new KilnError(`kiln bench: device outputs differ from the host's on ${mismatches} images`);
  } catch (e) {
    throw asKilnError("bench", e);
  } finally {
    await client?.close().catch(() => {});
    await target.dispose();
  }
}
