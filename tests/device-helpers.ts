// Helpers for the device tests: tiny blobs, the agent and socat as child processes, the CLI run asynchronously.
import * as tf from "@tensorflow/tfjs";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { compileFile } from "../compiler/compile.js";
import { Model } from "../runtime/model.js";
import { saveToTemp, tempDir } from "./helpers.js";
import { waitFor } from "./device-relay.js";

export const ROOT = resolve(import.meta.dirname, "..");
export const CLI = join(ROOT, "dist", "bin", "kiln.js");

export const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

export interface Blob {
  path: string;
  bytes: Uint8Array;
  id: string;
  model: Model;
}

/** An 8×8×1 float CNN (conv → flatten → dense) compiled without calibration: a few KB, under a second. */
export async function tinyBlob(seed: number, filters = 4, units = 3, target: "simd" | "scalar" = "simd"): Promise<Blob> {
  await tf.setBackend("cpu");
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  const m = tf.sequential({ name: `tiny_${seed}` });
  m.add(tf.layers.conv2d({ name: "conv", inputShape: [8, 8, 1], filters, kernelSize: 3, activation: "relu", kernelInitializer: init(seed) }));
  m.add(tf.layers.flatten({ name: "flat" }));
  m.add(tf.layers.dense({ name: "logits", units, kernelInitializer: init(seed + 1000) }));
  const compiled = await compileFile(await saveToTemp(m), { quantize: "none", target, pixelScale: 1 / 255, pixelOffset: 0 });
  const path = join(tempDir("kiln-blob-"), `tiny-${seed}-${target}.wasm`);
  writeFileSync(path, compiled.wasm);
  return { path, bytes: compiled.wasm, id: sha256Hex(compiled.wasm), model: await Model.load(compiled.wasm) };
}

export async function blobFromFile(path: string): Promise<Blob> {
  const bytes = new Uint8Array(readFileSync(path));
  return { path, bytes, id: sha256Hex(bytes), model: await Model.load(bytes) };
}

/** The host's own raw output for some pixels. */
export function hostRaw(blob: Blob, pixels: Uint8Array): Int8Array | Float32Array {
  blob.model.setInput(pixels);
  blob.model.exports.run();
  return blob.model.rawOutput();
}

export function samplePixels(size: number, seed = 1): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: size }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24));
}

/** The id of the model the store would serve after a restart (the SHA-256 of model.wasm), or null. */
export function storedModelId(store: string): string | null {
  const path = join(store, "model.wasm");
  return existsSync(path) ? sha256Hex(new Uint8Array(readFileSync(path))) : null;
}

export interface Spawned {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Kills the process (if still running) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnProcess(command: string, args: string[]): Spawned {
  const proc = spawn(command, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", KILN_DEBUG: "" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  proc.stdout?.on("data", (d: Buffer) => { out += d.toString(); });
  proc.stderr?.on("data", (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((done) => proc.once("exit", (code) => done(code)));
  return {
    proc, exited, stdout: () => out, stderr: () => err,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

/** Starts `kiln agent` and waits for its "serving" line; `where` is what it serves (e.g. "tcp 127.0.0.1:40123"). */
export async function startAgent(args: string[]): Promise<Spawned & { where: string; port: number }> {
  const agent = spawnProcess(process.execPath, [CLI, "agent", ...args]);
  let code: number | null | undefined;
  void agent.exited.then((c) => { code = c; });
  await waitFor(() => /serving /.test(agent.stdout()) || code !== undefined, 15_000, "the agent to start");
  if (code !== undefined) throw new Error(`kiln agent exited with ${code}: ${agent.stderr()}`);
  const where = /serving (.*?), store/.exec(agent.stdout())?.[1] ?? "";
  return { ...agent, where, port: Number(/:(\d+)$/.exec(where)?.[1] ?? 0) };
}

/** A socat pty pair linked at dir/a and dir/b. */
export async function socatPair(dir: string, a: string, b: string): Promise<Spawned & { a: string; b: string }> {
  const pa = join(dir, a), pb = join(dir, b);
  const socat = spawnProcess("socat", ["-d", "-d", `pty,raw,echo=0,link=${pa}`, `pty,raw,echo=0,link=${pb}`]);
  await waitFor(() => (existsSync(pa) && existsSync(pb)) || socat.proc.exitCode !== null, 5000, "socat's ptys");
  if (!existsSync(pa)) throw new Error(`socat failed: ${socat.stderr()}`);
  return { ...socat, a: pa, b: pb };
}

export interface CliResult { status: number | null; stdout: string; stderr: string; seconds: number }

/** Runs the CLI without blocking the test's event loop (the relay lives in it); killed after timeoutMs. */
export async function kiln(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  const started = performance.now();
  const p = spawnProcess(process.execPath, [CLI, ...args]);
  const timer = setTimeout(() => p.proc.kill("SIGKILL"), timeoutMs);
  const status = await p.exited;
  clearTimeout(timer);
  return { status, stdout: p.stdout(), stderr: p.stderr(), seconds: (performance.now() - started) / 1000 };
}

/** A loopback port nothing listens on: bound by the system, then closed again (an unreachable device). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
