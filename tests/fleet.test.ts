// Fleets: kiln deploy / kiln bench over several local and TCP agents where some fail, fleet files, token-env, live lines.
import { createHash } from "node:crypto";
import { readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent } from "../firmware-host/agent.js";
import { DeviceClient } from "../firmware-host/client.js";
import { deviceToken, DeviceUriError, parseDeviceUri } from "../firmware-host/device-uri.js";
import { createAgent, serveTcp, type Serving } from "../firmware-host/serve.js";
import { TcpLink } from "../firmware-host/tcp.js";
import { FLEET_LIMITS, parseFleetText } from "../bin/fleet-file.js";
import { fleetLines } from "../bin/fleet-progress.js";
import { closedPort, kiln, storedModelId, tinyBlob, type Blob } from "./device-helpers.js";
import { tempDir } from "./helpers.js";

const TOKEN_A = "fleet-token-a-5d1c", TOKEN_B = "fleet-token-b-93fe";
/** The variables the fleet files name; the CLI inherits them from this process (spawnProcess copies process.env). */
const ENV = { FLEET_TOKEN_A: TOKEN_A, FLEET_TOKEN_WRONG: "not-the-token" };

interface TcpAgent { agent: Agent; serving: Serving & { port: number }; store: string; log: string[] }

async function tcpAgent(token: string, name: string, simd?: boolean): Promise<TcpAgent> {
  const store = join(tempDir(`kiln-fleet-${name}-`), "store"), log: string[] = [];
  const agent = await createAgent({ store, token, requireHello: true, name, simd, log: (l) => log.push(l) });
  return { agent, serving: await serveTcp(agent, "127.0.0.1", 0), store, log };
}

/** The model a TCP agent announces in HELLO now. */
async function helloModelId(a: TcpAgent, token: string): Promise<string | null> {
  const client = new DeviceClient(await TcpLink.connect("127.0.0.1", a.serving.port), { token });
  try {
    return (await client.hello()).modelId;
  } finally {
    await client.close();
  }
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

function writeFleet(lines: string[]): string {
  const path = join(tempDir("kiln-fleet-file-"), "fleet.txt");
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

/** The table row (stdout) that starts with the device's URI. */
const row = (stdout: string, device: string): string => stdout.split("\n").find((l) => l.startsWith(`${device} `)) ?? "";

let a: TcpAgent, wrong: TcpAgent, scalarOnly: TcpAgent, deadPort: number;
let simdBlob: Blob, scalarBlob: Blob;
const localStores = [tempDir("kiln-fleet-local1-"), tempDir("kiln-fleet-local2-")];
const saved = { ...process.env };

beforeAll(async () => {
  Object.assign(process.env, ENV);
  delete process.env.KILN_TOKEN;
  [a, wrong, scalarOnly] = [await tcpAgent(TOKEN_A, "pi-a"), await tcpAgent(TOKEN_B, "pi-b"), await tcpAgent(TOKEN_A, "board", false)];
  deadPort = await closedPort();
  [simdBlob, scalarBlob] = [await tinyBlob(61), await tinyBlob(62, 4, 3, "scalar")];
});

afterAll(async () => {
  for (const t of [a, wrong, scalarOnly]) {
    await t?.serving.close();
    await t?.agent.close();
  }
  for (const k of Object.keys(ENV)) delete process.env[k];
  if (saved.KILN_TOKEN !== undefined) process.env.KILN_TOKEN = saved.KILN_TOKEN;
});

describe("kiln deploy --fleet", () => {
  const uriA = (): string => `tcp://127.0.0.1:${a.serving.port}`;
  const uriWrong = (): string => `tcp://127.0.0.1:${wrong.serving.port}`;
  const uriDead = (): string => `tcp://127.0.0.1:${deadPort}`;
  const uriScalar = (): string => `tcp://127.0.0.1:${scalarOnly.serving.port}`;
  let fleet: string;

  beforeAll(() => {
    fleet = writeFleet([
      "# the test fleet: two Pis, a board without SIMD, two local agents and one that is gone",
      `${uriA()}?token-env=FLEET_TOKEN_A      # answers`,
      `${uriWrong()}?token-env=FLEET_TOKEN_WRONG  # the variable holds the wrong token`,
      "",
      `${uriDead()}?token-env=FLEET_TOKEN_A&timeout=500`,
      `${uriScalar()}?token-env=FLEET_TOKEN_A`,
      `   local?store=${localStores[0]}`,
      `local?store=${localStores[1]}`,
    ]);
  });

  it("the reachable devices get the model; each failure is named in the table; the exit code is 1", async () => {
    const r = await kiln(["deploy", simdBlob.path, "--fleet", fleet, "--sessions", "2"]);
    expect(r.status, r.stderr).toBe(1);
    const id = sha256(new Uint8Array(simdBlob.bytes));
    // What the devices hold and announce, read from them, not from kiln's output.
    expect(storedModelId(a.store)).toBe(id);
    expect(await helloModelId(a, TOKEN_A)).toBe(id);
    for (const store of localStores) expect(storedModelId(store)).toBe(id);
    expect(readdirSync(wrong.store)).toEqual([]);
    expect(readdirSync(scalarOnly.store)).toEqual([]); // refused after HELLO: not even an upload began
    expect(wrong.log.join("\n")).toMatch(/wrong token: rejected/);

    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^device\s+runtime\s+SIMD\s+result\s+model id\s+seconds$/);
    expect(row(r.stdout, uriA())).toMatch(new RegExp(`^${uriA()}\\s+node v\\d+\\S* linux-x64\\s+yes\\s+deployed\\s+${id.slice(0, 12)}\\s+\\d+\\.\\d\\d$`));
    for (const s of localStores) expect(row(r.stdout, `local?store=${s}`)).toMatch(new RegExp(`\\s+yes\\s+deployed\\s+${id.slice(0, 12)}\\s`));
    expect(row(r.stdout, uriWrong())).toMatch(/\s-\s+-\s+failed: device refused HELLO: UNAUTHORIZED \(wrong token\)\s+-\s+\d+\.\d\d$/);
    expect(row(r.stdout, uriDead())).toMatch(/failed: unreachable: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(2 sessions\)/);
    expect(row(r.stdout, uriScalar())).toMatch(/\s+no\s+failed: no WebAssembly SIMD on the device and the blob needs it; compile with --target scalar/);
    expect(r.stdout).toContain(`model ${id.slice(0, 12)} (tiny_61, `);
    expect(r.stdout).toMatch(/on 3 of 6 devices in [\d.]+ s; 3 failed/);
    // Not a terminal: one line per device as it finishes, then the error naming the failed ones.
    const err = r.stderr.trim().split("\n");
    expect(err).toHaveLength(7);
    expect(err.at(-1)).toBe(`kiln deploy: 3 of 6 devices failed: ${uriWrong()}, ${uriDead()}, ${uriScalar()}`);
    for (const secret of [TOKEN_A, TOKEN_B, ENV.FLEET_TOKEN_WRONG]) expect(r.stdout + r.stderr).not.toContain(secret);
  });

  it("--json: one object with every device's result; devices that already run the blob say so", async () => {
    const r = await kiln(["deploy", simdBlob.path, "--fleet", fleet, "--sessions", "1", "--json"]);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as { modelId: string; deployed: number; failed: number; devices: { device: string; ok: boolean; result: string; modelId: string | null; hello: { simd: boolean } | null }[] };
    expect(out.modelId).toBe(sha256(new Uint8Array(simdBlob.bytes)));
    expect([out.deployed, out.failed]).toEqual([3, 3]);
    expect(out.devices.map((d) => [d.device, d.ok, d.result.replace(/:.*/, "")])).toEqual([
      [uriA(), true, "already running"], [uriWrong(), false, "failed"], [uriDead(), false, "failed"], [uriScalar(), false, "failed"],
      [`local?store=${localStores[0]}`, true, "already running"], [`local?store=${localStores[1]}`, true, "already running"],
    ]);
    // A failed device's model id is the one it keeps serving (none here), its HELLO what it said when reached.
    expect(out.devices[3]).toMatchObject({ modelId: null, hello: { simd: false } });
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^kiln deploy: 3 of 6 devices failed: /)]);
  });

  it("repeated --device; a tcp device without a token takes KILN_TOKEN; a scalar blob deploys to the device without SIMD", async () => {
    process.env.KILN_TOKEN = TOKEN_A;
    try {
      const r = await kiln(["deploy", scalarBlob.path, "--device", uriA(), "--device", uriScalar()]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(row(r.stdout, uriScalar())).toMatch(/\s+no\s+deployed\s/);
      expect(r.stdout).toMatch(/on 2 of 2 devices in [\d.]+ s$/m);
    } finally {
      delete process.env.KILN_TOKEN;
    }
    expect(storedModelId(a.store)).toBe(sha256(new Uint8Array(scalarBlob.bytes)));
    expect(await helloModelId(scalarOnly, TOKEN_A)).toBe(sha256(new Uint8Array(scalarBlob.bytes)));
  });

  it("a token-env variable that is not set fails that device alone, naming the variable", async () => {
    const r = await kiln(["deploy", simdBlob.path, "--device", `${uriA()}?token-env=FLEET_TOKEN_A`, "--device", `${uriWrong()}?token-env=FLEET_NO_SUCH_VARIABLE`]);
    expect(r.status).toBe(1);
    expect(row(r.stdout, uriA())).toMatch(/\sdeployed\s/);
    expect(row(r.stdout, uriWrong())).toMatch(/failed: token-env=FLEET_NO_SUCH_VARIABLE names an environment variable that is not set; set it to the device's token/);
  });

  it("a single --device prints what it always did (no table)", async () => {
    const r = await kiln(["deploy", simdBlob.path, "--device", `${uriA()}?token-env=FLEET_TOKEN_A`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^device pi-a at tcp:\/\/127\.0\.0\.1:\d+: node .*\n(committed model|the device already runs this blob)/);
    expect(r.stdout).not.toMatch(/^device\s+runtime/m);
  });
});

describe("kiln bench --fleet", () => {
  it("--json: per-device end-to-end and per-layer p50s under the blob's layer names; failures say why", async () => {
    const fleet = writeFleet([
      `tcp://127.0.0.1:${a.serving.port}?token-env=FLEET_TOKEN_A`,
      `local?store=${localStores[0]}`,
      `tcp://127.0.0.1:${wrong.serving.port}?token-env=FLEET_TOKEN_WRONG`,
      `tcp://127.0.0.1:${deadPort}?token-env=FLEET_TOKEN_A`,
    ]);
    const r = await kiln(["bench", simdBlob.path, "--fleet", fleet, "--json", "--runs", "5", "--warmup", "1", "--link-runs", "2", "--sequential"]);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as { layers: string[]; devices: { device: string; ok: boolean; error: string | null; modelId: string | null; endToEndP50Us: number | null; layers: { name: string; p50Us: number }[] }[] };
    // The blob's own manifest, read by the host: the rows the devices' profiles must have.
    const names = simdBlob.model.info.layers.map((l) => l.name);
    expect(names.length).toBeGreaterThan(1);
    expect(out.layers).toEqual(names.map((n, i) => `${i} ${n}`));
    const [pi, local, bad, dead] = out.devices;
    for (const d of [pi, local]) {
      expect(d).toMatchObject({ ok: true, error: null, modelId: sha256(new Uint8Array(simdBlob.bytes)) });
      expect(d.layers.map((l) => l.name)).toEqual(names);
      expect(d.layers.every((l) => l.p50Us > 0)).toBe(true);
      expect(d.endToEndP50Us).toBeGreaterThan(0);
    }
    expect(bad).toMatchObject({ ok: false, endToEndP50Us: null, layers: [], error: "device refused HELLO: UNAUTHORIZED (wrong token)" });
    expect(dead.error).toMatch(/^unreachable: connect ECONNREFUSED/);
  });

  it("the table: one column per device, a row per layer, then the layer sum, end to end and RUN round trip", async () => {
    const r = await kiln(["bench", "--device", `tcp://127.0.0.1:${scalarOnly.serving.port}?token-env=FLEET_TOKEN_A`, "--device", `local?store=${localStores[1]}`,
      "--runs", "5", "--warmup", "1", "--link-runs", "2"]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(new RegExp(`^p50 µs\\s+tcp://127\\.0\\.0\\.1:${scalarOnly.serving.port}\\s+local\\?store=`));
    // The two devices run different models (the scalar blob on the board, the SIMD one on the local store).
    const rowsOf = (label: string): string[] => lines.filter((l) => l.startsWith(label));
    expect(rowsOf("0 conv")[0]).toMatch(/^0 conv\s+[\d.]+\s+[\d.]+$/);
    for (const label of ["layers sum", "end to end", "RUN round trip"]) expect(rowsOf(label)[0]).toMatch(new RegExp(`^${label}\\s+[\\d.]+\\s+[\\d.]+$`));
    expect(r.stdout).toContain("the devices run different models");
  });
});

describe("fleet files", () => {
  const cli = async (lines: string[], ...more: string[]) => {
    const path = writeFleet(lines);
    return { path, r: await kiln(["deploy", simdBlob.path, "--fleet", path, ...more]) };
  };

  it("lists devices in order; blank lines and # comments (whole-line or after a blank) are skipped; CRLF is fine", () => {
    const text = "# a fleet\r\n\r\n  tcp://10.0.0.2:7000?token-env=PI_TOKEN   # kitchen\r\nserial:/dev/ttyUSB0?baud=57600\r\n\t# indented comment\r\nlocal\r\n";
    const devices = parseFleetText("deploy", "f.txt", text);
    expect(devices.map((d) => [d.source, d.description])).toEqual([
      ["f.txt:3", "tcp://10.0.0.2:7000"], ["f.txt:4", "serial:/dev/ttyUSB0?baud=57600"], ["f.txt:6", "local"],
    ]);
    expect(devices[0].uri).toMatchObject({ kind: "tcp", host: "10.0.0.2", port: 7000, tokenEnv: "PI_TOKEN" });
    expect(devices[0].uri.token).toBeUndefined();
  });

  it("refuses an inline token, naming file:line and token-env, without showing it; nothing is contacted", async () => {
    for (const secret of ["token=hunter2", "frame=512&%74oken=hunter2", "TOKEN=hunter2"]) {
      const { path, r } = await cli([`tcp://127.0.0.1:${a.serving.port}?token-env=FLEET_TOKEN_A`, "# ok so far", `tcp://127.0.0.1:${wrong.serving.port}?${secret}`]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`kiln deploy: ${path}:3: a fleet file must not hold a token (it may be committed or shared); write token-env=NAME instead and set the environment variable NAME to the token\n`);
    }
    const { r } = await cli(["tcp://pi:hunter2@127.0.0.1:7000"]);
    expect(r.stderr).toMatch(/:1: a fleet file must not hold a token/);
    expect(r.stderr).not.toContain("hunter2");
  });

  it("checks every line before connecting to any device", async () => {
    let connections = 0;
    const listener = createServer((socket) => { connections++; socket.destroy(); });
    await new Promise<void>((done) => listener.listen(0, "127.0.0.1", done));
    try {
      const port = (listener.address() as { port: number }).port;
      const { r } = await cli([`tcp://127.0.0.1:${port}?token-env=FLEET_TOKEN_A`, "local", "tcp://127.0.0.1:9?bogus=1"]);
      expect(r.status).toBe(2);
      expect(connections).toBe(0);
      // The same listener as a device: it is connected to (the check above can fail).
      await cli([`tcp://127.0.0.1:${port}?token-env=FLEET_TOKEN_A&timeout=200`, "local"], "--sessions", "1");
      expect(connections).toBeGreaterThan(0);
    } finally {
      await new Promise((done) => listener.close(done));
    }
  });

  it.each([
    [["local", "tcp://127.0.0.1:9?bogus=1"], /:2: device 'tcp:\/\/127\.0\.0\.1:9\?bogus=1': unknown parameter 'bogus'/],
    [["tcp://127.0.0.1:9?token-env=1X"], /:1: device .*token-env must name an environment variable/],
    [["tcp://127.0.0.1:9 tcp://127.0.0.1:10"], /:1: one device URI per line/],
    [["# nothing", "", "   # here"], /fleet\.txt: no devices/],
    [["tcp://127.0.0.1:9", "# same device again", "tcp://127.0.0.1:9?timeout=100"], /fleet\.txt:3: tcp:\/\/127\.0\.0\.1:9 is already listed \(.*fleet\.txt:1\)/],
    [Array.from({ length: FLEET_LIMITS.maxDevices + 1 }, (_, i) => `tcp://127.0.0.1:${1000 + i}`), new RegExp(`fleet\\.txt:${FLEET_LIMITS.maxDevices + 1}: more than 256 devices`)],
  ])("%#: a bad fleet file is one line naming file:line, exit 2", async (lines, message) => {
    const { r } = await cli(lines as string[]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it("256 devices are fine; a file over the size limit is refused before it is read", async () => {
    expect(parseFleetText("deploy", "f", Array.from({ length: 256 }, (_, i) => `tcp://h${i}:7000`).join("\n"))).toHaveLength(256);
    const { r } = await cli(["# " + "x".repeat(FLEET_LIMITS.maxFileBytes + 2000), "local"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/fleet\.txt: a fleet file of [\d.]+ KiB is over the 64 KiB limit/);
    const missing = await kiln(["deploy", simdBlob.path, "--fleet", "/nonexistent/fleet.txt"]);
    expect(missing.stderr).toMatch(/\/nonexistent\/fleet\.txt: file not found/);
  });
});

describe("token-env in device URIs", () => {
  it("is read when connecting, from the variable it names; KILN_TOKEN serves tcp devices that name none", () => {
    const env = { PI_TOKEN: "t1", EMPTY: "", KILN_TOKEN: "k" };
    expect(deviceToken(parseDeviceUri("tcp://h:1?token-env=PI_TOKEN"), env)).toBe("t1");
    expect(deviceToken(parseDeviceUri("tcp://h:1?token=inline"), env)).toBe("inline");
    expect(deviceToken(parseDeviceUri("tcp://h:1"), env)).toBe("k");
    expect(deviceToken(parseDeviceUri("tcp://h:1"), {})).toBeUndefined();
    expect(deviceToken(parseDeviceUri("serial:/dev/ttyS0"), env)).toBeUndefined();
    expect(deviceToken(parseDeviceUri("local"), env)).toBeUndefined();
    expect(deviceToken(parseDeviceUri("serial:/dev/ttyS0?token-env=PI_TOKEN"), env)).toBe("t1");
    expect(() => deviceToken(parseDeviceUri("tcp://h:1?token-env=NOPE"), env)).toThrow(new DeviceUriError("tcp://h:1: token-env=NOPE names an environment variable that is not set; set it to the device's token"));
    expect(() => deviceToken(parseDeviceUri("tcp://h:1?token-env=EMPTY"), env)).toThrow(/token-env=EMPTY names an environment variable that is empty/);
    expect(() => parseDeviceUri("tcp://h:1?token=a&token-env=PI_TOKEN")).toThrow(/give token= or token-env=, not both/);
    expect(() => parseDeviceUri("tcp://h:1?token-env=A-B")).toThrow(/token-env must name an environment variable/);
  });
});

describe("live lines", () => {
  const fake = (isTTY: boolean, rows = 24, columns = 40) => {
    let written = "";
    return { stream: { isTTY, rows, columns, write: (t: string) => { written += t; } }, text: () => written };
  };

  it("on a terminal: drawn once, then redrawn in place (cursor up N lines), each cut to the width", async () => {
    const t = fake(true);
    const lines = fleetLines(3, true, t.stream);
    ["a  connecting", "b  connecting", "c  connecting"].forEach((s, i) => lines.set(i, s));
    await new Promise((r) => setTimeout(r, 30));
    expect(t.text()).toBe("\r\x1b[2Ka  connecting\n\r\x1b[2Kb  connecting\n\r\x1b[2Kc  connecting\n");
    lines.finish(0, "a  deployed");
    lines.finish(1, `b  failed: ${"x".repeat(60)}`);
    lines.finish(2, "c  deployed");
    lines.close();
    const redraw = t.text().slice("\r\x1b[2Ka  connecting\n\r\x1b[2Kb  connecting\n\r\x1b[2Kc  connecting\n".length);
    expect(redraw).toBe(`\x1b[3A\r\x1b[2Ka  deployed\n\r\x1b[2Kb  failed: ${"x".repeat(27)}…\n\r\x1b[2Kc  deployed\n`);
  });

  it("elsewhere, or with more devices than the terminal has rows: one line per device when it finishes", () => {
    for (const t of [fake(false), fake(true, 3)]) {
      const lines = fleetLines(3, true, t.stream);
      lines.set(0, "a  uploading");
      lines.finish(1, "b  deployed");
      lines.finish(0, "a  deployed");
      lines.close();
      expect(t.text()).toBe("b  deployed\na  deployed\n");
    }
  });
});
