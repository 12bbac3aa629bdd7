// Shared by `kiln deploy` and `kiln bench`: device URIs as usage errors, one-line device errors, HELLO, transfer display, RUN timing.
import { KilnError, UsageError } from "../../compiler/errors.js";
import { stats } from "../../runtime/profile.js";
import type { DeviceClient } from "../../firmware-host/client.js";
import { runOnDevice } from "../../firmware-host/device-ops.js";
import { DeviceUriError, parseDeviceUri, redactTokens, type DeviceUri } from "../../firmware-host/device-uri.js";
import { DeviceError, LinkError, ProtocolError } from "../../firmware-host/errors.js";
import { DeployError } from "../../firmware-host/deploy.js";
import type { HelloInfo } from "../../firmware-host/messages.js";
import { formatBytes } from "../io.js";
import { bar } from "../table.js";

export function deviceUriOption(command: string, value: string | undefined): DeviceUri {
  if (!value) throw new UsageError(`kiln ${command}: --device <uri> is required (serial:/dev/ttyUSB0?baud=115200, tcp://host:port?token-env=NAME or local), or --fleet <file>`);
  try {
    return parseDeviceUri(value);
  } catch (e) {
    if (e instanceof DeviceUriError) throw new UsageError(`kiln ${command}: ${e.message}`);
    throw e;
  }
}

/** Turns link and device failures into a one-line KilnError (exit 1), tokens redacted; anything else passes through. */
export function asKilnError(command: string, e: unknown): unknown {
  if (e instanceof DeployError || e instanceof LinkError || e instanceof DeviceError || e instanceof ProtocolError || e instanceof DeviceUriError) {
    return new KilnError(`kiln ${command}: ${redactTokens((e as Error).message)}`);
  }
  return e;
}

export function helloLine(h: HelloInfo, where: string): string {
  const model = h.modelId ? `runs ${h.modelName || "a model"} (${h.modelId.slice(0, 12)}, ${formatBytes(h.modelSize)})` : "no model yet";
  return `device ${h.device} at ${where}: ${h.runtime}, SIMD ${h.simd ? "yes" : "no"}, frames ≤ ${h.maxFrame} B, `
    + `memory ≤ ${formatBytes(h.memoryLimit)}; ${model}`;
}

export function rate(bytes: number, seconds: number): string {
  return seconds > 0 ? `${formatBytes(Math.round(bytes / seconds))}/s` : "-";
}

/** A transfer bar with bytes/s on stderr, drawn only on a terminal. */
export function transferBar(label: string, enabled: boolean, stream: NodeJS.WriteStream = process.stderr): { update(done: number, total: number): void; done(): void } {
  if (!enabled || !stream.isTTY) return { update: () => {}, done: () => {} };
  const started = performance.now();
  let first = -1, lastDraw = 0, drawn = false;
  return {
    update(done, total) {
      if (first < 0) first = done;
      const now = performance.now();
      if (now - lastDraw < 80 && done < total) return;
      lastDraw = now;
      drawn = true;
      const seconds = (now - started) / 1000;
      const share = total > 0 ? done / total : 1;
      stream.write(`\r${label} ${bar(share, 24).padEnd(24)} ${String(Math.floor(share * 100)).padStart(3)}%  `
        + `${formatBytes(done)}/${formatBytes(total)}  ${rate(done - first, seconds)}   `);
    },
    done() { if (drawn) stream.write("\n"); },
  };
}

function sampleInput(size: number): Uint8Array {
  let s = 4242;
  return Uint8Array.from({ length: size }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24));
}

/** RUN round trips of a fixed input: the host-side time, and the share of it the device spent in run(). */
export async function linkTiming(client: DeviceClient, inputSize: number, runs: number) {
  const input = sampleInput(inputSize);
  const rtt: number[] = [], device: number[] = [];
  let outBytes = 0;
  for (let i = 0; i < runs; i++) {
    const r = await runOnDevice(client, input);
    rtt.push(r.rttMs * 1000);
    device.push(r.deviceUs);
    outBytes = r.raw.byteLength;
  }
  const rt = stats(rtt), dev = stats(device);
  return { runs, roundTripP50Us: rt.p50Us, roundTripP90Us: rt.p90Us, deviceRunP50Us: dev.p50Us, linkP50Us: Math.max(0, rt.p50Us - dev.p50Us), requestBytes: inputSize + 1, replyBytes: outBytes + 11 };
}

