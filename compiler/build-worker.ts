// The builder behind toolchain.ts (a child process, or a worker thread): loads asc and Binaryen at once, then builds blobs.
import { parentPort } from "node:worker_threads";
import { KilnError } from "./errors.js";
import { buildBlob } from "./build.js";
import { prepareCompile } from "./asc-compile.js";
import type { BlobInput } from "./built-blob.js";

export interface BuildRequest { id: number; input: BlobInput }

export type BuildReply =
  | { id: number; built: Awaited<ReturnType<typeof buildBlob>> }
  | { id: number; error: { message: string; stack?: string; exitCode?: number } };

// Started now, while the parent is still calibrating: that overlap is the point of this builder. It loads the
// toolchain and parses asc's standard library (asc-compile.ts); a failure surfaces, with its message, from the
// first build. Later builds parse it when they come: by then the parser runs optimized (~0.07 s instead of ~0.3 s),
// and preparing one that never comes (`kiln compile` builds once) would take CPU from the parent's error report.
prepareCompile();

// One build at a time, in order, as they would run in the parent.
let queue = Promise.resolve();

function handle({ id, input }: BuildRequest, reply: (r: BuildReply) => void): void {
  queue = queue.then(async () => {
    try {
      reply({ id, built: await buildBlob(input) });
    } catch (e) {
      const err = e as Error;
      reply({ id, error: { message: err.message, stack: err.stack, exitCode: e instanceof KilnError ? e.exitCode : undefined } });
    }
  });
}

if (parentPort) {
  const port = parentPort;
  port.on("message", (req: BuildRequest) => handle(req, (r) => port.postMessage(r, "built" in r ? [r.built.wasm.buffer] : [])));
} else if (process.send) {
  process.on("message", (req: BuildRequest) => handle(req, (r) => process.send?.(r)));
  // The parent has gone (exited, or dropped us): a build in progress has no one to hand its blob to.
  process.on("disconnect", () => process.exit(0));
}
