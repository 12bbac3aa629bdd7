// The one-file agent (dist/kiln-agent.mjs) on an emulated Raspberry Pi — Debian bookworm's arm64 Node 18 under
// qemu-aarch64 (tests/emulated-pi/setup.sh) — driven from this x86 host over TCP and over a socat pty serial link
// (the arm64 serialport binding): kiln deploy, kiln bench's per-layer profile, and EVAL of 200 MNIST test images whose
// output bytes equal this host's own run of the same blob (runtime/model.ts on x86 V8), for the SIMD and scalar blobs.
//
//   host: kiln CLI / this process (x86 V8) ── tcp 127.0.0.1 or pty A ═socat═ pty B ── qemu-aarch64: node 18 kiln-agent.mjs
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deviceManifest, evalOnDevice } from "../firmware-host/device-ops.js";
import { parseDeviceUri } from "../firmware-host/device-uri.js";
import { DeviceTarget } from "../firmware-host/target.js";
import { mnistPaths, readIdx } from "../io/idx.js";
import { blobFromFile, hostRaw, kiln, ROOT, socatPair, type Blob, type Spawned } from "./device-helpers.js";
import { tempDir } from "./helpers.js";
import { requireCommand } from "./require-tool.js";
import { piRunner, residentKiB, startAgentOn, type RunningAgent } from "./emulated-pi/agent-process.js";
import { requireEmulatedPi } from "./emulated-pi/emulator.js";

const emulator = requireEmulatedPi();
const socat = requireCommand("socat", "apt-get install socat", ["-V"]);
const IMAGES = 200;
/** The emulator runs code 50–100× slower than native and a busy 2-core machine slows it again: minutes, not seconds. */
const DEVICE_MS = 300_000;
const TOKEN = "emulated-pi-secret";
/** The host names the variable that holds the token (the agent reads KILN_TOKEN): no token on any command line. */
const HOST_TOKEN_ENV = "KILN_PI_TEST_TOKEN";

let simd: Blob, scalar: Blob;
let pixels: Uint8Array, labels: Uint8Array;
/** This host's raw output bytes for each image, per blob: the reference. */
const reference = new Map<Blob, Uint8Array[]>();

async function compileZooBlob(dir: string, target: "simd" | "scalar"): Promise<Blob> {
  const path = join(dir, `mnist-cnn-${target}.wasm`);
  const r = await kiln(["compile", join(ROOT, "models", "mnist-cnn", "model.json"), "--target", target, "-o", path], DEVICE_MS);
  if (r.status !== 0) throw new Error(`kiln compile --target ${target} failed: ${r.stderr}`);
  return blobFromFile(path);
}

const bytesOf = (raw: Int8Array | Float32Array): Uint8Array => new Uint8Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));

/** kiln deploy, kiln bench (profile only) and EVAL of the MNIST images on `device`, checked against this host's run. */
async function deployBenchEval(device: string, agent: RunningAgent, blob: Blob, link: string): Promise<void> {
  const label = `[pi arm64 ${link}] mnist-cnn ${blob.model.info.target}`;
  const d = await kiln(["deploy", blob.path, "--device", device, "--json"], DEVICE_MS);
  expect(d.status, d.stderr + agent.stderr()).toBe(0);
  const deployed = JSON.parse(d.stdout);
  expect(deployed.modelId).toBe(blob.id);
  // It is the emulated Pi that answers: Debian's Node 18 on arm64, with WebAssembly SIMD.
  expect(deployed.device.runtime).toMatch(/^node v18\.\d+\.\d+ .*linux-arm64$/);
  expect(deployed.device.simd).toBe(true);

  const b = await kiln(["bench", blob.path, "--device", device, "--runs", "20", "--warmup", "3", "--link-runs", "5", "--json"], DEVICE_MS);
  expect(b.status, b.stderr + agent.stderr()).toBe(0);
  const bench = JSON.parse(b.stdout);
  const layers = blob.model.info.layers;
  expect(bench.profile.layers.map((l: { name: string }) => l.name)).toEqual(layers.map((l) => l.name));
  expect(bench.profile.layers.every((l: { p50Us: number; p90Us: number }) => l.p50Us > 0 && l.p90Us >= l.p50Us)).toBe(true);

  const target = await DeviceTarget.open(parseDeviceUri(device));
  const client = await target.connect("pi-arm64-test");
  try {
    const started = performance.now();
    const result = await evalOnDevice(client, await deviceManifest(client), pixels, labels, { outputs: true });
    const seconds = (performance.now() - started) / 1000;
    const expected = reference.get(blob)!;
    const differing = result.outputs.map((raw, i) => Buffer.compare(bytesOf(raw), expected[i])).filter((c) => c !== 0).length;
    expect(result.outputs.length).toBe(IMAGES);
    expect(differing, "images whose output bytes differ from the x86 host's").toBe(0);
    let correct = 0;
    for (let i = 0; i < IMAGES; i++) {
      expect(result.predictions[i]).toBe(blob.model.predict(pixels.subarray(i * 784, (i + 1) * 784)).index);
      if (result.predictions[i] === labels[i]) correct++;
    }
    expect(result.correct).toBe(correct);
    expect(correct / IMAGES).toBeGreaterThan(0.9);
    console.log(`${label}: deploy ${deployed.size} B in ${deployed.seconds.toFixed(2)} s; profile layer sum p50 ${bench.profile.layerSumP50Us.toFixed(0)} µs `
      + `(${bench.profile.layers.map((l: { name: string; p50Us: number }) => `${l.name} ${l.p50Us.toFixed(0)}`).join(", ")}); `
      + `EVAL ${IMAGES} images: ${correct} correct, outputs equal to x86 on all, device ${(result.deviceUs / 1e3).toFixed(0)} ms `
      + `(${(IMAGES / (result.deviceUs / 1e6)).toFixed(0)} images/s), ${seconds.toFixed(2)} s wall; agent RSS ${residentKiB(agent.pid)} KiB (qemu's)`);
  } finally {
    await client.close();
    await target.dispose();
  }
}

describe.skipIf(!emulator.ok)(`dist/kiln-agent.mjs on an emulated Raspberry Pi (arm64 Node 18 under qemu-aarch64)${emulator.note}`, () => {
  const pi = emulator.pi!;
  let agent: RunningAgent | null = null;

  beforeAll(async () => {
    const dir = tempDir("kiln-pi-");
    // Each blob is compiled once and serves both links.
    simd = await compileZooBlob(dir, "simd");
    scalar = await compileZooBlob(dir, "scalar");
    const { testImages, testLabels } = mnistPaths();
    pixels = readIdx(testImages, IMAGES).data;
    labels = readIdx(testLabels, IMAGES).data;
    for (const blob of [simd, scalar]) {
      reference.set(blob, Array.from({ length: IMAGES }, (_, i) => bytesOf(hostRaw(blob, pixels.subarray(i * 784, (i + 1) * 784))).slice()));
    }
    process.env[HOST_TOKEN_ENV] = TOKEN;
  }, DEVICE_MS);

  afterAll(async () => {
    await agent?.stop();
    delete process.env[HOST_TOKEN_ENV];
  });

  describe("over TCP, the token from KILN_TOKEN", () => {
    let device = "";

    beforeAll(async () => {
      agent = await startAgentOn(piRunner(pi), ["--tcp", "127.0.0.1:0", "--store", join(tempDir("kiln-pi-tcp-"), "store")], { KILN_TOKEN: TOKEN });
      device = `tcp://127.0.0.1:${agent.port}?token-env=${HOST_TOKEN_ENV}&timeout=3000`;
      console.log(`[pi arm64 tcp] agent on ${pi.nodeVersion}: serving after ${(agent.coldStartMs / 1000).toFixed(2)} s, idle RSS ${residentKiB(agent.pid)} KiB (qemu's)`);
    }, DEVICE_MS);

    afterAll(async () => {
      await agent?.stop();
      agent = null;
    });

    it("the token never appears on the agent's command line or in its log", () => {
      expect(agent!.where).toBe(`tcp 127.0.0.1:${agent!.port}`);
      expect(agent!.stdout() + agent!.stderr()).not.toContain(TOKEN);
    });

    it("mnist-cnn SIMD blob: kiln deploy, kiln bench per layer, EVAL of 200 MNIST images equal to x86 bit for bit", async () => {
      await deployBenchEval(device, agent!, simd, "tcp");
    }, DEVICE_MS);

    it("mnist-cnn scalar blob (--target scalar): the same", async () => {
      await deployBenchEval(device, agent!, scalar, "tcp");
    }, DEVICE_MS);
  });

  describe.skipIf(!socat.ok)(`over a socat pty serial link with the arm64 serialport binding${socat.note}`, () => {
    let pair: Spawned & { a: string; b: string };
    let device = "";

    beforeAll(async () => {
      const dir = tempDir("kiln-pi-serial-");
      pair = await socatPair(dir, "A", "B");
      agent = await startAgentOn(piRunner(pi), ["--serial", pair.b, "--store", join(dir, "store")]);
      device = `serial:${pair.a}?timeout=3000`;
    }, DEVICE_MS);

    afterAll(async () => {
      await agent?.stop();
      agent = null;
      await pair?.stop();
    });

    it("mnist-cnn SIMD blob: kiln deploy, kiln bench per layer, EVAL of 200 MNIST images equal to x86 bit for bit", async () => {
      expect(agent!.where).toMatch(new RegExp(`^serial ${pair.b} `));
      await deployBenchEval(device, agent!, simd, "serial");
    }, DEVICE_MS);

    it("mnist-cnn scalar blob (--target scalar): the same", async () => {
      await deployBenchEval(device, agent!, scalar, "serial");
    }, DEVICE_MS);
  });
});
