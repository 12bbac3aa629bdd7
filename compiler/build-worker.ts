// The worker thread behind toolchain.ts: loads asc and Binaryen as soon as it starts, then builds blobs on request.
import { parentPort } from "node:worker_threads";
import { KilnError } from "./errors.js";
import { buildBlob, loadToolchain, type BlobInput } from "./build.js";

export interface BuildRequest { id: number; input: BlobInput }

export type BuildReply =
  | { id: number; built: Awaited<ReturnType<typeof buildBlob>> }
  | { id: number; error: { message: string; stack?: string; exitCode?: number } };

// Started now, while the main thread is still calibrating: that overlap is the point of this worker. A failure
// here surfaces, with its message, from the first build.
loadToolchain().catch(() => undefined);

// One build at a time, in order, as they would run on the main thread.
let queue = Promise.resolve();

parentPort?.on("message", ({ id, input }: BuildRequest) => {
  queue = queue.then(async () => {
    let reply: BuildReply;
    try {
      reply = { id, built: await buildBlob(input) };
    } catch (e) {
      const err = e as Error;
      reply = { id, error: { message: err.message, stack: err.stack, exitCode: e instanceof KilnError ? e.exitCode : undefined } };
    }
    parentPort?.postMessage(reply, "built" in reply ? [reply.built.wasm.buffer] : []);
  });
});
