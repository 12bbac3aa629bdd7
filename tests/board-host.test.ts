// The host side of the board (issue 12) without the firmware: SIMD blobs refused before uploading to a device
// without SIMD, cycle counts in a device's profile (checked, and shown by kiln bench), and QEMU started and stopped
// by startBoard / `kiln board start` on a tiny echo firmware built here.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent } from "../firmware-host/agent.js";
import { BoardError, qemuArgs, startBoard } from "../firmware-host/board.js";
import { deploy, DeployError, type Connector } from "../firmware-host/deploy.js";
import { answeredRoundTrip, checkProfile } from "../firmware-host/device-ops.js";
import { DeviceClient } from "../firmware-host/client.js";
import { SerialLink } from "../firmware-host/serial.js";
import { createAgent, serveTcp, type Serving } from "../firmware-host/serve.js";
import { TcpLink } from "../firmware-host/tcp.js";
import type { ProfileResult } from "../runtime/profile.js";
import { profileTable } from "../bin/commands/profile.js";
import { CLI, kiln, spawnProcess, tinyBlob, type Blob } from "./device-helpers.js";
import { waitFor } from "./device-relay.js";
import { tempDir } from "./helpers.js";
import { requireCommand } from "./require-tool.js";

const TOKEN = "board-host-secret";

describe("a device without SIMD (HELLO simd: false)", () => {
  let agent: Agent, serving: Serving & { port: number }, store: string, simd: Blob, scalar: Blob;
  const uri = (): string => `tcp://127.0.0.1:${serving.port}?token=${TOKEN}`;
  const connector = (): Connector => ({
    description: "the test agent",
    async connect() {
      const client = new DeviceClient(await TcpLink.connect("127.0.0.1", serving.port), { token: TOKEN });
      await client.hello();
      return client;
    },
  });

  beforeAll(async () => {
    store = join(tempDir("kiln-nosimd-"), "store");
    agent = await createAgent({ store, token: TOKEN, requireHello: true, simd: false, name: "no-simd" });
    serving = await serveTcp(agent, "127.0.0.1", 0);
    [simd, scalar] = [await tinyBlob(21), await tinyBlob(22, 4, 3, "scalar")];
    expect(simd.model.info.simd).toBe(true);
    expect(scalar.model.info.simd).toBe(false);
  });
  afterAll(async () => {
    await serving?.close();
    await agent?.close();
  });

  it("kiln deploy of a SIMD blob stops before uploading and says to compile with --target scalar", async () => {
    const r = await kiln(["deploy", simd.path, "--device", uri()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^kiln deploy: tcp:\/\/127\.0\.0\.1:\d+ \(no-simd, node .*\) has no WebAssembly SIMD and this blob needs it: compile the model with --target scalar .*nothing was uploaded\n$/);
    expect(r.stderr).not.toContain(TOKEN);
    // Nothing reached the store: no pending upload, no model.
    expect(readdirSync(store)).toEqual([]);
    expect(agent.store.active).toBeNull();
  });

  it("deploy() with needsSimd refuses after HELLO, before LOAD_BEGIN; a scalar blob deploys and runs", async () => {
    const e = await deploy(connector(), simd.bytes, { needsSimd: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeployError);
    expect((e as DeployError).acked).toBe(0);
    expect(readdirSync(store)).toEqual([]); // LOAD_BEGIN would have made upload.part
    const r = await kiln(["deploy", scalar.path, "--device", uri()]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SIMD no/);
    expect(agent.store.active?.id).toBe(scalar.id);
  });

  it("kiln bench of a SIMD blob does not deploy it either", async () => {
    const r = await kiln(["bench", simd.path, "--device", uri(), "--runs", "2", "--warmup", "0", "--link-runs", "1"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/kiln bench: .*has no WebAssembly SIMD and this blob needs it: compile the model with --target scalar/);
    expect(agent.store.active?.id).toBe(scalar.id);
  });
});

describe("cycle counts in a device's profile", () => {
  let blob: Blob;
  beforeAll(async () => { blob = await tinyBlob(31, 4, 3, "scalar"); });

  /** What the firmware sends: names, cycles and the clock; times, shapes and MACs left to the host. */
  const firmwareLike = (cycles: number[]) => ({ clockHz: 25_000_000, runs: 3, warmup: 1, endToEndCycles: cycles.reduce((a, b) => a + b, 0) - 10,
    layers: blob.model.info.layers.map((l, i) => ({ name: l.name, cycles: cycles[i] })) });

  it("a profile with cycles and clockHz is completed from the manifest; times follow from the cycles", () => {
    const cycles = blob.model.info.layers.map((_, i) => 25_000 * (i + 1));
    const p = checkProfile(firmwareLike(cycles), blob.model.info, { runs: 3, warmup: 1 });
    expect(p.clockHz).toBe(25_000_000);
    expect(p.layers.map((l) => l.cycles)).toEqual(cycles);
    expect(p.layers.map((l) => l.p50Us)).toEqual(cycles.map((c) => c / 25));
    expect(p.layers.map((l) => l.macs)).toEqual(blob.model.info.layers.map((l) => l.macs));
    expect(p.layers.map((l) => l.ops)).toEqual(blob.model.info.layers.map((l) => l.fused.join("+")));
    expect(p.layers.reduce((a, l) => a + l.share, 0)).toBeCloseTo(1, 9);
    expect(p.endToEnd.p50Us).toBeCloseTo((cycles.reduce((a, b) => a + b, 0) - 10) / 25, 6);
    expect(p.model).toBe(blob.model.info.model);
    const lines = profileTable(p, false);
    expect(lines[0]).toMatch(/p50 µs\s+p90 µs\s+cycles\s+cyc\/MAC\s+share/);
    const conv = blob.model.info.layers[0];
    expect(lines[1]).toContain(`${(cycles[0] / conv.macs).toFixed(1)}`);
    expect(lines.join("\n")).toMatch(/cycles {6}layers [\d,]+, run\(\) [\d,]+; [\d.]+ cycles per MAC at 25 MHz/);
  });

  it("a profile without cycles (the Node agent's) has no cycles column", () => {
    const p = checkProfile(firmwareLike([100, 200, 300]), null, { runs: 1, warmup: 0 });
    const plain: ProfileResult = { ...p, clockHz: undefined, endToEndCycles: undefined, layers: p.layers.map(({ cycles: _c, ...l }) => l) };
    expect(profileTable(plain, false)[0]).not.toMatch(/cycles/);
  });

  it("hostile profile fields are refused with one clear line", () => {
    const m = blob.model.info, asked = { runs: 1, warmup: 0 };
    const base = firmwareLike(m.layers.map(() => 100));
    expect(() => checkProfile({ ...base, clockHz: -1 }, m, asked)).toThrow(/PROFILE: clockHz is not a positive number/);
    expect(() => checkProfile({ ...base, layers: base.layers.slice(1) }, m, asked)).toThrow(/PROFILE: the device timed \d+ layers; its model has \d+/);
    expect(() => checkProfile({ ...base, layers: [{ name: "x", cycles: "many" }, ...base.layers.slice(1)] }, m, asked)).toThrow(/layer 0: cycles is not a count/);
    expect(() => checkProfile({ layers: [{ name: "x", cycles: 5 }] }, null, asked)).toThrow(/layer 0 has no time/);
    expect(() => checkProfile({ layers: [{ name: "x", p50Us: Infinity }] }, null, asked)).toThrow(/layer 0 has no time/);
    expect(() => checkProfile({ ...base, endToEndCycles: -4 }, m, asked)).toThrow(/endToEndCycles is not a count/);
    // Shapes that are not lists of sizes are replaced by the manifest's, never printed as given.
    const odd = checkProfile({ ...base, layers: base.layers.map((l) => ({ ...l, outputShape: "[1,2]", macs: "7" })) }, m, asked);
    expect(odd.layers.map((l) => l.outputShape)).toEqual(m.layers.map((l) => l.outputShape));
  });

  it("kiln bench against a device that reports cycles shows the cycles column and cycles per MAC", async () => {
    const store = join(tempDir("kiln-cycles-"), "store");
    const agent = await createAgent({ store, token: TOKEN, requireHello: true, simd: false, name: "cycles" });
    const serving = await serveTcp(agent, "127.0.0.1", 0);
    try {
      const device = `tcp://127.0.0.1:${serving.port}?token=${TOKEN}`;
      const d = await kiln(["deploy", blob.path, "--device", device]);
      expect(d.status, d.stderr).toBe(0);
      // The agent's worker model answers PROFILE as the firmware does.
      const cycles = blob.model.info.layers.map((_, i) => 1000 * (i + 2));
      const active = agent.store.active!;
      (active.model as { profile: unknown }).profile = async () => firmwareLike(cycles);
      const b = await kiln(["bench", blob.path, "--device", device, "--runs", "3", "--warmup", "1", "--link-runs", "2"]);
      expect(b.status, b.stderr).toBe(0);
      expect(b.stdout).toMatch(/cycles\s+cyc\/MAC/);
      expect(b.stdout).toContain((1000 * 2).toLocaleString("en-US"));
      expect(b.stdout).toMatch(/cycles per MAC at 25 MHz/);
      const j = await kiln(["bench", blob.path, "--device", device, "--runs", "3", "--warmup", "1", "--link-runs", "2", "--json"]);
      const json = JSON.parse(j.stdout);
      expect(json.profile.clockHz).toBe(25_000_000);
      expect(json.profile.layers.map((l: { cycles: number }) => l.cycles)).toEqual(cycles);
    } finally {
      await serving.close();
      await agent.close();
    }
  });
});

describe("link time next to a slow device", () => {
  it("a reply answers the last attempt sent at least the device's time before it (resends while it worked only hit its cache)", () => {
    const answer = { reply: { kind: "resetOk" as const }, seq: 1, rttMs: 400, attemptsAgoMs: [1800, 1100, 400] };
    expect(answeredRoundTrip(answer, 1_500_000)).toBe(1800); // busy 1.5 s: it answered the first attempt
    expect(answeredRoundTrip(answer, 1_000_000)).toBe(1100);
    expect(answeredRoundTrip(answer, 300_000)).toBe(400); // a lost first frame: the last attempt got the answer
    expect(answeredRoundTrip(answer, 5_000_000)).toBe(1800); // a device clock that runs fast (QEMU -icount): the first
    expect(answeredRoundTrip(answer, Number.NaN)).toBe(1800);
  });
});

describe("startBoard and kiln board start: errors that say what to install or build", () => {
  it("a missing firmware names npm run firmware", async () => {
    await expect(startBoard({ elf: "/nonexistent/kiln-fw.elf" })).rejects.toThrow(new BoardError("/nonexistent/kiln-fw.elf: firmware not found; build it with 'npm run firmware' (needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and cmake)"));
    const r = await kiln(["board", "start", "--elf", "/nonexistent/kiln-fw.elf"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^kiln board: \/nonexistent\/kiln-fw\.elf: firmware not found; build it with 'npm run firmware'/);
  });

  it("a missing QEMU names qemu-system-arm and the package to install", async () => {
    const elf = join(tempDir("kiln-elf-"), "fw.elf");
    writeFileSync(elf, "not really an ELF");
    await expect(startBoard({ elf, qemu: "/nonexistent/qemu-system-arm" })).rejects.toThrow(/qemu-system-arm not found: install QEMU's Arm system emulator \(apt-get install qemu-system-arm\)/);
  });

  it("usage errors", async () => {
    const r = await kiln(["board"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/kiln board: usage: kiln board start/);
    expect(qemuArgs("fw.elf", true)).toEqual(["-M", "mps2-an386", "-nographic", "-monitor", "none", "-kernel", "fw.elf", "-serial", "pty", "-icount", "shift=5"]);
  });
});

const qemu = requireCommand("qemu-system-arm", "apt-get install qemu-system-arm");
const gcc = requireCommand("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi");

/** A firmware of a few instructions that echoes UART0 (CMSDK APB UART at 0x40004000): enough to test the host side. */
const ECHO_C = `#include <stdint.h>
static void reset(void) {
  volatile uint32_t *uart = (uint32_t *)0x40004000;
  uart[2] = 3; uart[4] = 16;                     /* CTRL: TX and RX on; BAUDDIV */
  for (;;) if (uart[1] & 2) { uint32_t c = uart[0]; while (uart[1] & 1) {} uart[0] = c; }
}
__attribute__((section(".vectors"), used)) static const void *vectors[2] = { (void *)0x20010000, (void *)reset };
`;

describe.skipIf(!qemu.ok || !gcc.ok)(`the emulated board with an echo firmware${qemu.note}${gcc.note}`, () => {
  let elf = "";
  beforeAll(() => {
    const dir = tempDir("kiln-echo-");
    writeFileSync(join(dir, "echo.c"), ECHO_C);
    writeFileSync(join(dir, "echo.ld"), "SECTIONS { . = 0; .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } }\n");
    elf = join(dir, "echo.elf");
    const r = spawnSync("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-O1", "-nostdlib", "-T", join(dir, "echo.ld"), join(dir, "echo.c"), "-o", elf], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  });

  it("startBoard boots QEMU, finds the pty, and the board's UART answers on it; stop() ends QEMU", async () => {
    for (const icount of [false, true]) {
      const board = await startBoard({ elf, icount });
      try {
        expect(board.uri).toMatch(/^serial:\/dev\/pts\/\d+\?baud=115200$/);
        expect(board.uri).toBe(`serial:${board.ptyPath}?baud=115200`);
        expect(board.command.includes("shift=5")).toBe(icount);
        const link = await SerialLink.open(board.ptyPath);
        let got = "";
        link.onData((b) => { got += Buffer.from(b).toString(); });
        // QEMU notices a reader on its pty within a second; until then what is sent waits in the pty.
        link.write(new TextEncoder().encode("kiln"));
        await waitFor(() => got === "kiln", 5000, "the echo");
        await link.close();
      } finally {
        await board.stop();
      }
      expect(board.process.exitCode !== null || board.process.signalCode !== null).toBe(true);
      await waitFor(() => !existsSync(board.ptyPath), 5000, "QEMU's pty to go away");
    }
  });

  it("kiln board start prints the URI, keeps the board running, and stops QEMU on Ctrl-C", async () => {
    const p = spawnProcess(process.execPath, [CLI, "board", "start", "--elf", elf]);
    try {
      await waitFor(() => /Ctrl-C/.test(p.stderr()) || p.proc.exitCode !== null, 15_000, "the URI");
      const uri = p.stdout().trim();
      expect(uri, p.stderr()).toMatch(/^serial:\/dev\/pts\/\d+\?baud=115200$/);
      expect(p.stderr()).toMatch(/Ctrl-C stops the board/);
      const pty = uri.slice("serial:".length, uri.indexOf("?"));
      const link = await SerialLink.open(pty);
      let got = "";
      link.onData((b) => { got += Buffer.from(b).toString(); });
      link.write(new TextEncoder().encode("ok"));
      await waitFor(() => got === "ok", 5000, "the echo");
      await link.close();
      p.proc.kill("SIGINT");
      expect(await p.exited).toBe(0);
      expect(p.stderr()).toMatch(/board stopped/);
      // QEMU closed its pty: the device is gone.
      await waitFor(() => !existsSync(pty), 5000, "the pty to go away");
    } finally {
      // SIGTERM, not SIGKILL: kiln board stops QEMU on it; a killed kiln would leave QEMU running.
      await p.stop("SIGTERM");
    }
  });
});
