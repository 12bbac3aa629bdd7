// The one-file agent (dist/kiln-agent.mjs) copied alone into an empty folder, as a Pi user would: it serves deploys,
// RUN and EVAL over TCP on this machine's Node and on Debian bookworm's Node 18 (tests/node18/setup.sh), with outputs
// equal to this process's own run of the same blob (runtime/model.ts); its blob worker is the file itself, and a blob
// that never returns is stopped; without serialport, --serial says how to install it.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SUPPORTED_NODE } from "../bin/node-check.js";
import { deploy } from "../firmware-host/deploy.js";
import { deviceManifest, evalOnDevice, runOnDevice } from "../firmware-host/device-ops.js";
import { parseDeviceUri } from "../firmware-host/device-uri.js";
import { DeviceError } from "../firmware-host/errors.js";
import { ErrorCode } from "../firmware-host/messages.js";
import { DeviceTarget } from "../firmware-host/target.js";
import { mnistPaths, readIdx } from "../io/idx.js";
import { blobFromFile, hostRaw, kiln, ROOT, type Blob } from "./device-helpers.js";
import { waitFor } from "./device-relay.js";
import { handBlob, op } from "./hand-blob.js";
import { requireTool } from "./require-tool.js";

const TOKEN = "bundle-test-secret-7f3a";
/** The host reads the token from this variable (token-env=), the agent from KILN_TOKEN: never a command line. */
const HOST_TOKEN_ENV = "KILN_BUNDLE_TEST_TOKEN";
const IMAGES = 100;
const RUN_LIMIT_MS = 2000;

/** Debian bookworm's Node 18: KILN_NODE18, or what tests/node18/setup.sh left in its cache. */
function findNode18(): string | null {
  const given = process.env.KILN_NODE18;
  if (given) {
    if (!existsSync(given)) throw new Error(`KILN_NODE18=${given} does not exist`);
    return given;
  }
  const cached = join(process.env.KILN_NODE18_CACHE ?? join(homedir(), ".cache", "kiln", "node18-x64"), "node");
  return existsSync(cached) ? cached : null;
}

const node18 = findNode18();
// Skipped with a notice on a machine without it; under CI=true (.ci/run sets it up) a missing Node 18 fails.
const node18Required = requireTool("Debian bookworm's Node 18", node18 !== null, "run tests/node18/setup.sh, or set KILN_NODE18 to a node 18 binary");

let folder = "", bundle = "";
let blob: Blob;
let pixels: Uint8Array, labels: Uint8Array;
let looping: Uint8Array;

const bytesOf = (raw: Int8Array | Float32Array): Uint8Array => new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);

interface Agent {
  where: string;
  port: number;
  pid: number;
  log(): string;
  stop(): Promise<number | null>;
}

/** Starts `node kiln-agent.mjs args…` in the bundle's own folder, the token in KILN_TOKEN, and waits for "serving". */
async function startBundle(node: string, args: string[]): Promise<Agent> {
  const env: NodeJS.ProcessEnv = { ...process.env, KILN_TOKEN: TOKEN, NO_COLOR: "1", KILN_DEBUG: "" };
  delete env.NODE_OPTIONS; // vitest's options are for this Node, not the agent's
  const proc = spawn(node, [bundle, ...args], { cwd: folder, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  proc.stderr.on("data", (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((done) => proc.once("exit", (code) => done(code)));
  await waitFor(() => /serving /.test(out) || proc.exitCode !== null, 60_000, "the agent bundle to start");
  if (!/serving /.test(out)) throw new Error(`the agent bundle exited: ${out}`);
  const where = /serving (.*?), store/.exec(out)?.[1] ?? "";
  return {
    where, port: Number(/:(\d+)$/.exec(where)?.[1]), pid: proc.pid as number, log: () => out,
    stop: async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      return exited;
    },
  };
}

beforeAll(async () => {
  // tests/global-setup.ts built dist/kiln-agent.mjs; rebuilding it here would race other suites that run it.
  folder = mkdtempSync(join(tmpdir(), "kiln-agent-alone-"));
  bundle = join(folder, "kiln-agent.mjs");
  copyFileSync(join(ROOT, "dist", "kiln-agent.mjs"), bundle);

  const path = join(folder, "mnist-cnn.wasm");
  const compiled = await kiln(["compile", join(ROOT, "models", "mnist-cnn", "model.json"), "-o", path], 300_000);
  if (compiled.status !== 0) throw new Error(`kiln compile failed: ${compiled.stderr}`);
  blob = await blobFromFile(path);
  const { testImages, testLabels } = mnistPaths();
  pixels = readIdx(testImages, IMAGES).data;
  labels = readIdx(testLabels, IMAGES).data;
  looping = await handBlob({ run: op.forever });
  process.env[HOST_TOKEN_ENV] = TOKEN;
}, 300_000);

afterAll(() => {
  delete process.env[HOST_TOKEN_ENV];
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe("dist/kiln-agent.mjs", () => {
  it("sits alone in its folder: no node_modules there or in any folder above it, no package but Node's own inside", () => {
    for (let dir = folder; ; dir = dirname(dir)) {
      expect(existsSync(join(dir, "node_modules")), `${dir}/node_modules`).toBe(false);
      if (dirname(dir) === dir) break;
    }
    const text = readFileSync(bundle, "utf8");
    const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((m) => m[1]);
    expect([...new Set(imports.filter((spec) => !spec.startsWith("node:")))]).toEqual(["serialport"]);
    expect(text).not.toMatch(/assemblyscript|@tensorflow|onnxruntime|binaryen/);
    console.log(`agent-bundle: dist/kiln-agent.mjs is ${(statSync(bundle).size / 1024).toFixed(1)} KiB`);
  });

  it("states its version and the Node versions it supports, which are package.json's engines", () => {
    const engines = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
    expect(engines).toBe(SUPPORTED_NODE);
    const r = spawnSync(process.execPath, [bundle, "--version"], { cwd: folder, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`supports Node ${engines}`);
    const help = spawnSync(process.execPath, [bundle, "--help"], { cwd: folder, encoding: "utf8" });
    expect(help.stdout).toMatch(/usage: node kiln-agent\.mjs .*--token-file/);
  });

  it("an older Node is refused in one line naming the supported versions (the bundle and the CLI)", () => {
    // Node 16 is not on this machine: a preloaded module makes this Node report 16.20.2 before Kiln's code runs.
    const fake = join(folder, "pretend-node16.mjs");
    writeFileSync(fake, 'Object.defineProperty(process, "versions", { value: { ...process.versions, node: "16.20.2" } });\n');
    for (const file of [bundle, join(ROOT, "dist", "bin", "kiln.js")]) {
      const r = spawnSync(process.execPath, ["--import", fake, file, "--help"], { cwd: folder, encoding: "utf8" });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(`kiln: Node 16.20.2 is not supported; Kiln needs Node 18 or newer (${SUPPORTED_NODE})\n`);
    }
  });

  it("--serial without serialport installed says in one line how to install it, next to the file", () => {
    const r = spawnSync(process.execPath, [bundle, "--serial", "/dev/ttyKILN0", "--store", join(folder, "serial-store")], { cwd: folder, encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      `kiln agent: --serial needs the serialport package, which is not installed: run 'npm install serialport@13' in ${folder}`,
    ]);
  });

  const runtimes: [string, string | null][] = [[`this machine's Node ${process.version}`, process.execPath], ["Debian bookworm's Node 18", node18]];
  for (const [label, node] of runtimes) {
    describe.skipIf(!node)(`on ${label}${node ? "" : node18Required.note}`, () => {
      let agent: Agent;
      let device = "";

      beforeAll(async () => {
        const started = performance.now();
        agent = await startBundle(node!, ["--tcp", "127.0.0.1:0", "--store", mkdtempSync(join(folder, "store-")), "--run-limit", String(RUN_LIMIT_MS)]);
        console.log(`agent-bundle [${label}]: serving after ${(performance.now() - started).toFixed(0)} ms`);
        device = `tcp://127.0.0.1:${agent.port}?token-env=${HOST_TOKEN_ENV}`;
      }, 120_000);

      afterAll(async () => { await agent?.stop(); });

      it("kiln deploy commits mnist-cnn; RUN and EVAL of 100 MNIST images give this host's output bytes", async () => {
        const d = await kiln(["deploy", blob.path, "--device", device, "--json"], 120_000);
        expect(d.status, d.stderr + agent.log()).toBe(0);
        const deployed = JSON.parse(d.stdout) as { modelId: string; device: { runtime: string } };
        expect(deployed.modelId).toBe(blob.id);
        const version = spawnSync(node!, ["-p", "process.version"], { encoding: "utf8" }).stdout.trim();
        expect(deployed.device.runtime.startsWith(`node ${version} `)).toBe(true);

        const target = await DeviceTarget.open(parseDeviceUri(device));
        const client = await target.connect("agent-bundle-test");
        try {
          for (let i = 0; i < 5; i++) {
            const image = pixels.subarray(i * 784, (i + 1) * 784);
            const answer = await runOnDevice(client, image);
            expect(Buffer.from(bytesOf(answer.raw))).toEqual(Buffer.from(bytesOf(hostRaw(blob, image))));
          }
          const result = await evalOnDevice(client, await deviceManifest(client), pixels, labels, { outputs: true });
          const differing = result.outputs.filter((raw, i) =>
            Buffer.compare(bytesOf(raw), bytesOf(hostRaw(blob, pixels.subarray(i * 784, (i + 1) * 784)))) !== 0).length;
          expect(result.outputs).toHaveLength(IMAGES);
          expect(differing, "images whose output bytes differ from this host's run").toBe(0);
        } finally {
          await client.close();
          await target.dispose();
        }
      }, 180_000);

      it("a blob whose run() never returns gets TIMEOUT (its worker thread, this same file, is stopped); the agent then serves mnist-cnn again", async () => {
        const target = await DeviceTarget.open(parseDeviceUri(device));
        try {
          // hand-blob.ts's blob takes 4 pixels; its run() is `loop { br 0 }`.
          await deploy(target, looping);
          const client = await target.connect();
          try {
            const error = await client.call({ kind: "run", float: false, input: new Uint8Array(4) }, { deviceMs: RUN_LIMIT_MS + 5000 })
              .then(() => null, (e: unknown) => e);
            expect(error).toBeInstanceOf(DeviceError);
            expect((error as DeviceError).code).toBe(ErrorCode.TIMEOUT);
          } finally {
            await client.close();
          }
          await deploy(target, blob.bytes);
          const again = await target.connect();
          try {
            const image = pixels.subarray(0, 784);
            expect(Buffer.from(bytesOf((await runOnDevice(again, image)).raw))).toEqual(Buffer.from(bytesOf(hostRaw(blob, image))));
          } finally {
            await again.close();
          }
        } finally {
          await target.dispose();
        }
      }, 180_000);

      it("a wrong token is refused, and the log never shows the token; SIGTERM stops it cleanly", async () => {
        const link = await DeviceTarget.open(parseDeviceUri(`tcp://127.0.0.1:${agent.port}?token=not-${TOKEN}`));
        await expect(link.connect()).rejects.toThrow(/UNAUTHORIZED/);
        await link.dispose();
        expect(await agent.stop()).toBe(0);
        expect(agent.log()).toMatch(/wrong token: rejected/);
        expect(agent.log()).toMatch(/stopped/);
        expect(agent.log()).not.toContain(TOKEN);
      }, 60_000);
    });
  }
});
