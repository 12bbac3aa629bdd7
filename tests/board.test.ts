// The Kiln firmware on the emulated Cortex-M4 board (QEMU mps2-an386) through the pacing relay at 115200 baud:
// deploy, bench and eval of LeNet-5 and mnist-cnn equal to the host's run of the same blobs, and link faults.
//
//   host (kiln CLI or this process) ── pty H ═socat═ pty R ── relay (this process: pacing, faults) ── QEMU's pty ── firmware (UART0)
import { spawn } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBoard, type Board } from "../firmware-host/board.js";
import { deploy, DeployError, type DeployOptions, type DeployResult } from "../firmware-host/deploy.js";
import { parseDeviceUri } from "../firmware-host/device-uri.js";
import { runOnDevice } from "../firmware-host/device-ops.js";
import { DeviceError } from "../firmware-host/errors.js";
import { ErrorCode } from "../firmware-host/messages.js";
import { SerialLink } from "../firmware-host/serial.js";
import { DeviceTarget } from "../firmware-host/target.js";
import { crc32 } from "../firmware-host/crc32.js";
import { sha256 } from "../firmware-host/upload.js";
import { mnistPaths } from "../io/idx.js";
import { Relay, waitFor } from "./device-relay.js";
import { blobFromFile, hostRaw, kiln, ROOT, samplePixels, socatPair, tinyBlob, type Blob, type Spawned } from "./device-helpers.js";
import { tempDir } from "./helpers.js";
import { requireCommand, requireFirmwareTools } from "./require-tool.js";

const tools = [
  ...requireFirmwareTools(),
  requireCommand("socat", "apt-get install socat", ["-V"]),
];
const ready = tools.every((t) => t.ok);
const note = tools.map((t) => t.note).join("");

const BAUD = 115200;
const ELF = join(ROOT, "firmware", "build", "kiln-fw.elf");
/**
 * The emulated M4 runs an inference in ~0.3–2 s of wall time (LeNet-5 to mnist-cnn, more on a busy machine): a bench
 * of 200 images is minutes, and may be more when the machine runs other tests.
 */
const BENCH_MS = 900_000;
/** A firmware built elsewhere to boot instead of running npm run firmware (while working on the firmware). */
const GIVEN_ELF = process.env.KILN_BOARD_ELF;

let board: Board | null = null;
let relay: Relay;
let socat: Spawned & { a: string; b: string };
let target: DeviceTarget;
let device = "";
let lenet: Blob, mnist: Blob;
/** Small scalar blobs (a few KB) for the fault scenarios, all different. */
let small: Blob[] = [];

/** `npm run firmware`, without blocking the event loop; its output in the error when it fails. */
async function buildFirmware(): Promise<void> {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const child = spawn(npm, ["run", "--silent", "firmware"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => { output += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { output += d.toString(); });
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  if (code !== 0 || !existsSync(ELF)) throw new Error(`npm run firmware failed (exit ${code}):\n${output}`);
  console.log(`[board] npm run firmware:\n${output.trim().split("\n").slice(-4).join("\n")}`);
}

/** A model of the zoo compiled with scalar kernels, the way a user would: kiln compile --target scalar. */
async function scalarZooBlob(name: string, dir: string): Promise<Blob> {
  const path = join(dir, `${name}-scalar.wasm`);
  const r = await kiln(["compile", join(ROOT, "models", name, "model.json"), "--target", "scalar", "-o", path], 300_000);
  if (r.status !== 0) throw new Error(`kiln compile ${name} failed: ${r.stderr}`);
  return blobFromFile(path);
}

/** What the board runs now: HELLO names the blob, and a RUN equals the host's run of it. */
async function expectServes(blob: Blob): Promise<void> {
  const client = await target.connect();
  try {
    expect(client.device?.modelId, board?.output()).toBe(blob.id);
    const pixels = samplePixels(blob.model.inputSize, 77);
    expect(Array.from((await runOnDevice(client, pixels)).raw)).toEqual(Array.from(hostRaw(blob, pixels)));
  } finally {
    await client.close();
  }
}

function report(what: string, r: DeployResult): void {
  const ideal = (r.size * 10) / BAUD;
  console.log(`[board @ ${BAUD} baud] ${what}: ${r.size} B in ${r.seconds.toFixed(2)} s (ideal ${ideal.toFixed(2)} s, `
    + `${Math.round((100 * ideal) / r.seconds)} % of line rate); ${r.wireBytesOut} B sent, ${r.failedAttempts} failed attempts, `
    + `${r.sessions} session(s); link: ${JSON.stringify(r.link)}`);
}

/** Deploys, and runs `during` once the board has acknowledged `share` of the blob. */
async function deployWith(blob: Blob, share: number, during: () => Promise<void>, options: DeployOptions = {}): Promise<DeployResult | Error> {
  let acked = 0, settled = false;
  const running = deploy(target, blob.bytes, { backoffMs: [200, 400], ...options, onProgress: (done) => { acked = done; } })
    .catch((e: Error) => e).finally(() => { settled = true; });
  await waitFor(() => acked >= share * blob.bytes.length || settled, 60_000, `${Math.round(share * 100)} % of the upload`);
  if (settled) throw new Error(`the upload ended before the fault could be injected: ${String(await running)}`);
  await during();
  return running;
}

describe.skipIf(!ready)(`the Kiln firmware on QEMU mps2-an386 through the pacing relay at ${BAUD} baud${note}`, () => {
  beforeAll(async () => {
    const dir = tempDir("kiln-board-");
    if (!GIVEN_ELF) await buildFirmware();
    // The test boots a copy: a rebuild meanwhile (another terminal) neither removes nor changes the firmware under it.
    const elf = join(dir, "kiln-fw.elf");
    copyFileSync(GIVEN_ELF ?? ELF, elf);
    [lenet, mnist] = [await scalarZooBlob("lenet5", dir), await scalarZooBlob("mnist-cnn", dir)];
    small = [await tinyBlob(41, 4, 3, "scalar"), await tinyBlob(42, 6, 4, "scalar"), await tinyBlob(43, 8, 10, "scalar"), await tinyBlob(44, 8, 10, "scalar")];
    socat = await socatPair(dir, "H", "R");
    board = await startBoard({ elf });
    relay = new Relay(BAUD, 12);
    relay.attach(await SerialLink.open(socat.b, { baudRate: BAUD }), await SerialLink.open(board.ptyPath, { baudRate: BAUD }));
    device = `serial:${socat.a}?baud=${BAUD}`;
    target = await DeviceTarget.open(parseDeviceUri(device));
  }, 900_000);

  afterAll(async () => {
    await relay?.close();
    await target?.dispose();
    await board?.stop();
    await socat?.stop();
  });

  it("HELLO: the board announces WAMR without SIMD, its frame size and memory", async () => {
    const client = await target.connect();
    try {
      const h = client.device!;
      console.log(`[board] HELLO: ${JSON.stringify(h)}`);
      expect(h.simd).toBe(false);
      expect(h.runtime).toMatch(/wamr/i);
      expect(h.maxFrame).toBeGreaterThanOrEqual(256);
      expect(h.memoryLimit).toBeGreaterThan(0);
      expect(h.maxBlob).toBeGreaterThanOrEqual(mnist.bytes.length);
    } finally {
      await client.close();
    }
  });

  it("kiln deploy of a SIMD blob stops before uploading: compile with --target scalar", async () => {
    const simd = await tinyBlob(45);
    const r = await kiln(["deploy", simd.path, "--device", device]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/has no WebAssembly SIMD and this blob needs it: compile the model with --target scalar.*nothing was uploaded/);
  });

  for (const [name, count] of [["lenet5", 200], ["mnist-cnn", 50]] as const) {
    it(`${name}: kiln deploy, then kiln bench on ${count} MNIST test images equal to the host's run, a profile row per layer`, async () => {
      const blob = name === "lenet5" ? lenet : mnist;
      const d = await kiln(["deploy", blob.path, "--device", device, "--json"], 300_000);
      expect(d.status, d.stderr + board?.output()).toBe(0);
      const r = JSON.parse(d.stdout);
      const ideal = (r.size * 10) / BAUD;
      console.log(`[board @ ${BAUD} baud] kiln deploy ${name} (scalar): ${r.size} B in ${r.seconds.toFixed(2)} s (ideal ${ideal.toFixed(2)} s, `
        + `${Math.round((100 * ideal) / r.seconds)} % of line rate), ${r.chunks} chunks`);
      expect(r.modelId).toBe(blob.id);
      expect(r.device.simd).toBe(false);

      const { testImages, testLabels } = mnistPaths();
      const b = await kiln(["bench", blob.path, "--device", device, "--runs", "2", "--warmup", "1", "--link-runs", "2",
        "--images", testImages, "--labels", testLabels, "--count", String(count), "--json"], BENCH_MS);
      expect(b.status, b.stderr).toBe(0);
      const bench = JSON.parse(b.stdout);
      // Every image: the board's output bytes and prediction equal the host's run of the same blob.
      expect(bench.eval).toMatchObject({ count, mismatches: 0, outputsEqual: count, predictionsDiffer: 0 });
      expect(bench.eval.accuracy).toBeGreaterThan(0.9);
      const layers = blob.model.info.layers;
      expect(bench.profile.layers.map((l: { name: string }) => l.name)).toEqual(layers.map((l) => l.name));
      expect(bench.profile.layers.every((l: { p50Us: number }) => l.p50Us > 0)).toBe(true);
      expect(bench.profile.clockHz).toBeGreaterThan(0);
      expect(bench.profile.layers.every((l: { cycles?: number }) => typeof l.cycles === "number" && l.cycles > 0)).toBe(true);
      const macs = layers.reduce((a, l) => a + l.macs, 0);
      const cycles = bench.profile.layers.reduce((a: number, l: { cycles: number }) => a + l.cycles, 0);
      console.log(`[board] ${name}: accuracy ${(100 * bench.eval.accuracy).toFixed(1)} % on ${count} images (device ${(bench.eval.deviceUs / 1e6).toFixed(1)} s, `
        + `link ${bench.eval.linkMs.toFixed(0)} ms, ${bench.eval.seconds.toFixed(1)} s wall); profile: ${cycles.toLocaleString("en-US")} cycles in layers, `
        + `${(cycles / macs).toFixed(1)} cycles/MAC at ${bench.profile.clockHz / 1e6} MHz (QEMU without -icount: host-time based); `
        + bench.profile.layers.map((l: { name: string; cycles: number }) => `${l.name} ${l.cycles}`).join(", "));
    }, BENCH_MS + 300_000);
  }

  it("a blob too large for the board is refused at LOAD_BEGIN; a blob WAMR cannot load is refused at COMMIT; the model keeps serving", async () => {
    const client = await target.connect();
    try {
      const max = client.device!.maxBlob;
      const huge = { kind: "loadBegin" as const, size: max + 1, sha256: new Uint8Array(32).fill(7), crc32: 0, name: "huge" };
      await expect(client.request(huge)).rejects.toMatchObject({ code: ErrorCode.TOO_LARGE });
    } finally {
      await client.close();
    }
    // A wasm header and garbage: uploaded, hash-checked, then refused by the runtime.
    const junk = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...samplePixels(3000, 9)]);
    const e = await deploy(target, junk, { sessions: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect([ErrorCode.INVALID_BLOB, ErrorCode.BAD_MANIFEST]).toContain((e as DeviceError).code);
    console.log(`[board] junk blob: ${(e as Error).message}`);
    await expectServes(mnist);
  });

  it("1 % of bytes corrupted in both directions: the deploy completes with the right content", async () => {
    relay.faults = { corrupt: 0.01 };
    const before = relay.stats.corrupted;
    try {
      const r = await deploy(target, small[0].bytes);
      report("1 % corruption", r);
      expect(relay.stats.corrupted - before).toBeGreaterThan(10);
      expect(r.modelId).toBe(small[0].id);
    } finally {
      relay.faults = {};
    }
    await expectServes(small[0]);
  });

  it("1 % of bytes dropped: the deploy completes with the right content", async () => {
    relay.faults = { drop: 0.01 };
    try {
      const r = await deploy(target, small[1].bytes);
      report("1 % dropped bytes", r);
      expect(r.modelId).toBe(small[1].id);
    } finally {
      relay.faults = {};
    }
    await expectServes(small[1]);
  });

  it("a cut of 1.5 s mid-upload: the deploy resumes and completes", async () => {
    const r = await deployWith(small[2], 0.25, async () => {
      relay.cut = true;
      await new Promise((res) => setTimeout(res, 1500));
      relay.cut = false;
    }, { maxFailures: 3, backoffMs: [300, 600, 1200] });
    if (r instanceof Error) throw r;
    report("cut for 1.5 s", r);
    expect(r.modelId).toBe(small[2].id);
    await expectServes(small[2]);
  });

  it("the link lost for good mid-upload: a clear error, the previous model serves, and the next deploy resumes", async () => {
    const r = await deployWith(small[3], 0.25, async () => { relay.cut = true; }, { sessions: 2, maxFailures: 3, backoffMs: [200] });
    relay.cut = false;
    expect(r).toBeInstanceOf(DeployError);
    const acked = (r as DeployError).acked;
    expect(acked).toBeGreaterThan(0);
    expect((r as Error).message).toMatch(/keeps serving its previous model/);
    await expectServes(small[2]);
    const again = await deploy(target, small[3].bytes);
    report("resumed after the cut", again);
    expect(again.resumedFrom).toBeGreaterThanOrEqual(acked);
    expect(again.modelId).toBe(small[3].id);
    await expectServes(small[3]);
  });

  it("an upload with a wrong hash at COMMIT is refused and the board keeps serving", async () => {
    const blob = small[0];
    const client = await target.connect();
    try {
      // LOAD_BEGIN announces one hash; the bytes sent are another blob's: COMMIT must not switch.
      const other = small[1].bytes.subarray(0, blob.bytes.length);
      const ready = await client.request({ kind: "loadBegin", size: other.length, sha256: sha256(blob.bytes.subarray(0, other.length)), crc32: crc32(other), name: "wrong" });
      expect(ready.kind).toBe("loadReady");
      const chunk = Math.min(256, client.maxBody - 4);
      let offset = ready.kind === "loadReady" ? ready.offset : 0;
      while (offset < other.length) {
        const reply = await client.request({ kind: "loadChunk", offset, data: other.subarray(offset, offset + chunk) });
        offset = reply.kind === "loadAck" ? reply.next : reply.kind === "nak" ? reply.expected : offset;
      }
      await expect(client.request({ kind: "loadCommit", sha256: sha256(blob.bytes.subarray(0, other.length)) })).rejects.toBeInstanceOf(DeviceError);
    } finally {
      await client.close();
    }
    await expectServes(small[3]);
  });
});
