// `kiln agent` on a socat pty, the host through the real serialport package, a relay pacing the line at 115200 baud.
//
//   host (this process, SerialLink) ── pty H ═socat═ pty R1 ── relay (this process: pacing, faults) ── pty R2 ═socat═ pty D ── kiln agent (child process)
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileFile, DEFAULT_COMPILE_OPTIONS } from "../compiler/compile.js";
import { calibrationImages } from "../bin/calibration.js";
import { mnistPaths } from "../io/idx.js";
import { parseDeviceUri } from "../firmware-host/device-uri.js";
import { SerialLink } from "../firmware-host/serial.js";
import { DeviceTarget } from "../firmware-host/target.js";
import { Relay } from "./device-relay.js";
import { faultScenarios, type LinkEnv } from "./device-scenarios.js";
import { blobFromFile, kiln, socatPair, startAgent, tinyBlob, type Spawned } from "./device-helpers.js";
import { tempDir } from "./helpers.js";
import { requireCommand } from "./require-tool.js";
import { writeFileSync } from "node:fs";

const socat = requireCommand("socat", "apt-get install socat", ["-V"]);

const BAUD = 115200;
let env: LinkEnv;
let agent: (Spawned & { where: string }) | null = null;
const processes: Spawned[] = [];
let target: DeviceTarget;
let hostPath = "";

// The hooks live inside the suite, so nothing starts (socat least of all) when it is skipped.
describe.skipIf(!socat.ok)(`serial link at 115200 baud through socat and the pacing relay${socat.note}`, () => {
  beforeAll(async () => {
    const dir = tempDir("kiln-serial-");
    const store = join(dir, "store");
    const [a, b, c, d] = [await tinyBlob(1), await tinyBlob(2, 6, 4), await tinyBlob(3, 8, 10), await tinyBlob(4, 8, 10)];
    const hostSide = await socatPair(dir, "H", "R1");
    const deviceSide = await socatPair(dir, "R2", "D");
    processes.push(hostSide, deviceSide);
    hostPath = hostSide.a;
    const start = async (): Promise<void> => {
      agent = await startAgent(["--serial", deviceSide.b, "--baud", String(BAUD), "--store", store]);
    };
    await start();
    const relay = new Relay(BAUD, 5);
    relay.attach(await SerialLink.open(hostSide.b, { baudRate: BAUD }), await SerialLink.open(deviceSide.a, { baudRate: BAUD }));
    target = await DeviceTarget.open(parseDeviceUri(`serial:${hostPath}?baud=${BAUD}`));
    env = {
      name: "serial", baud: BAUD, relay, target, store, blobs: { a, b, c, d },
      cut: (on) => { relay.cut = on; },
      killAgent: async () => { await agent?.stop("SIGKILL"); agent = null; },
      startAgent: start,
      agentLog: () => agent?.stderr() ?? "",
    };
  });

  afterAll(async () => {
    await env?.relay.close();
    await agent?.stop();
    for (const p of processes) await p.stop();
  });

  faultScenarios(() => env);

  it("kiln deploy of the 208 KB MNIST blob over the paced line, then kiln bench on it, equal to kiln profile and the host's outputs", async () => {
    const blobPath = join(tempDir("kiln-mnist-"), "mnist.wasm");
    writeFileSync(blobPath, (await compileFile(join(import.meta.dirname, "..", "models", "mnist-cnn", "model.json"), { ...DEFAULT_COMPILE_OPTIONS, calibration: calibrationImages() })).wasm);
    const mnist = await blobFromFile(blobPath);
    const device = `serial:${hostPath}?baud=${BAUD}`;
    const d = await kiln(["deploy", blobPath, "--device", device, "--json"], 120_000);
    expect(d.status, d.stderr + env.agentLog()).toBe(0);
    const r = JSON.parse(d.stdout);
    const ideal = (r.size * 10) / BAUD;
    console.log(`[serial @ ${BAUD} baud] kiln deploy of the MNIST blob: ${r.size} B in ${r.seconds.toFixed(2)} s (ideal ${ideal.toFixed(2)} s, `
      + `${Math.round((100 * ideal) / r.seconds)} % of line rate), ${r.wireBytesOut} B on the wire, ${r.chunks} chunks`);
    expect(r.modelId).toBe(mnist.id);
    expect(r.seconds).toBeLessThan(ideal * 1.2 + 1);

    const { testImages, testLabels } = mnistPaths();
    const b = await kiln(["bench", blobPath, "--device", device, "--runs", "50", "--warmup", "5", "--images", testImages, "--labels", testLabels, "--count", "20", "--json"], 120_000);
    expect(b.status, b.stderr).toBe(0);
    const bench = JSON.parse(b.stdout);
    const p = await kiln(["profile", blobPath, "--runs", "50", "--warmup", "5", "--json"]);
    const local = JSON.parse(p.stdout);
    // Outputs equal; timings resemble: same layers in the same order, positive, the same order of magnitude.
    expect(bench.eval).toMatchObject({ count: 20, mismatches: 0 });
    expect(bench.eval.accuracy).toBeGreaterThan(0.8);
    expect(bench.profile.layers.map((l: { name: string }) => l.name)).toEqual(local.layers.map((l: { name: string }) => l.name));
    expect(bench.profile.layers.every((l: { p50Us: number; p90Us: number }) => l.p50Us > 0 && l.p90Us >= l.p50Us)).toBe(true);
    const ratio = bench.profile.layerSumP50Us / local.layerSumP50Us;
    expect(ratio).toBeGreaterThan(0.1);
    expect(ratio).toBeLessThan(10);
    // The link dominates a RUN at 115200 baud: 785 bytes out take ≈ 68 ms.
    expect(bench.link.linkP50Us / 1000).toBeGreaterThan(60);
    console.log(`[serial @ ${BAUD} baud] kiln bench: device layer sum p50 ${bench.profile.layerSumP50Us.toFixed(1)} µs vs kiln profile ${local.layerSumP50Us.toFixed(1)} µs; `
      + `RUN round trip ${(bench.link.roundTripP50Us / 1000).toFixed(1)} ms of which device ${bench.link.deviceRunP50Us.toFixed(1)} µs`);
  });
});
