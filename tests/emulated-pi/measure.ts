// Measures the one-file agent on the emulated Pi and natively: cold start, resident memory idle and serving mnist-cnn,
// and EVAL images/s. Run after npm run build (and tests/emulated-pi/setup.sh; tests/node18/setup.sh for x86 Node 18):
//   node dist/tests/emulated-pi/measure.js [--starts 5] [--images 200] [--json]
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { deploy } from "../../firmware-host/deploy.js";
import { deviceManifest, evalOnDevice } from "../../firmware-host/device-ops.js";
import { parseDeviceUri } from "../../firmware-host/device-uri.js";
import { DeviceTarget } from "../../firmware-host/target.js";
import { mnistPaths, readIdx } from "../../io/idx.js";
import { nativeRunner, piRunner, residentKiB, ROOT, startAgentOn, type NodeRunner, type RunningAgent } from "./agent-process.js";
import { findEmulatedPi } from "./emulator.js";

const TOKEN = "measure-secret";
const { values: opts } = parseArgs({ options: { starts: { type: "string", default: "5" }, images: { type: "string", default: "200" }, json: { type: "boolean", default: false } } });
const STARTS = Number(opts.starts), IMAGES = Number(opts.images);

interface EvalRate { imagesPerSecond: number; wallImagesPerSecond: number }
interface Measured {
  runner: string;
  coldStartMs: { median: number; all: number[] };
  coldStartWithModelMs: { median: number; all: number[] };
  idleRssKiB: number;
  servingRssKiB: number;
  simd: EvalRate;
  scalar: EvalRate;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const newStore = (): string => join(mkdtempSync(join(tmpdir(), "kiln-measure-")), "store");

function compileBlob(target: "simd" | "scalar"): Uint8Array {
  const out = join(mkdtempSync(join(tmpdir(), "kiln-measure-blob-")), `mnist-cnn-${target}.wasm`);
  const r = spawnSync(process.execPath, [join(ROOT, "dist", "bin", "kiln.js"), "compile", join(ROOT, "models", "mnist-cnn", "model.json"), "--target", target, "-o", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kiln compile failed: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

async function start(runner: NodeRunner, store: string): Promise<RunningAgent> {
  return startAgentOn(runner, ["--tcp", "127.0.0.1:0", "--store", store, "--quiet"], { KILN_TOKEN: TOKEN }, 300_000);
}

async function coldStarts(runner: NodeRunner, store: () => string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const agent = await start(runner, store());
    times.push(agent.coldStartMs);
    await agent.stop();
  }
  return times;
}

/** Deploys the blob, warms it up on a few images, then times EVAL of all of them (device time and wall time). */
async function evalRate(agent: RunningAgent, blob: Uint8Array, pixels: Uint8Array, labels: Uint8Array): Promise<EvalRate> {
  const target = await DeviceTarget.open(parseDeviceUri(`tcp://127.0.0.1:${agent.port}?token=${TOKEN}&timeout=5000`));
  await deploy(target, blob);
  const client = await target.connect("measure");
  try {
    const manifest = await deviceManifest(client);
    await evalOnDevice(client, manifest, pixels.subarray(0, 20 * 784), labels.subarray(0, 20));
    const started = performance.now();
    const r = await evalOnDevice(client, manifest, pixels, labels);
    const wall = (performance.now() - started) / 1000;
    return { imagesPerSecond: r.count / (r.deviceUs / 1e6), wallImagesPerSecond: r.count / wall };
  } finally {
    await client.close();
    await target.dispose();
  }
}

async function measure(runner: NodeRunner, blobs: { simd: Uint8Array; scalar: Uint8Array }, pixels: Uint8Array, labels: Uint8Array): Promise<Measured> {
  console.error(`measuring ${runner.label}…`);
  const cold = await coldStarts(runner, newStore);
  const store = newStore();
  const agent = await start(runner, store);
  await settle(2000);
  const idleRssKiB = residentKiB(agent.pid) ?? NaN;
  const scalar = await evalRate(agent, blobs.scalar, pixels, labels);
  const simd = await evalRate(agent, blobs.simd, pixels, labels);
  await settle(2000);
  const servingRssKiB = residentKiB(agent.pid) ?? NaN;
  await agent.stop();
  // The store now holds mnist-cnn (SIMD): a restart loads, checks and instantiates it before serving.
  const withModel = await coldStarts(runner, () => store);
  return {
    runner: runner.label, coldStartMs: { median: median(cold), all: cold }, coldStartWithModelMs: { median: median(withModel), all: withModel },
    idleRssKiB, servingRssKiB, simd, scalar,
  };
}

function runners(): NodeRunner[] {
  const list: NodeRunner[] = [];
  const pi = findEmulatedPi();
  if (pi) list.push(piRunner(pi));
  else console.error("no emulated Pi (run tests/emulated-pi/setup.sh): measuring natively only");
  list.push(nativeRunner());
  const node18 = process.env.KILN_NODE18 || join(homedir(), ".cache", "kiln", "node18-x64", "node");
  if (existsSync(node18)) list.push(nativeRunner(node18, "x86-64 node 18 (Debian bookworm)"));
  return list;
}

const { testImages, testLabels } = mnistPaths();
const pixels = readIdx(testImages, IMAGES).data, labels = readIdx(testLabels, IMAGES).data;
const blobs = { simd: compileBlob("simd"), scalar: compileBlob("scalar") };
const results: Measured[] = [];
for (const runner of runners()) results.push(await measure(runner, blobs, pixels, labels));

if (opts.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
  for (const r of results) {
    console.log(`${r.runner}:\n  cold start to "serving" (empty store) median ${r.coldStartMs.median.toFixed(0)} ms of ${r.coldStartMs.all.map((x) => x.toFixed(0)).join(", ")}`
      + `\n  cold start with mnist-cnn in the store: median ${r.coldStartWithModelMs.median.toFixed(0)} ms of ${r.coldStartWithModelMs.all.map((x) => x.toFixed(0)).join(", ")}`
      + `\n  resident memory (VmRSS): idle ${mib(r.idleRssKiB)}, serving mnist-cnn after EVAL ${mib(r.servingRssKiB)}`
      + `\n  EVAL of ${IMAGES} images: SIMD ${r.simd.imagesPerSecond.toFixed(0)} images/s on the device (${r.simd.wallImagesPerSecond.toFixed(0)} end to end), `
      + `scalar ${r.scalar.imagesPerSecond.toFixed(0)} (${r.scalar.wallImagesPerSecond.toFixed(0)})`);
  }
}
