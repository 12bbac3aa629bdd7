// Hostile blobs: loops in run() or the start function, unbounded memory, lying manifests and ABI, corrupted bytes.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileFile, DEFAULT_COMPILE_OPTIONS } from "../compiler/compile.js";
import { calibrationImages } from "../bin/calibration.js";
import { DeviceClient } from "../firmware-host/client.js";
import { DeviceError } from "../firmware-host/errors.js";
import { deploy, type Connector } from "../firmware-host/deploy.js";
import { localPair } from "../firmware-host/local.js";
import { ErrorCode, type Reply, type Request } from "../firmware-host/messages.js";
import { createAgent } from "../firmware-host/serve.js";
import { parseDeviceUri } from "../firmware-host/device-uri.js";
import { DeviceTarget } from "../firmware-host/target.js";
import { sha256 } from "../firmware-host/upload.js";
import { validateManifest } from "../runtime/manifest-check.js";
import { BlobError, inspectBlob, Model } from "../runtime/model.js";
import { RunTimeout, WorkerModel } from "../runtime/worker-model.js";
import { hostRaw, kiln, samplePixels, startAgent, tinyBlob, type Blob } from "./device-helpers.js";
import { defaultManifest, handBlob, op } from "./hand-blob.js";
import { tempDir } from "./helpers.js";

const MNIST = join(import.meta.dirname, "..", "models", "mnist-cnn", "model.json");
const LIMIT_MS = 1000;

let A: Blob;
let looping: Uint8Array, loopingStart: Uint8Array;

beforeAll(async () => {
  A = await tinyBlob(7);
  looping = await handBlob({ run: op.forever });
  loopingStart = await handBlob({ start: op.forever });
});

async function device(runLimitMs = LIMIT_MS, store = tempDir("kiln-hostile-store-")) {
  const lines: string[] = [];
  const agent = await createAgent({ store, requireHello: true, runLimitMs, log: (l) => lines.push(l) });
  const connect = async (): Promise<DeviceClient> => {
    const [host, dev] = localPair("hostile");
    agent.serve(dev);
    const client = new DeviceClient(host, { timeoutMs: 30_000 });
    await client.hello();
    return client;
  };
  const connector: Connector = { description: "test device", connect };
  return { agent, connect, connector, lines, store };
}

/** A request's reply, with a device's ERROR as a value ({ kind: "error", code, detail }) rather than a DeviceError. */
async function ask(client: DeviceClient, req: Request, deviceMs = 30_000): Promise<Reply | { kind: "error"; code: number; detail: number }> {
  try {
    return await client.request(req, { deviceMs });
  } catch (e) {
    if (e instanceof DeviceError) return { kind: "error", code: e.code, detail: e.detail };
    throw e;
  }
}

/** LOAD_BEGIN, chunks, COMMIT: the COMMIT's reply. */
async function upload(client: DeviceClient, bytes: Uint8Array) {
  const hash = sha256(bytes);
  await client.request({ kind: "loadBegin", size: bytes.length, sha256: hash, crc32: 0, name: "hostile" });
  for (let o = 0; o < bytes.length; o += 1000) await client.request({ kind: "loadChunk", offset: o, data: bytes.subarray(o, o + 1000) });
  return ask(client, { kind: "loadCommit", sha256: hash });
}

const run = (input: Uint8Array): Request => ({ kind: "run", float: false, input });

describe("a blob that never returns", () => {
  it("gets TIMEOUT within the run limit on RUN, PROFILE and EVAL; the agent keeps serving and takes another model", async () => {
    const d = await device();
    const client = await d.connect();
    expect(client.device?.runLimitMs).toBe(LIMIT_MS);
    expect(await upload(client, looping)).toMatchObject({ kind: "loadDone" });
    for (const req of [run(new Uint8Array(4)), { kind: "profile", runs: 100_000, warmup: 0 } as Request,
      { kind: "eval", count: 2, labels: new Uint8Array(2), inputs: new Uint8Array(8), outputs: false } as Request]) {
      const t0 = performance.now();
      const reply = await ask(client, req);
      const ms = performance.now() - t0;
      expect(reply).toMatchObject({ kind: "error", code: ErrorCode.TIMEOUT, detail: LIMIT_MS });
      expect(ms).toBeGreaterThanOrEqual(LIMIT_MS * 0.9);
      expect(ms).toBeLessThan(LIMIT_MS + 8000);
    }
    expect(d.lines.some((l) => /did not finish within 1000 ms/.test(l))).toBe(true);
    // Another client is served meanwhile, and a good model replaces the looping one.
    const other = await d.connect();
    expect(await upload(other, A.bytes)).toMatchObject({ kind: "loadDone" });
    const pixels = samplePixels(64, 3);
    const reply = await client.request(run(pixels));
    expect(reply).toMatchObject({ kind: "runOk" });
    expect(Array.from(new Float32Array((reply as { output: Uint8Array }).output.slice().buffer))).toEqual(Array.from(hostRaw(A, pixels)));
    await d.agent.close();
  });

  it("PROFILE with a huge count of a slow but working blob answers within the run limit, with the runs it made", async () => {
    const d = await device();
    const client = await d.connect();
    expect(await upload(client, await handBlob({ run: op.countdown(200_000), runLocal: true }))).toMatchObject({ kind: "loadDone" });
    const t0 = performance.now();
    const reply = await ask(client, { kind: "profile", runs: 100_000, warmup: 100_000 });
    expect(performance.now() - t0).toBeLessThan(LIMIT_MS + 8000);
    expect(reply).toMatchObject({ kind: "profileOk" });
    const result = JSON.parse(new TextDecoder().decode((reply as { data: Uint8Array }).data)) as { runs: number };
    expect(result.runs).toBeGreaterThanOrEqual(1);
    expect(result.runs).toBeLessThan(100_000);
    await d.agent.close();
  });

  it("a start function that never returns is refused at COMMIT (TIMEOUT); the previous model keeps answering", async () => {
    const d = await device();
    const client = await d.connect();
    expect(await upload(client, A.bytes)).toMatchObject({ kind: "loadDone" });
    expect(await upload(client, loopingStart)).toMatchObject({ kind: "error", code: ErrorCode.TIMEOUT });
    expect(d.agent.store.active?.id).toBe(A.id);
    expect((await d.connect()).device?.modelId).toBe(A.id);
    expect(await client.request(run(samplePixels(64)))).toMatchObject({ kind: "runOk" });
    await d.agent.close();
  });

  it("a stored model whose start function never returns is not served after a restart (logged)", async () => {
    const store = tempDir("kiln-hostile-store-");
    mkdirSync(store, { recursive: true });
    writeFileSync(join(store, "model.wasm"), loopingStart);
    const d = await device(500, store);
    expect(d.agent.store.active).toBeNull();
    expect(d.lines.join("\n")).toMatch(/cannot be served .*did not finish within 500 ms/);
    await d.agent.close();
  });

  it("kiln agent still exits on SIGTERM while a blob loops in RUN", async () => {
    const store = tempDir("kiln-hostile-store-");
    const agent = await startAgent(["--tcp", "127.0.0.1:0", "--token", "t0k", "--store", store, "--run-limit", "600000"]);
    try {
      const target = await DeviceTarget.open(parseDeviceUri(`tcp://127.0.0.1:${agent.port}?token=t0k`));
      await deploy(target, looping, { name: "loop.wasm" });
      const client = await target.connect();
      void client.request(run(new Uint8Array(4)), { deviceMs: 600_000 }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
      const t0 = performance.now();
      agent.proc.kill("SIGTERM");
      const code = await Promise.race([agent.exited, new Promise((r) => setTimeout(() => r("still running"), 20_000))]);
      expect(code).not.toBe("still running");
      expect(performance.now() - t0).toBeLessThan(20_000);
      await client.close().catch(() => undefined);
      await target.dispose();
    } finally {
      await agent.stop("SIGKILL");
    }
  });

  it("WorkerModel: a timed-out call is a RunTimeout, and the next call gets a fresh instance", async () => {
    // run() returns the first time and loops on every later call of the same instance.
    const model = await WorkerModel.load(await handBlob({ run: op.secondCallLoops(100) }), { timeLimitMs: 300 });
    await expect(model.run(new Uint8Array(4))).resolves.toMatchObject({ index: 0 });
    await expect(model.run(new Uint8Array(4))).rejects.toBeInstanceOf(RunTimeout);
    await expect(model.run(new Uint8Array(4))).resolves.toMatchObject({ index: 0 }); // a fresh instance
    await expect(model.run(new Uint8Array(4))).rejects.toThrow(/did not finish within 300 ms/);
    await model.reset();
    await expect(model.run(new Uint8Array(4))).resolves.toMatchObject({ index: 0 });
    await model.close();
    const stuck = await WorkerModel.load(looping, { timeLimitMs: 300 });
    await expect(stuck.run(new Uint8Array(4))).rejects.toBeInstanceOf(RunTimeout);
    await expect(stuck.run(new Uint8Array(4))).rejects.toThrow(/did not finish within 300 ms/);
    await stuck.close();
    await expect(WorkerModel.load(loopingStart, { timeLimitMs: 300 })).rejects.toThrow(/start function.*did not finish within 300 ms/);
  });
});

describe("the CLI's own runs are time-limited", () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir("kiln-hostile-cli-");
    // Image-shaped ([1, 2, 2, 1]) so that kiln run takes a .u8 input for them.
    const image = (m: Record<string, any>): void => { m.input.shape = [1, 2, 2, 1]; };
    writeFileSync(join(dir, "loop.wasm"), await handBlob({ run: op.forever, manifest: image }));
    writeFileSync(join(dir, "loop-start.wasm"), await handBlob({ start: op.forever, manifest: image }));
    writeFileSync(join(dir, "in.u8"), new Uint8Array(8));
  });

  it("kiln run and kiln profile stop a looping blob with a clear error; kiln inspect never runs it", async () => {
    for (const args of [["run", join(dir, "loop.wasm"), "--input", join(dir, "in.u8")], ["profile", join(dir, "loop.wasm"), "--runs", "3"]]) {
      const r = await kiln([...args, "--time-limit", "500"], 30_000);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/did not finish within 500 ms; it was stopped \(--time-limit sets the limit\)/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const start = await kiln(["run", join(dir, "loop-start.wasm"), "--input", join(dir, "in.u8"), "--time-limit", "500"], 30_000);
    expect(start.stderr).toMatch(/start function\) did not finish within 500 ms/);
    const inspect = await kiln(["inspect", join(dir, "loop-start.wasm")], 30_000);
    expect(inspect.status).toBe(0);
    expect(inspect.stdout).toMatch(/model hand/);
  });
});

describe("memory: a declared maximum within the limit", () => {
  it("refuses a memory without a maximum, or with one above the limit, before running anything", async () => {
    await expect(Model.load(await handBlob({ memory: { min: 1, max: null } }))).rejects.toThrow(/declares no maximum/);
    await expect(Model.load(await handBlob({ memory: { min: 1, max: 65536 } }))).rejects.toThrow(/may grow to 4294967296 bytes; the limit here is 268435456/);
    await expect(Model.load(await handBlob({ memory: { min: 1, max: 64 } }), { memoryLimit: 1 << 20 })).rejects.toThrow(/may grow to 4194304 bytes; the limit here is 1048576/);
    await expect(Model.load(await handBlob({ memory: { min: 1, max: 4096 } }))).resolves.toBeInstanceOf(Model);
  });

  it("a blob that grows its memory in run() is refused without a maximum, and bounded by its maximum otherwise", async () => {
    const grower = { run: op.grow(1000) };
    await expect(Model.load(await handBlob({ ...grower, memory: { min: 1, max: null } }))).rejects.toThrow(/declares no maximum/);
    const d = await device();
    const client = await d.connect();
    expect(await upload(client, await handBlob({ ...grower, memory: { min: 1, max: null } }))).toMatchObject({ kind: "error", code: ErrorCode.OUT_OF_MEMORY });
    await d.agent.close();
    const bounded = await Model.load(await handBlob({ ...grower, memory: { min: 1, max: 2 } }));
    for (let i = 0; i < 5; i++) bounded.predict(new Float32Array(4));
    expect(bounded.exports.memory.buffer.byteLength).toBe(65536);
  });
});

describe("manifest and ABI are checked against a schema and the module", () => {
  const refused = async (o: Parameters<typeof handBlob>[0], message: RegExp): Promise<void> => {
    const bytes = await handBlob(o);
    const error = await Model.load(bytes).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(BlobError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/\n/);
  };

  it("gives clear BlobErrors for huge shapes, a huge layer_count(), and regions outside memory", async () => {
    await refused({ manifest: (m) => { m.output.shape = [1, 1e9]; } }, /output\.shape \[1, 1000000000\] has 1000000000 elements; at most 16777216/);
    await refused({ manifest: (m) => { m.input.shape = [1, 1e9, 1, 1]; } }, /input\.shape \[1, 1000000000, 1, 1\] has 1000000000 elements/);
    await refused({ layerCount: 2 ** 31 - 1 }, /layer_count\(\) is 2147483647; the manifest lists 1 layers/);
    await refused({ manifest: (m) => { m.output.shape = [1, 20000]; } }, /output_ptr\(\) is 16: 80000 bytes of output \[1, 20000\] float32 there do not fit in the blob's 65536-byte memory/);
    await refused({ inputPtr: 65530 }, /input_ptr\(\) is 65530/);
    await refused({ inputPtr: -8 }, /input_ptr\(\) is -8/);
    await refused({ outputPtr: 2 }, /output_ptr\(\) is 2/); // float32 needs 4-byte alignment
  });

  it("checks every field's type, dtypes against quantize, and the exports' kinds", async () => {
    const cases: [(m: Record<string, any>) => void, RegExp][] = [
      [(m) => { m.quantize = "int8"; }, /input\.dtype must be one of "int8"/],
      [(m) => { m.input.shape = "1,4"; }, /input\.shape must be a list of 1…8 dimensions/],
      [(m) => { m.input.shape = [1, 2.5]; }, /input\.shape dimension 1 is 2\.5; dimensions must be positive whole numbers/],
      [(m) => { m.input.shape = [1, 0]; }, /dimensions must be positive whole numbers/],
      [(m) => { m.input.shape = [[[[1]]], 4]; }, /input\.shape dimension 0 is a list; dimensions must be positive whole numbers/],
      [(m) => { m.labels = [1, 2]; }, /labels\[0\] must be a string/],
      [(m) => { m.labels = ["x".repeat(5000)]; }, /labels\[0\] is 5000 characters long; at most 1024/],
      [(m) => { m.labels = new Array(70_000).fill("a"); }, /labels has 70000 entries; at most 65536/],
      [(m) => { m.layers = {}; }, /layers must be a list/],
      [(m) => { m.layers[0].kernels = ["conv_i8", "x\u001b[2J"]; }, /layers\[0\]\.kernels\[1\] .*must be a kernel function name/],
      [(m) => { m.layers[0].kernels = "conv_i8"; }, /layers\[0\]\.kernels must be a list/],
      [(m) => { m.layers[0].fused = "dense"; }, /layers\[0\]\.fused must be a list/],
      [(m) => { m.layers[0].macs = -1; }, /layers\[0\]\.macs must be a whole number ≥ 0/],
      [(m) => { m.model = { name: "x" }; }, /model must be a string/],
      [(m) => { m.version = 99; }, /unsupported manifest \(format "kiln\.manifest", version 99; this runtime reads version 2\)/],
      [(m) => { m.input.pixelScale = "1"; }, /input\.pixelScale must be a finite number/],
      [(m) => { m.simd = true; }, /simd must be false for target scalar/],
    ];
    for (const [edit, message] of cases) await refused({ manifest: edit }, message);
    await refused({ omitExports: ["run_layer"] }, /does not export a function named run_layer/);
    await refused({ omitExports: ["memory"] }, /does not export a memory named memory/);
  });

  it("an int8 blob that claims float32 input, or a longer output than it has, is refused", async () => {
    const compiled = await compileFile(MNIST, { ...DEFAULT_COMPILE_OPTIONS, calibration: calibrationImages() });
    const manifest = compiled.manifest as unknown as Record<string, any>;
    expect(() => validateManifest({ ...manifest, input: { ...manifest.input, dtype: "float32" } })).toThrow(/input\.dtype must be one of "int8"/);
    expect(validateManifest(JSON.parse(JSON.stringify(manifest))).output.shape).toEqual([1, 10]);
    // A value nested 100,000 deep (JSON.parse takes it) is described by its kind, not stringified recursively.
    const deep = `[`.repeat(100_000) + `]`.repeat(100_000);
    expect(() => validateManifest(JSON.parse(`{"format":${deep},"version":2}`))).toThrow(/unsupported manifest \(format a list, version 2;/);
    expect(() => validateManifest(JSON.parse(JSON.stringify({ ...manifest, input: { ...manifest.input, shape: [1, 2] } }).replace('"shape":[1,2]', `"shape":[${deep},2]`)))).toThrow(/input\.shape dimension 0 is a list/);
    await expect(inspectBlob(compiled.wasm)).resolves.toMatchObject({ info: { model: manifest.model } });
  });

  it("the validator is exported for manifests from elsewhere (a device), naming the source", () => {
    expect(() => validateManifest({ ...defaultManifest(), contentHash: "sha256:" + "0".repeat(64), labels: "abc" }, "device tcp://x"))
      .toThrow(/^device tcp:\/\/x: labels must be a list$/);
    expect(() => validateManifest(null, "device")).toThrow(/device: the manifest must be an object/);
  });
});

describe("content hash", () => {
  it("rejects every one of 400 single-byte changes spread over a compiled blob (code, weights, manifest)", async () => {
    const wasm = (await compileFile(MNIST, { ...DEFAULT_COMPILE_OPTIONS, calibration: calibrationImages() })).wasm;
    await expect(Model.load(wasm)).resolves.toBeInstanceOf(Model);
    const positions = new Set<number>();
    for (let i = 0; i < 300; i++) positions.add(Math.floor((i * wasm.length) / 300));
    for (let i = 0; i < 100; i++) positions.add(wasm.length - 1 - i * 7); // the manifest, at the end, densely
    const accepted: number[] = [];
    let k = 0;
    for (const at of positions) {
      const bad = wasm.slice();
      bad[at] ^= 1 << (k++ % 8);
      const error = await Model.load(bad).then(() => null, (e: unknown) => e);
      if (!(error instanceof BlobError)) accepted.push(at);
    }
    expect(positions.size).toBeGreaterThanOrEqual(300);
    expect(accepted).toEqual([]);
  });

  it("says 'content hash mismatch' for a changed weight, and names a missing hash", async () => {
    const blob = await handBlob();
    const bad = blob.slice();
    bad[20] ^= 0x01; // inside the module, before the manifest
    await expect(Model.load(bad)).rejects.toThrow(/^blob is corrupt: content hash mismatch$/);
    await expect(Model.load(await handBlob({ trailing: [0, 3, 1, 0x61, 0] }))).rejects.toThrow(/sections follow the kiln\.manifest section/);
    await expect(Model.load(await handBlob({ rawManifest: JSON.stringify(defaultManifest()) }))).rejects.toThrow(/no content hash/);
    const old = { ...defaultManifest(), version: 1 } as Record<string, unknown>;
    delete old.contentHash;
    await expect(Model.load(await handBlob({ rawManifest: JSON.stringify(old) }))).rejects.toThrow(/unsupported manifest \(format "kiln\.manifest", version 1; this runtime reads version 2\)/);
  });
});
