// The firmware's protocol core (firmware/src, C) built natively with a fake board and runtime, driven by the host's
// own DeviceClient over the process's stdin/stdout: the same requests `kiln deploy` and `kiln bench` send a board.
import * as tf from "@tensorflow/tfjs";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileFile } from "../compiler/compile.js";
import { DeviceClient } from "../firmware-host/client.js";
import { crc32 } from "../firmware-host/crc32.js";
import { deviceManifest, evalOnDevice, fetchBlob, profileOnDevice, resetDevice, runOnDevice } from "../firmware-host/device-ops.js";
import { FrameDecoder, buildFrame, encodeFrame, wrapFrame, type Frame } from "../firmware-host/frame.js";
import { ErrorCode, MsgType, NakCode, decodeReply, encodeRequest, fromHex, type Reply, type Request } from "../firmware-host/messages.js";
import { DeviceError } from "../firmware-host/errors.js";
import { uploadBlob } from "../firmware-host/upload.js";
import { Model } from "../runtime/model.js";
import { readWasmLayout } from "../runtime/wasm-layout.js";
import { blobFromFile, samplePixels, sha256Hex, tinyBlob, type Blob, ROOT, CLI } from "./device-helpers.js";
import { saveToTemp, tempDir } from "./helpers.js";
import { HOST_DIR, StdioLink, buildNativeAgent, nativeTools } from "./native-firmware.js";

const make = nativeTools;
/** The fake runtime's memory halves (firmware/test/host/kiln_runtime.c). */
const AREA = 32768;
const SLOT = 512 * 1024;

let binary = "";
const links: StdioLink[] = [];

function startAgent(env: Record<string, string> = {}): StdioLink {
  const proc = spawn(binary, [], { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, ...env } });
  const link = new StdioLink(proc);
  links.push(link);
  return link;
}

async function connect(env: Record<string, string> = {}): Promise<DeviceClient> {
  const client = new DeviceClient(startAgent(env), { timeoutMs: 2000 });
  await client.hello();
  return client;
}

/** Frames the device sends, collected next to the client's own decoder. */
function tap(link: StdioLink): { frames: Frame[]; bad: number; next(timeoutMs?: number): Promise<Frame> } {
  const t = { frames: [] as Frame[], bad: 0, waiting: null as ((f: Frame) => void) | null,
    next(timeoutMs = 3000): Promise<Frame> {
      const queued = t.frames.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no frame from the device")), timeoutMs);
        t.waiting = (f) => { clearTimeout(timer); t.waiting = null; resolve(f); };
      });
    } };
  const decoder = new FrameDecoder((f) => (t.waiting ? t.waiting(f) : t.frames.push(f)), () => { t.bad++; });
  link.onData((b) => decoder.push(b));
  return t;
}

const reply = (f: Frame): Reply => decodeReply(f.type, f.body);
const wire = (req: Request, seq: number): Uint8Array => encodeFrame({ hello: 1, info: 2, loadBegin: 3, loadChunk: 4, loadCommit: 5, run: 6, profile: 7, eval: 8, reset: 9, more: 10 }[req.kind], seq, encodeRequest(req));

/** What the fake runtime computes: FNV-1a over its input area (the blob's input bytes, then zeros). */
function fakeOutput(inputBytes: Uint8Array, outBytes: number): Uint8Array {
  const area = new Uint8Array(AREA);
  area.set(inputBytes);
  let h = 2166136261;
  for (const b of area) h = Math.imul(h ^ b, 16777619) >>> 0;
  return Uint8Array.from({ length: outBytes }, (_, j) => ((h >>> (8 * (j & 3))) ^ (j * 7)) & 0xff);
}

const elements = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** The bytes the host's runtime writes into the blob's input for these pixels (Model.setInput). */
function mappedInput(model: Model, pixels: Uint8Array | Float32Array): Uint8Array {
  model.setInput(pixels);
  const width = model.info.input.dtype === "float32" ? 4 : 1;
  return new Uint8Array(model.exports.memory.buffer, model.exports.input_ptr(), model.inputSize * width).slice();
}

function expectedRun(blob: Blob, pixels: Uint8Array | Float32Array): { raw: Uint8Array; index: number } {
  const m = blob.model.info;
  const float = m.output.dtype === "float32";
  const raw = fakeOutput(mappedInput(blob.model, pixels), elements(m.output.shape) * (float ? 4 : 1));
  const values = float ? new Float32Array(raw.slice().buffer) : new Int8Array(raw.buffer);
  let index = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[index]) index = i;
  return { raw, index };
}

/** A request's answer, with an ERROR answer returned instead of thrown (DeviceError). */
async function ask(client: DeviceClient, req: Request): Promise<Reply> {
  try {
    return await client.request(req);
  } catch (e) {
    if (e instanceof DeviceError) return { kind: "error", code: e.code, detail: e.detail, message: e.message };
    throw e;
  }
}

const rawBytes = (r: Int8Array | Float32Array): Uint8Array => new Uint8Array(r.buffer, r.byteOffset, r.byteLength).slice();

describe(`firmware protocol core, native build with a fake board and runtime${make.note}`, () => {
  let lenet: Blob, tinyFloat: Blob, tinySimd: Blob;

  beforeAll(async () => {
    if (!make.ok) return;
    binary = buildNativeAgent();
    const out = tempDir("kiln-fw-blobs-");
    const l5 = join(out, "lenet5-scalar.wasm");
    const c = spawnSync(process.execPath, [CLI, "compile", join(ROOT, "models/lenet5/model.json"), "--target", "scalar", "-o", l5], { encoding: "utf8" });
    if (c.status !== 0) throw new Error(`compiling LeNet-5 failed:\n${c.stdout}${c.stderr}`);
    lenet = await blobFromFile(l5);
    tinySimd = await tinyBlob(7);
    await tf.setBackend("cpu");
    const m = tf.sequential({ name: "tiny_float" });
    m.add(tf.layers.conv2d({ name: "conv", inputShape: [8, 8, 1], filters: 3, kernelSize: 3, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
    m.add(tf.layers.flatten({ name: "flat" }));
    m.add(tf.layers.dense({ name: "logits", units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }));
    const compiled = await compileFile(await saveToTemp(m), { quantize: "none", target: "scalar", pixelScale: 1 / 255, pixelOffset: -0.5 });
    tinyFloat = { path: "", bytes: compiled.wasm, id: sha256Hex(compiled.wasm), model: await Model.load(compiled.wasm) };
  });

  afterAll(async () => {
    await Promise.all(links.map((l) => l.close()));
  });

  it.skipIf(!make.ok)("HELLO states the device; requests need no HELLO on a serial line without a token", async () => {
    const link = startAgent();
    const client = new DeviceClient(link, { timeoutMs: 2000 });
    // Before any HELLO: served (not UNAUTHORIZED), within 256-byte frames.
    expect(await ask(client, { kind: "info", what: 0 })).toMatchObject({ kind: "error", code: ErrorCode.NO_MODEL });
    const hello = await client.hello();
    expect(hello).toMatchObject({ maxFrame: 4104, maxBlob: SLOT, memoryLimit: 16 << 20, simd: false, modelId: null, modelSize: 0,
      device: "host (fake board for tests)", runtime: "WAMR 1.1.2 fast-interp", modelName: "", runLimitMs: 60000 });
    expect(client.channel.sendLimit).toBe(4104);
    await client.close();
  });

  it.skipIf(!make.ok)("upload, commit, INFO, RUN, EVAL, PROFILE and RESET of a real LeNet-5 blob", async () => {
    const client = await connect();
    const up = await uploadBlob(client, lenet.bytes, { name: "lenet5" });
    expect(up).toMatchObject({ modelId: lenet.id, size: lenet.bytes.length, name: lenet.model.info.model, resumedFrom: 0 });
    // The blob is paged into 4 KB frames: 17 chunks.
    expect(up.chunks).toBe(Math.ceil(lenet.bytes.length / (4104 - 12)));
    const again = await client.hello();
    expect(again).toMatchObject({ modelId: lenet.id, modelSize: lenet.bytes.length, modelName: lenet.model.info.model });

    // INFO: the manifest (checked by the host's validator) and the blob itself, both read back with MORE.
    expect(await deviceManifest(client)).toEqual(lenet.model.info);
    expect(sha256Hex(await fetchBlob(client))).toBe(lenet.id);

    // RUN: uint8 pixels mapped and quantized like Model.setInput, bit for bit.
    for (const seed of [1, 2, 3]) {
      const pixels = samplePixels(784, seed);
      const run = await runOnDevice(client, pixels);
      const want = expectedRun(lenet, pixels);
      expect(rawBytes(run.raw)).toEqual(want.raw);
      expect(run.index).toBe(want.index);
      expect(run.deviceUs).toBeGreaterThan(0);
    }
    // A float input in model units is quantized on the device.
    const floats = Float32Array.from({ length: 784 }, (_, i) => ((i * 37) % 255) / 255);
    const fr = expectKind(await ask(client, { kind: "run", float: true, input: new Uint8Array(floats.buffer) }), "runOk");
    expect(fr.output).toEqual(expectedRun(lenet, floats).raw);
    // A call the runtime stops at its run limit: TIMEOUT, and the next request gets a fresh instance.
    const stop = Float32Array.from({ length: 784 }, (_, i) => (i < 4 ? [211, 212, 207, 208][i] / 255 : 0));
    expect(await ask(client, { kind: "run", float: true, input: new Uint8Array(stop.buffer) })).toMatchObject({ kind: "error", code: ErrorCode.TIMEOUT, detail: 60000 });
    expect(rawBytes((await runOnDevice(client, samplePixels(784, 1))).raw)).toEqual(expectedRun(lenet, samplePixels(784, 1)).raw);
    // Wrong input size: BAD_INPUT with the expected byte count.
    expect(await ask(client, { kind: "run", float: false, input: new Uint8Array(783) })).toMatchObject({ kind: "error", code: ErrorCode.BAD_INPUT, detail: 784 });

    // EVAL: batches as large as 4 KB frames allow, predictions and raw outputs.
    const count = 12, pixels = samplePixels(784 * count, 9);
    const labels = Uint8Array.from({ length: count }, (_, i) => expectedRun(lenet, pixels.subarray(784 * i, 784 * (i + 1))).index ^ (i & 1));
    const ev = await evalOnDevice(client, lenet.model.info, pixels, labels, { outputs: true });
    for (let i = 0; i < count; i++) {
      const want = expectedRun(lenet, pixels.subarray(784 * i, 784 * (i + 1)));
      expect(ev.predictions[i]).toBe(want.index);
      expect(rawBytes(ev.outputs[i])).toEqual(want.raw);
    }
    expect(ev.correct).toBe(count / 2);

    // PROFILE: the ProfileResult shape the host parses, with cycles and the clock.
    const profile = await profileOnDevice(client, 20, 2) as unknown as Record<string, unknown> & { layers: Record<string, unknown>[] };
    expect(profile).toMatchObject({ model: lenet.model.info.model, target: "scalar", quantize: "int8", runs: 20, warmup: 2, clockHz: 1e9 });
    expect(profile.layers.map((l) => l.name)).toEqual(lenet.model.info.layers.map((l) => l.name));
    expect(profile.layers.map((l) => l.ops)).toEqual(lenet.model.info.layers.map((l) => l.fused.join("+")));
    expect(profile.layers.map((l) => l.outputShape)).toEqual(lenet.model.info.layers.map((l) => l.outputShape));
    expect(profile.layers.map((l) => l.macs)).toEqual(lenet.model.info.layers.map((l) => l.macs));
    for (const l of profile.layers) expect(typeof l.cycles === "number" && typeof l.p50Us === "number" && typeof l.share === "number").toBe(true);
    expect(profile).toHaveProperty("endToEnd.p50Us");
    expect(profile.endToEndCycles).toBeGreaterThan(0);
    expect(await ask(client, { kind: "profile", runs: 0, warmup: 0 })).toMatchObject({ kind: "error", code: ErrorCode.BAD_REQUEST });

    await resetDevice(client, true);
    expect(rawBytes((await runOnDevice(client, samplePixels(784, 1))).raw)).toEqual(expectedRun(lenet, samplePixels(784, 1)).raw);
    await client.close();
  });

  it.skipIf(!make.ok)("a float32 blob: pixels mapped with scale and offset, float32 outputs", async () => {
    const client = await connect();
    await uploadBlob(client, tinyFloat.bytes);
    await deviceManifest(client);
    for (const seed of [4, 5]) {
      const pixels = samplePixels(64, seed);
      const run = await runOnDevice(client, pixels);
      expect(rawBytes(run.raw)).toEqual(expectedRun(tinyFloat, pixels).raw);
      expect(run.index).toBe(expectedRun(tinyFloat, pixels).index);
    }
    await client.close();
  });

  it.skipIf(!make.ok)("refused COMMITs keep the active model: wrong hash, SIMD blob, memory above the limit, not a blob", async () => {
    const client = await connect();
    await uploadBlob(client, lenet.bytes);
    const pixels = samplePixels(784, 11);
    const serves = async (): Promise<void> => {
      expect((await client.hello()).modelId).toBe(lenet.id);
      expect(rawBytes((await runOnDevice(client, pixels)).raw)).toEqual(expectedRun(lenet, pixels).raw);
    };
    /** Uploads `bytes` announcing `sha`, then commits; returns the COMMIT's answer. */
    const upload = async (bytes: Uint8Array, sha = createHash("sha256").update(bytes).digest()): Promise<Reply> => {
      const hash = new Uint8Array(sha);
      expect(await ask(client, { kind: "loadBegin", size: bytes.length, sha256: hash, crc32: crc32(bytes), name: "x" })).toEqual({ kind: "loadReady", offset: 0 });
      for (let at = 0; at < bytes.length; at += 4000) {
        expect(await ask(client, { kind: "loadChunk", offset: at, data: bytes.subarray(at, at + 4000) })).toEqual({ kind: "loadAck", next: Math.min(bytes.length, at + 4000) });
      }
      return ask(client, { kind: "loadCommit", sha256: hash });
    };
    const wrong = createHash("sha256").update("something else").digest();
    expect(await upload(tinyFloat.bytes, wrong)).toMatchObject({ kind: "error", code: ErrorCode.HASH_MISMATCH });
    await serves();
    // The failed upload was discarded: a COMMIT now has nothing to commit.
    expect(await ask(client, { kind: "loadCommit", sha256: new Uint8Array(wrong) })).toMatchObject({ kind: "error", code: ErrorCode.NO_UPLOAD });
    const simd = await upload(tinySimd.bytes);
    expect(simd).toMatchObject({ kind: "error", code: ErrorCode.BAD_MANIFEST });
    expect((simd as { message: string }).message).toMatch(/SIMD/);
    await serves();
    const notWasm = new TextEncoder().encode("definitely not a WebAssembly module");
    expect(await upload(notWasm)).toMatchObject({ kind: "error", code: ErrorCode.INVALID_BLOB });
    // One byte of the manifest changed (and the SHA-256 announced for the changed bytes): the content hash catches it.
    const tampered = tinyFloat.bytes.slice();
    const at = Buffer.from(tampered).indexOf("tiny_float");
    tampered[at] = "T".charCodeAt(0);
    expect(await upload(tampered)).toMatchObject({ kind: "error", code: ErrorCode.BAD_MANIFEST });
    // Too large for the slots: refused at LOAD_BEGIN, before any byte is sent.
    expect(await ask(client, { kind: "loadBegin", size: SLOT + 1, sha256: new Uint8Array(32), crc32: 0, name: "" }))
      .toMatchObject({ kind: "error", code: ErrorCode.TOO_LARGE, detail: SLOT });
    await serves();
    await client.close();

    // A device whose blobs may use 64 KiB of memory: LeNet-5 declares more.
    const small = await connect({ KILN_FAKE_MEMORY_LIMIT: "65536" });
    expect(small.device?.memoryLimit).toBe(65536);
    await expect(uploadBlob(small, lenet.bytes)).rejects.toThrow(/memory may grow to \d+ bytes; the limit here is 65536/);
    expect((await small.hello()).modelId).toBeNull();
    await small.close();
  });

  it.skipIf(!make.ok)("uploads resume at the bytes held; chunks out of order get NAK OUT_OF_ORDER", async () => {
    const client = await connect();
    const bytes = lenet.bytes, sha = fromHex(lenet.id), crc = crc32(bytes);
    expect(await ask(client, { kind: "loadBegin", size: bytes.length, sha256: sha, crc32: crc, name: "" })).toEqual({ kind: "loadReady", offset: 0 });
    expect(await ask(client, { kind: "loadChunk", offset: 0, data: bytes.subarray(0, 3000) })).toEqual({ kind: "loadAck", next: 3000 });
    expect(await ask(client, { kind: "loadChunk", offset: 5000, data: bytes.subarray(5000, 6000) })).toEqual({ kind: "nak", code: NakCode.OUT_OF_ORDER, expected: 3000 });
    // A chunk already held is acknowledged without being written again.
    expect(await ask(client, { kind: "loadChunk", offset: 1000, data: bytes.subarray(1000, 4000) })).toEqual({ kind: "loadAck", next: 4000 });
    expect(await ask(client, { kind: "loadChunk", offset: bytes.length - 10, data: new Uint8Array(20) })).toMatchObject({ kind: "error", code: ErrorCode.BAD_REQUEST });
    expect(await ask(client, { kind: "loadCommit", sha256: sha })).toMatchObject({ kind: "error", code: ErrorCode.INCOMPLETE, detail: 4000 });
    // A new session (HELLO) with the same blob: LOAD_BEGIN answers the bytes held, and the upload continues there.
    await client.hello();
    expect(await ask(client, { kind: "loadBegin", size: bytes.length, sha256: sha, crc32: crc, name: "" })).toEqual({ kind: "loadReady", offset: 4000 });
    const up = await uploadBlob(client, bytes);
    expect(up).toMatchObject({ resumedFrom: 4000, modelId: lenet.id });
    // COMMIT of the active blob from a new session: LOAD_DONE without an upload.
    await client.hello();
    expect(await uploadBlob(client, bytes)).toMatchObject({ alreadyActive: true, modelId: lenet.id });
    await client.close();
  });

  it.skipIf(!make.ok)("bad frames get one NAK BAD_FRAME per 10 ms; retransmissions are answered from the cache", async () => {
    const link = startAgent();
    const t = tap(link);
    // A frame with a damaged CRC.
    const frame = buildFrame(MsgType.INFO, 77, new Uint8Array([0]));
    frame[frame.length - 1] ^= 0xff;
    link.write(wrapFrame(frame));
    const nak = await t.next();
    expect(nak.seq).toBe(0);
    expect(reply(nak)).toEqual({ kind: "nak", code: NakCode.BAD_FRAME, expected: 0 });
    // A burst of garbage: far fewer NAKs than bad frames.
    const burst: number[] = [];
    for (let i = 0; i < 200; i++) burst.push(0, 1 + (i % 200), 2, 3, 0);
    link.write(Uint8Array.from(burst));
    link.write(Uint8Array.from([0, 200, 1, 2, 0]));
    // An oversized frame (5000 non-zero bytes) is dropped up to the next delimiter, and the line works again.
    link.write(new Uint8Array(5000).fill(7));
    link.write(wire({ kind: "info", what: 0 }, 5));
    let answer = await t.next();
    while (answer.type === MsgType.NAK) answer = await t.next();
    expect(answer.seq).toBe(5);
    expect(reply(answer)).toMatchObject({ kind: "error", code: ErrorCode.NO_MODEL });
    expect(t.frames.length).toBe(0);

    // Retransmissions: same seq and CRC get the identical bytes, without executing again (the COMMIT is not redone,
    // the RUN's deviceUs is the same).
    const client = new DeviceClient(link, { timeoutMs: 2000 });
    await client.hello();
    await uploadBlob(client, lenet.bytes);
    const run = wire({ kind: "run", float: false, input: samplePixels(784, 3) }, 4242);
    const replies: Frame[] = [];
    for (let i = 0; i < 3; i++) {
      link.write(run);
      let f = await t.next();
      while (f.seq !== 4242) f = await t.next();
      replies.push(f);
    }
    expect(replies[1].body).toEqual(replies[0].body);
    expect(replies[2].body).toEqual(replies[0].body);
    const commit = wire({ kind: "loadCommit", sha256: fromHex(lenet.id) }, 4243);
    link.write(commit);
    let first = await t.next();
    while (first.seq !== 4243) first = await t.next();
    link.write(commit);
    let second = await t.next();
    while (second.seq !== 4243) second = await t.next();
    expect(second.body).toEqual(first.body);
    // A different request with the same seq is a new request (its CRC differs).
    link.write(wire({ kind: "run", float: false, input: samplePixels(784, 4) }, 4242));
    let other = await t.next();
    while (other.seq !== 4242) other = await t.next();
    expect(other.body).not.toEqual(replies[0].body);
    await client.close();
  });

  it.skipIf(!make.ok)("hostile input under AddressSanitizer and UBSan: random frames and mutated manifests", async () => {
    // A build that aborts on the first out-of-bounds access, use after free, overflow or undefined behaviour.
    const out = tempDir("kiln-fw-asan-");
    const flags = "-std=c11 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all";
    const built = spawnSync("make", ["-s", "-C", HOST_DIR, `OUT=${out}`, "CC=gcc", `CFLAGS=${flags}`], { encoding: "utf8" });
    if (built.status !== 0) {
      console.warn(`no sanitizer build (${built.stderr.trim().split("\n")[0]}); the plain build takes the hostile input`);
    }
    const proc = spawn(built.status === 0 ? join(out, "kiln-agent-host") : binary, [], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => { stderr += d.toString(); });
    const link = new StdioLink(proc);
    links.push(link);
    const client = new DeviceClient(link, { timeoutMs: 5000 });
    await client.hello();
    await uploadBlob(client, lenet.bytes);
    let seed = 2024;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    // 1500 frames with good CRCs and random types and bodies (PROFILE kept short, HELLO frames kept ≥ 256).
    const t = tap(link);
    const burst: Uint8Array[] = [];
    for (let i = 0; i < 1500; i++) {
      const type = rnd() < 0.9 ? 1 + Math.floor(rnd() * 10) : Math.floor(rnd() * 256);
      const body = Uint8Array.from({ length: rnd() < 0.5 ? Math.floor(rnd() * 16) : Math.floor(rnd() * 4200) }, () => (rnd() < 0.3 ? 0 : Math.floor(rnd() * 256)));
      if (type === MsgType.PROFILE && body.length >= 8) body.set([1 + (body[0] & 3), 0, 0, 0, body[4], 0, 0, 0]);
      if (type === MsgType.HELLO && body.length >= 4) body.set([0, 16, 0, 0]);
      burst.push(encodeFrame(type, 1 + i, body));
    }
    for (const b of burst) link.write(b);
    // Then a request of known answer: when it comes, every frame before it has been dealt with.
    link.write(wire({ kind: "info", what: 7 }, 60000));
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (t.frames.some((f) => f.seq === 60000)) { clearInterval(poll); resolve(); }
        if (proc.exitCode !== null || Date.now() - started > 60_000) { clearInterval(poll); reject(new Error(`agent died or hung:\n${stderr}`)); }
      }, 50);
    });
    t.frames.length = 0;
    // Manifests with random bytes changed (the content hash recomputed): refused with a reason, or served.
    const manifestAt = Buffer.from(lenet.bytes).indexOf('{"contentHash"') + 88;
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const blob = lenet.bytes.slice();
      for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) {
        const at = manifestAt + Math.floor(rnd() * (blob.length - manifestAt));
        blob[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : '{}[]",:0-e9\\ '.charCodeAt(Math.floor(rnd() * 14));
      }
      reseal(blob);
      let outcome = "served";
      try {
        await uploadBlob(client, blob);
        await runOnDevice(client, samplePixels(784, i));
        await profileOnDevice(client, 1, 0);
      } catch (e) {
        if (!(e instanceof DeviceError)) throw e;
        outcome = e.codeName;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    console.log(`mutated manifests: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    expect(outcomes.get("BAD_MANIFEST") ?? 0).toBeGreaterThan(0);
    expect((await client.hello()).maxFrame).toBe(4104);
    expect(proc.exitCode).toBeNull();
    expect(stderr).not.toMatch(/AddressSanitizer|runtime error/);
    await client.close();
  });

  it.skipIf(!make.ok)("a build with a token: nothing but HELLO before a HELLO with that token", async () => {
    const agent = buildNativeAgent(`-std=c11 -Wall -Wextra -Werror -O2 -DKILN_TOKEN='"s3cret"'`);
    const proc = spawn(agent, [], { stdio: ["pipe", "pipe", "inherit"] });
    const link = new StdioLink(proc);
    links.push(link);
    const client = new DeviceClient(link, { timeoutMs: 2000, token: "wrong" });
    expect(await ask(client, { kind: "info", what: 0 })).toMatchObject({ kind: "error", code: ErrorCode.UNAUTHORIZED });
    await expect(client.hello()).rejects.toThrow(/UNAUTHORIZED/);
    // The line stays open; the right token opens the session.
    expect(await ask(client, { kind: "hello", maxFrame: 65536, token: "s3cret", client: "t" })).toMatchObject({ kind: "helloOk", maxFrame: 4104 });
    expect(await ask(client, { kind: "info", what: 0 })).toMatchObject({ kind: "error", code: ErrorCode.NO_MODEL });
    // A wrong HELLO later closes the session again.
    expect(await ask(client, { kind: "hello", maxFrame: 65536, token: "s3cre", client: "t" })).toMatchObject({ kind: "error", code: ErrorCode.UNAUTHORIZED });
    expect(await ask(client, { kind: "info", what: 0 })).toMatchObject({ kind: "error", code: ErrorCode.UNAUTHORIZED });
    await client.close();
  });

  it.skipIf(!make.ok)("malformed and unknown requests: BAD_REQUEST, BAD_VERSION, NO_RESULT, TOO_LARGE", async () => {
    const link = startAgent();
    const t = tap(link);
    const ask2 = async (bytes: Uint8Array, seq: number): Promise<Reply> => {
      link.write(bytes);
      let f = await t.next();
      while (f.seq !== seq) f = await t.next();
      return reply(f);
    };
    expect(await ask2(encodeFrame(MsgType.INFO, 1, new Uint8Array([0, 0])), 1)).toMatchObject({ kind: "error", code: ErrorCode.BAD_REQUEST });
    expect(await ask2(encodeFrame(0x42, 2, new Uint8Array()), 2)).toMatchObject({ kind: "error", code: ErrorCode.BAD_REQUEST });
    expect(await ask2(encodeFrame(MsgType.HELLO_OK, 3, new Uint8Array()), 3)).toMatchObject({ kind: "error", code: ErrorCode.BAD_REQUEST });
    expect(await ask2(encodeFrame(MsgType.INFO, 4, new Uint8Array([0]), 2), 4)).toMatchObject({ kind: "error", code: ErrorCode.BAD_VERSION, detail: 1 });
    expect(await ask2(wire({ kind: "more", of: 99, offset: 0 }, 5), 5)).toMatchObject({ kind: "error", code: ErrorCode.NO_RESULT });
    // A HELLO whose token is not UTF-8 is malformed.
    expect(await ask2(encodeFrame(MsgType.HELLO, 6, Uint8Array.from([0, 16, 0, 0, 1, 0, 0xff, 0, 0])), 6)).toMatchObject({ kind: "error", code: ErrorCode.BAD_REQUEST });
    expect(await ask2(wire({ kind: "eval", outputs: false, count: 5, inputs: new Uint8Array(0), labels: new Uint8Array(2) }, 7), 7)).toMatchObject({ kind: "error", code: ErrorCode.BAD_REQUEST });
    // A HELLO proposing 256-byte frames: long replies are paged to fit them.
    const client = new DeviceClient(link, { timeoutMs: 2000 });
    await client.hello();
    await uploadBlob(client, lenet.bytes);
    const small = await ask2(wire({ kind: "hello", maxFrame: 256, token: "", client: "t" }, 8), 8);
    expect(small).toMatchObject({ kind: "helloOk", maxFrame: 4104 });
    const info = await ask2(wire({ kind: "info", what: 0 }, 9), 9);
    expect(info).toMatchObject({ kind: "infoOk" });
    expect((info as { data: Uint8Array }).data.length).toBe(256 - 12);
    const more = await ask2(wire({ kind: "more", of: 9, offset: 244 }, 10), 10);
    expect(more).toMatchObject({ kind: "moreOk", offset: 244 });
    expect((more as { data: Uint8Array }).data.length).toBe(256 - 16);
    expect(await ask2(wire({ kind: "more", of: 9, offset: 1 << 30 }, 11), 11)).toMatchObject({ kind: "error", code: ErrorCode.BAD_REQUEST });
    await client.close();
  });
});

/** The blob with its manifest's content hash computed again (runtime/content-hash.ts), so a changed manifest passes it. */
function reseal(blob: Uint8Array): Uint8Array {
  const section = readWasmLayout(blob).sections.at(-1)!;
  const text = blob.subarray(section.contentStart, section.end);
  const emptied = Buffer.concat([text.subarray(0, 16), text.subarray(16 + 71)]);
  const hash = createHash("sha256").update(blob.subarray(0, section.start)).update(emptied).digest("hex");
  Buffer.from(text.buffer, text.byteOffset, text.length).write(hash, 23, "latin1");
  return blob;
}

function expectKind<K extends Reply["kind"]>(r: Reply, kind: K): Extract<Reply, { kind: K }> {
  expect(r.kind).toBe(kind);
  return r as Extract<Reply, { kind: K }>;
}
