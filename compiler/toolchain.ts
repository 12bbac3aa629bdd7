// Builds blobs in a builder started early (build-worker.ts): a child process that runs WebAssembly on Liftoff only.

// Loading the toolchain takes half a second; in a process (or thread) of its own it overlaps the compiler's passes
// and calibration instead of following them. A process rather than a thread because V8's flags are per process:
// with --liftoff-only, Binaryen's wasm never tiers up to TurboFan, and a fresh build (load + asc -O3 + Binaryen) of
// mnist-cnn takes ~1.5 s of CPU instead of ~3.5 s on a 2-core machine; on MobileNetV2-224 ~0.6 s instead of ~1.0 s.
// TurboFan's background compiles of Binaryen's hot functions cost more than they save; Binaryen is deterministic,
// so the blob's bytes are the same. In a worker thread (the fuzzer's, under its resource limits) the builder stays
// a thread, as it was before.
import { fork, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isMainThread, Worker } from "node:worker_threads";
import { KilnError } from "./errors.js";
import type { BlobInput, BuiltBlob } from "./built-blob.js";
import type { BuildReply, BuildRequest } from "./build-worker.js";

// The builder runs compiled JavaScript. Run from TypeScript sources (vitest), there is none: builds stay in-process.
const BUILDER_FILE = new URL("./build-worker.js", import.meta.url);
const BUILDER_AVAILABLE = import.meta.url.endsWith(".js") && existsSync(fileURLToPath(BUILDER_FILE));
/** V8 flags of the builder process; they change how fast Binaryen's wasm runs, never what it computes. */
const BUILDER_FLAGS = ["--liftoff-only"];

interface Builder {
  send(request: BuildRequest): void;
  /** Whether the builder keeps this process alive: only while a build is pending. */
  hold(yes: boolean): void;
}

/** Builds in this process; build.js is loaded only then, so that `kiln compile` reaches its builder's start sooner. */
async function buildHere(input: BlobInput): Promise<BuiltBlob> {
  const { buildBlob } = await import("./build.js");
  return buildBlob(input);
}

let builder: Builder | undefined;
let builderFailed = false;
let nextId = 0;
const pending = new Map<number, { input: BlobInput; resolve(built: BuiltBlob): void; reject(err: Error): void }>();

function replyError(error: Extract<BuildReply, { error: unknown }>["error"]): Error {
  const err = error.exitCode === undefined ? new Error(error.message) : new KilnError(error.message, error.exitCode);
  if (error.stack) err.stack = error.stack;
  return err;
}

function onReply(b: Builder, reply: BuildReply): void {
  const p = pending.get(reply.id);
  pending.delete(reply.id);
  if (pending.size === 0) b.hold(false);
  if ("built" in reply) p?.resolve(reply.built);
  else p?.reject(replyError(reply.error));
}

/**
 * The builder died or could not start: what it had not finished is built here instead, and so is everything
 * after. The builder only saves time; an error in the build itself comes back as a reply, not as this.
 */
function builderLost(b: Builder): void {
  if (builder !== b) return;
  builder = undefined;
  builderFailed = true;
  const jobs = [...pending.values()];
  pending.clear();
  for (const job of jobs) buildHere(job.input).then(job.resolve, job.reject);
}

function childBuilder(): Builder {
  const child: ChildProcess = fork(BUILDER_FILE, [], {
    execArgv: BUILDER_FLAGS, serialization: "advanced", stdio: ["ignore", "ignore", "ignore", "ipc"],
  });
  const b: Builder = {
    send: (request) => child.send(request),
    hold(yes) {
      if (yes) { child.ref(); child.channel?.ref(); } else { child.unref(); child.channel?.unref(); }
    },
  };
  child.on("message", (reply: BuildReply) => onReply(b, reply));
  child.on("error", () => builderLost(b));
  child.on("exit", () => builderLost(b));
  // This process may finish with the builder still loading (a compile that fails in its passes): it must not
  // wait for it, nor leave it behind.
  process.once("exit", () => child.kill());
  return b;
}

function threadBuilder(): Builder {
  const w = new Worker(BUILDER_FILE);
  const b: Builder = {
    send: (request) => w.postMessage(request),
    hold: (yes) => (yes ? w.ref() : w.unref()),
  };
  w.on("message", (reply: BuildReply) => onReply(b, reply));
  w.on("error", () => builderLost(b));
  w.on("exit", () => builderLost(b));
  return b;
}

/** Starts the builder (and so the toolchain's loading) if it is not running; a no-op where there is none. */
export function startToolchain(): void {
  if (builder || builderFailed || !BUILDER_AVAILABLE) return;
  try {
    builder = isMainThread ? childBuilder() : threadBuilder();
  } catch {
    builderFailed = true; // No process or thread to be had: builds run in-process, as they would without this module.
    return;
  }
  // After the listeners: adding a 'message' listener holds the process again.
  builder.hold(false);
}

function buildSomewhere(input: BlobInput): Promise<BuiltBlob> {
  startToolchain();
  const b = builder;
  if (!b) return buildHere(input);
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { input, resolve, reject });
    b.hold(true);
    b.send({ id, input });
  });
}

/**
 * With KILN_BUILD_TIMING=1, each build writes one line to stderr: when it was asked for and when its blob came back,
 * in ms since this process started (the bench's split of `kiln compile` into the compiler's part and the build's).
 */
const REPORT_TIMING = process.env.KILN_BUILD_TIMING === "1";
export const BUILD_TIMING_LINE = /^kiln build timing: requested (\d+) ms, built (\d+) ms$/m;

/** build.ts's buildBlob, in the builder when there is one. */
export function build(input: BlobInput): Promise<BuiltBlob> {
  const requested = performance.now();
  const built = buildSomewhere(input);
  if (REPORT_TIMING) {
    built.then(() => process.stderr.write(`kiln build timing: requested ${requested.toFixed(0)} ms, built ${performance.now().toFixed(0)} ms\n`), () => undefined);
  }
  return built;
}
