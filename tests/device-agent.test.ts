// The agent and the host in one process: deploy, INFO/RUN/PROFILE/EVAL, the verified atomic swap, resume, lossy links, CLI with --device local.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { profileModel } from "../runtime/profile.js";
import type { Agent } from "../firmware-host/agent.js";
import { DeviceClient } from "../firmware-host/client.js";
import { deploy, type Connector } from "../firmware-host/deploy.js";
import { deviceManifest, evalOnDevice, fetchBlob, profileOnDevice, resetDevice, runOnDevice } from "../firmware-host/device-ops.js";
import { DeviceError } from "../firmware-host/errors.js";
import type { Link } from "../firmware-host/link.js";
import { localPair } from "../firmware-host/local.js";
import { ErrorCode } from "../firmware-host/messages.js";
import { createAgent } from "../firmware-host/serve.js";
import { sha256 } from "../firmware-host/upload.js";
import { Relay } from "./device-relay.js";
import { blobFromFile, hostRaw, kiln, samplePixels, storedModelId, tinyBlob, type Blob } from "./device-helpers.js";
import { tempDir } from "./helpers.js";

let A: Blob, B: Blob;

beforeAll(async () => {
  A = await tinyBlob(1);
  B = await tinyBlob(2, 6, 4);
});

/** An agent on a store, and sessions with it over in-process links (optionally through a relay). */
async function device(options: { memoryLimit?: number; maxBlob?: number; token?: string; store?: string } = {}) {
  const store = options.store ?? tempDir("kiln-store-");
  const agent = await createAgent({ store, requireHello: true, ...options });
  const connect = async (clientOptions: { maxFrame?: number; token?: string; relay?: Relay; timeoutMs?: number } = {}): Promise<DeviceClient> => {
    const [host, dev] = localPair("test");
    let hostEnd: Link = host;
    if (clientOptions.relay) {
      const [h2, r1] = localPair("relay-host");
      clientOptions.relay.attach(r1, host);
      hostEnd = h2;
    }
    agent.serve(dev);
    const client = new DeviceClient(hostEnd, { maxFrame: clientOptions.maxFrame, token: clientOptions.token ?? options.token, timeoutMs: clientOptions.timeoutMs });
    await client.hello();
    return client;
  };
  const connector = (o: Parameters<typeof connect>[0] = {}): Connector => ({ description: "test device", connect: () => connect(o) });
  return { store, agent, connect, connector };
}

function expectServes(d: { store: string; agent: Agent }, blob: Blob | null): void {
  expect(d.agent.store.active?.id ?? null).toBe(blob?.id ?? null);
  expect(storedModelId(d.store)).toBe(blob?.id ?? null);
}

/** LOAD_BEGIN announcing `announced`, then the chunks of `bytes` (which may differ), then COMMIT. */
async function rawUpload(client: DeviceClient, announced: Uint8Array, bytes: Uint8Array): Promise<void> {
  const hash = sha256(announced);
  await client.request({ kind: "loadBegin", size: announced.length, sha256: hash, crc32: 0, name: "raw" });
  for (let o = 0; o < bytes.length; o += 1000) await client.request({ kind: "loadChunk", offset: o, data: bytes.subarray(o, o + 1000) });
  await client.request({ kind: "loadCommit", sha256: hash }, { deviceMs: 10_000 });
}

describe("deploy and use a device", () => {
  it("deploys, then INFO, RUN, PROFILE and EVAL on the device agree with the host's own run of the blob", async () => {
    const d = await device();
    const r = await deploy(d.connector(), A.bytes, { name: "a.wasm" });
    expect(r).toMatchObject({ modelId: A.id, size: A.bytes.length, sessions: 1, resumedFrom: 0, alreadyActive: false });
    expect(r.hello.modelId).toBeNull();
    expectServes(d, A);
    const client = await d.connect({ maxFrame: 256 }); // small frames: long replies come in many pages
    expect(client.device).toMatchObject({ modelId: A.id, modelName: A.model.info.model, simd: true });
    expect(await deviceManifest(client)).toEqual(A.model.info);
    expect(Buffer.from(await fetchBlob(client)).equals(Buffer.from(A.bytes))).toBe(true);
    for (const seed of [1, 2, 3]) {
      const pixels = samplePixels(A.model.inputSize, seed);
      const run = await runOnDevice(client, pixels);
      expect(Array.from(run.raw)).toEqual(Array.from(hostRaw(A, pixels)));
      expect(run.deviceUs).toBeGreaterThan(0);
    }
    const profile = await profileOnDevice(client, 20, 2);
    const local = profileModel(A.model, { runs: 20, warmup: 2 });
    expect(profile.layers.map((l) => l.name)).toEqual(local.layers.map((l) => l.name));
    expect(profile.layers.every((l) => l.p50Us > 0 && l.p90Us >= l.p50Us)).toBe(true);
    const count = 40, pixels = samplePixels(count * A.model.inputSize, 9), labels = Uint8Array.from({ length: count }, (_, i) => i % 3);
    const ev = await evalOnDevice(client, A.model.info, pixels, labels, { outputs: true });
    let correct = 0;
    for (let i = 0; i < count; i++) {
      const p = A.model.predict(pixels.subarray(i * A.model.inputSize, (i + 1) * A.model.inputSize));
      expect(ev.predictions[i]).toBe(p.index);
      expect(Array.from(ev.outputs[i])).toEqual(Array.from(A.model.rawOutput()));
      if (p.index === labels[i]) correct++;
    }
    expect(ev.correct).toBe(correct);
    await client.close();
    // The same blob again: nothing is uploaded.
    expect(await deploy(d.connector(), A.bytes)).toMatchObject({ alreadyActive: true, chunks: 0, modelId: A.id });
    await d.agent.close();
  });

  it("a deploy of another blob replaces the model atomically, and a restarted agent serves the last committed one", async () => {
    const d = await device();
    await deploy(d.connector(), A.bytes);
    await deploy(d.connector(), B.bytes);
    expectServes(d, B);
    await d.agent.close();
    const again = await device({ store: d.store });
    expectServes(again, B);
    const client = await again.connect();
    expect(client.device?.modelId).toBe(B.id);
    await again.agent.close();
  });
});

describe("the atomic swap never serves a bad upload", () => {
  it.each([
    ["bytes that are not WebAssembly", ErrorCode.INVALID_BLOB, () => new TextEncoder().encode("definitely not wasm ".repeat(50))],
    ["a WebAssembly module without a kiln.manifest", ErrorCode.BAD_MANIFEST, () => Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])],
  ])("refuses %s and keeps the previous model", async (_, code, bytes) => {
    const d = await device();
    await deploy(d.connector(), A.bytes);
    const e = await deploy(d.connector(), bytes()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as DeviceError).code).toBe(code);
    expectServes(d, A);
    expect(existsSync(join(d.store, "upload.part"))).toBe(false);
    await d.agent.close();
  });

  it("refuses bytes that do not match the announced SHA-256", async () => {
    const d = await device();
    await deploy(d.connector(), A.bytes);
    const client = await d.connect();
    const damaged = B.bytes.slice();
    damaged[damaged.length >> 1] ^= 0x20;
    await expect(rawUpload(client, B.bytes, damaged)).rejects.toMatchObject({ code: ErrorCode.HASH_MISMATCH });
    expectServes(d, A);
    await expect(client.request({ kind: "loadCommit", sha256: sha256(B.bytes) })).rejects.toMatchObject({ code: ErrorCode.NO_UPLOAD });
    await d.agent.close();
  });

  it("refuses a blob needing more memory than the device has, and one larger than it takes", async () => {
    const small = await device({ memoryLimit: 4096 });
    await expect(deploy(small.connector(), A.bytes)).rejects.toMatchObject({ code: ErrorCode.OUT_OF_MEMORY });
    expectServes(small, null);
    await small.agent.close();
    const tiny = await device({ maxBlob: 100 });
    await expect(deploy(tiny.connector(), A.bytes)).rejects.toThrow(/TOO_LARGE \(blob of \d+ bytes; this device takes at most 100\)/);
    await tiny.agent.close();
  });

  it("an interrupted upload survives a restart, the old model serves meanwhile, and the upload resumes from the bytes held", async () => {
    const d = await device();
    await deploy(d.connector(), A.bytes);
    const client = await d.connect();
    const half = B.bytes.length >> 1;
    await client.request({ kind: "loadBegin", size: B.bytes.length, sha256: sha256(B.bytes), crc32: 0, name: "b" });
    await client.request({ kind: "loadChunk", offset: 0, data: B.bytes.subarray(0, half) });
    await d.agent.close(); // the agent goes away mid-upload
    const again = await device({ store: d.store });
    expectServes(again, A);
    expect(again.agent.store.pending).toMatchObject({ received: half, size: B.bytes.length });
    const probe = await again.connect();
    const pixels = samplePixels(A.model.inputSize);
    expect(Array.from((await runOnDevice(probe, pixels)).raw)).toEqual(Array.from(hostRaw(A, pixels)));
    const r = await deploy(again.connector(), B.bytes);
    expect(r.resumedFrom).toBe(half);
    expectServes(again, B);
    await again.agent.close();
  });

  it("RESET discards a pending upload but keeps the model", async () => {
    const d = await device();
    await deploy(d.connector(), A.bytes);
    const client = await d.connect();
    await client.request({ kind: "loadBegin", size: B.bytes.length, sha256: sha256(B.bytes), crc32: 0, name: "b" });
    await resetDevice(client, true);
    expect(d.agent.store.pending).toBeNull();
    expect(existsSync(join(d.store, "upload.part"))).toBe(false);
    expectServes(d, A);
    await d.agent.close();
  });
});

describe("sessions and tokens", () => {
  it("a wrong token is refused and changes nothing; requests before HELLO are refused", async () => {
    const d = await device({ token: "right" });
    await deploy(d.connector(), A.bytes);
    await expect(deploy(d.connector({ token: "wrong" }), B.bytes)).rejects.toThrow(/UNAUTHORIZED \(wrong token\)/);
    const [host, dev] = localPair();
    d.agent.serve(dev);
    const client = new DeviceClient(host);
    await expect(client.request({ kind: "loadBegin", size: B.bytes.length, sha256: sha256(B.bytes), crc32: 0, name: "b" })).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    expect(d.agent.store.pending).toBeNull();
    expectServes(d, A);
    await d.agent.close();
  });
});

describe("a lossy link loses nothing", () => {
  it.each([
    ["1 % of bytes corrupted", { corrupt: 0.01 }],
    ["1 % of bytes dropped", { drop: 0.01 }],
    ["both, 0.5 % each", { corrupt: 0.005, drop: 0.005 }],
  ])("%s: the deploy completes with the right bytes", async (_, faults) => {
    const d = await device();
    await deploy(d.connector(), A.bytes);
    const relay = new Relay(Infinity, 11);
    relay.faults = faults;
    const r = await deploy(d.connector({ relay, timeoutMs: 150 }), B.bytes);
    expect(r.modelId).toBe(B.id);
    expect(relay.stats.corrupted + relay.stats.dropped).toBeGreaterThan(0);
    expect(r.failedAttempts).toBeGreaterThan(0);
    expectServes(d, B);
    expect(Buffer.from(readFileSync(join(d.store, "model.wasm"))).equals(Buffer.from(B.bytes))).toBe(true);
    await relay.close();
    await d.agent.close();
  });
});

describe("kiln deploy and kiln bench with --device local", () => {
  function idx(count: number, size: number): { images: string; labels: string } {
    const dir = tempDir("kiln-idx-");
    const head = (magic: number, dims: number[]) => {
      const b = Buffer.alloc(4 + 4 * dims.length);
      b.writeUInt32BE(magic, 0);
      dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
      return b;
    };
    writeFileSync(join(dir, "images"), Buffer.concat([head(0x803, [count, size, size]), Buffer.from(samplePixels(count * size * size, 5))]));
    writeFileSync(join(dir, "labels"), Buffer.concat([head(0x801, [count]), Buffer.from(Uint8Array.from({ length: count }, (_, i) => i % 3))]));
    return { images: join(dir, "images"), labels: join(dir, "labels") };
  }

  it("deploy prints the device's HELLO and the committed model id", async () => {
    const r = await kiln(["deploy", A.path, "--device", "local"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^device local at local: node v\d+.*SIMD yes.*no model yet$/m);
    expect(r.stdout).toContain(`committed model ${A.id} (tiny_1`);
    const json = await kiln(["deploy", A.path, "--device", "local", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ modelId: A.id, size: A.bytes.length, sessions: 1 });
  });

  it("bench measures on the device, keeps link time apart, and checks accuracy and outputs against the host", async () => {
    const store = tempDir("kiln-local-store-");
    const { images, labels } = idx(30, 8);
    const r = await kiln(["bench", A.path, "--device", `local?store=${store}`, "--runs", "10", "--images", images, "--labels", labels, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.profile.layers.map((l: { name: string }) => l.name)).toEqual(A.model.info.layers.map((l) => l.name));
    expect(out.link.roundTripP50Us).toBeGreaterThan(0);
    expect(out.eval).toMatchObject({ count: 30, mismatches: 0, outputsEqual: 30 });
    // Without a blob: the device's model, downloaded for the host's comparison; the table names every layer.
    const table = await kiln(["bench", "--device", `local?store=${store}`, "--runs", "10", "--images", images, "--labels", labels]);
    expect(table.status, table.stderr).toBe(0);
    for (const l of A.model.info.layers) expect(table.stdout).toContain(l.name);
    expect(table.stdout).toMatch(/link: RUN round trip p50 [\d.]+ ms = device run\(\) p50 [\d.]+ µs \+ link/);
    expect(table.stdout).toContain("device outputs equal the host's run of the same blob on all 30 images");
    expect((await blobFromFile(join(store, "model.wasm"))).id).toBe(A.id);
  });

  it.each([
    [["agent", "--store", "/tmp/x"], /exactly one of --serial and --tcp/],
    [["agent", "--tcp", ":0", "--store", "/tmp/x"], /--tcp needs a token/],
    [["agent", "--tcp", "nohost:port", "--token", "t", "--store", "/tmp/x"], /host:port/],
    [["deploy", "x.wasm"], /--device <uri> is required/],
    [["deploy", "x.wasm", "--device", "usb:0"], /not a device URI/],
    [["bench", "--device", "local", "--bogus"], /unknown option --bogus/],
    [["bench", "--device", "local", "--images", "x"], /--images and --labels go together/],
  ])("bad usage %j exits 2 with one line", async (args, message) => {
    const r = await kiln(args as string[]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it("a missing blob or an unreachable device is one clear line with exit 1", async () => {
    const missing = await kiln(["deploy", "/nonexistent.wasm", "--device", "local"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/file not found/);
    const none = await kiln(["bench", "--device", "local"]);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/has no model; pass a blob or kiln deploy one first/);
    const serial = await kiln(["deploy", A.path, "--device", "serial:/dev/kiln-no-such-port", "--sessions", "1"]);
    expect(serial.status).toBe(1);
    expect(serial.stderr.trim().split("\n").pop()).toMatch(/could not reach the device serial:\/dev\/kiln-no-such-port.*cannot open serial port/);
  });
});
