// `kiln agent --tcp` on loopback behind a relaying proxy (paced like 115200 baud, with faults), and its token check.
//
//   host (this process) ── tcp ── proxy + relay (this process) ── tcp ── kiln agent (child process, 127.0.0.1 only)
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceClient } from "../firmware-host/client.js";
import { parseDeviceUri } from "../firmware-host/device-uri.js";
import { ErrorCode } from "../firmware-host/messages.js";
import type { Link } from "../firmware-host/link.js";
import { DeviceTarget } from "../firmware-host/target.js";
import { listenTcp, TcpLink, type TcpServer } from "../firmware-host/tcp.js";
import { sha256 } from "../firmware-host/upload.js";
import { Relay } from "./device-relay.js";
import { expectServes, faultScenarios, type LinkEnv } from "./device-scenarios.js";
import { kiln, samplePixels, startAgent, storedModelId, tinyBlob, type Spawned } from "./device-helpers.js";
import { tempDir } from "./helpers.js";

const BAUD = 115200, TOKEN = "loopback-secret";
let env: LinkEnv;
let agent: (Spawned & { port: number; where: string }) | null = null;
let agentPort = 0;
let proxy: TcpServer;
const links = new Set<Link>();

beforeAll(async () => {
  const store = join(tempDir("kiln-tcp-"), "store");
  const [a, b, c, d] = [await tinyBlob(1), await tinyBlob(2, 6, 4), await tinyBlob(3, 8, 10), await tinyBlob(4, 8, 10)];
  const start = async (): Promise<void> => {
    agent = await startAgent(["--tcp", `127.0.0.1:${agentPort}`, "--token", TOKEN, "--store", store]);
    agentPort = agent.port;
  };
  await start();
  expect(agent!.where).toBe(`tcp 127.0.0.1:${agentPort}`);
  const relay = new Relay(BAUD, 9);
  let cut = false;
  proxy = await listenTcp("127.0.0.1", 0, (host) => {
    if (cut) return void host.close();
    const early: Uint8Array[] = [];
    const holding = host.onData((b) => early.push(b.slice())); // HELLO may come before the agent connection is up
    TcpLink.connect("127.0.0.1", agentPort).then((device) => {
      holding();
      links.add(host).add(device);
      relay.attach(host, device, early);
      host.onClose(() => { links.delete(host); void device.close(); });
      device.onClose(() => { links.delete(device); void host.close(); });
    }, () => { holding(); void host.close(); });
  });
  env = {
    name: "tcp", baud: BAUD, relay, store, blobs: { a, b, c, d },
    // 2 KB frames so that uploads have several chunks to lose; a 300 ms base timeout as on a serial line.
    target: await DeviceTarget.open(parseDeviceUri(`tcp://127.0.0.1:${proxy.port}?token=${TOKEN}&frame=2048&timeout=300`)),
    cut: (on) => {
      cut = on;
      if (on) for (const l of [...links]) void l.close();
    },
    killAgent: async () => { await agent?.stop("SIGKILL"); agent = null; },
    startAgent: start,
    agentLog: () => agent?.stderr() ?? "",
  };
});

afterAll(async () => {
  for (const l of [...links]) await l.close();
  await proxy?.close();
  await env?.relay.close();
  await agent?.stop();
});

describe("TCP on loopback through the pacing relay", () => {
  faultScenarios(() => env);

  it("a wrong or missing token is rejected and changes nothing", async () => {
    const before = storedModelId(env.store);
    expect(before).not.toBeNull();
    const wrong = await kiln(["deploy", env.blobs.a.path, "--device", `tcp://127.0.0.1:${agentPort}?token=wrong`]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim().split("\n")).toEqual(["kiln deploy: device refused HELLO: UNAUTHORIZED (wrong token)"]);
    const none = await kiln(["deploy", env.blobs.a.path, "--device", `tcp://127.0.0.1:${agentPort}`]);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/UNAUTHORIZED/);
    // Skipping HELLO does not help: every request is refused, and nothing is written.
    const raw = new DeviceClient(await TcpLink.connect("127.0.0.1", agentPort), { timeoutMs: 2000 });
    const blob = env.blobs.a.bytes;
    await expect(raw.request({ kind: "loadBegin", size: blob.length, sha256: sha256(blob), crc32: 0, name: "x" })).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    await expect(raw.request({ kind: "run", float: false, input: samplePixels(64) })).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    await raw.close();
    expect(storedModelId(env.store)).toBe(before);
    expect(existsSync(join(env.store, "upload.part"))).toBe(false);
    expect(env.agentLog()).toMatch(/wrong token: rejected/);
  });

  it("kiln bench over TCP: the device's per-layer profile matches kiln profile's layers, and its outputs the host's", async () => {
    const blob = env.blobs.c;
    const deployed = await kiln(["deploy", blob.path, "--device", `tcp://127.0.0.1:${agentPort}?token=${TOKEN}`]);
    expect(deployed.status, deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/^device .* at tcp:\/\/127\.0\.0\.1:\d+: node /m);
    const dir = tempDir("kiln-idx-");
    const count = 25, pixels = samplePixels(count * 64, 3);
    writeFileSync(join(dir, "images"), Buffer.concat([Buffer.from([0, 0, 8, 3, 0, 0, 0, count, 0, 0, 0, 8, 0, 0, 0, 8]), Buffer.from(pixels)]));
    writeFileSync(join(dir, "labels"), Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 0, 0, count]), Buffer.from(Uint8Array.from({ length: count }, (_, i) => i % 10))]));
    const b = await kiln(["bench", blob.path, "--device", `tcp://127.0.0.1:${agentPort}?token=${TOKEN}`, "--runs", "30",
      "--images", join(dir, "images"), "--labels", join(dir, "labels"), "--json"]);
    expect(b.status, b.stderr).toBe(0);
    const bench = JSON.parse(b.stdout);
    const local = JSON.parse((await kiln(["profile", blob.path, "--runs", "30", "--json"])).stdout);
    expect(bench.profile.layers.map((l: { name: string; ops: string }) => [l.name, l.ops])).toEqual(local.layers.map((l: { name: string; ops: string }) => [l.name, l.ops]));
    expect(bench.profile.layers.every((l: { p50Us: number }) => l.p50Us > 0)).toBe(true);
    let correct = 0;
    for (let i = 0; i < count; i++) if (blob.model.predict(pixels.subarray(i * 64, (i + 1) * 64)).index === i % 10) correct++;
    expect(bench.eval).toMatchObject({ count, correct, mismatches: 0 });
    await expectServes(env, blob);
  });
});
