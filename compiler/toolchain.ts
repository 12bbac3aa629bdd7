// Builds blobs on a worker thread (build-worker.ts) that starts loading asc and Binaryen early.

// Loading the toolchain takes a third of a second; on its own thread it overlaps the compiler's passes and
// calibration instead of following them.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { KilnError } from "./errors.js";
import { buildBlob } from "./build.js";
import type { BlobInput, BuiltBlob } from "./built-blob.js";
import type { BuildReply, BuildRequest } from "./build-worker.js";

// The worker runs compiled JavaScript. Run from TypeScript sources (vitest), there is none: builds stay in-process.
const WORKER_FILE = new URL("./build-worker.js", import.meta.url);
const WORKER_AVAILABLE = import.meta.url.endsWith(".js") && existsSync(fileURLToPath(WORKER_FILE));

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { resolve(built: BuiltBlob): void; reject(err: Error): void }>();

function failPending(w: Worker, err: Error): void {
  if (worker !== w) return;
  worker = undefined;
  for (const p of pending.values()) p.reject(err);
  pending.clear();
}

function replyError(error: Extract<BuildReply, { error: unknown }>["error"]): Error {
  const err = error.exitCode === undefined ? new Error(error.message) : new KilnError(error.message, error.exitCode);
  if (error.stack) err.stack = error.stack;
  return err;
}

/** Starts the build worker (and so the toolchain's loading) if it is not running; a no-op where there is none. */
export function startToolchain(): void {
  if (worker || !WORKER_AVAILABLE) return;
  let w: Worker;
  try {
    w = new Worker(WORKER_FILE);
  } catch {
    return; // No thread to be had: builds run in-process, as they would without this module.
  }
  worker = w;
  w.on("message", (reply: BuildReply) => {
    const p = pending.get(reply.id);
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
    if ("built" in reply) p?.resolve(reply.built);
    else p?.reject(replyError(reply.error));
  });
  w.on("error", (err) => failPending(w, err));
  w.on("exit", (code) => failPending(w, new Error(`internal: the build worker stopped (exit code ${code})`)));
  // An idle worker must not keep the process alive; a pending build must (build() refs it). After the listeners:
  // adding a 'message' listener refs the worker again.
  w.unref();
}

/** buildBlob, on the worker when there is one. */
export function build(input: BlobInput): Promise<BuiltBlob> {
  startToolchain();
  const w = worker;
  if (!w) return buildBlob(input);
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, input } satisfies BuildRequest);
  });
}
