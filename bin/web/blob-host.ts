// The page's side of a blob worker: one request at a time, each with a deadline after which the worker is stopped.
import type { Manifest } from "../../runtime/manifest.js";
import type { Reply, Request } from "./messages.js";

/** A blob that loops forever would hang its worker, never the page: past this the worker is terminated. */
const DEADLINE_MS = 20_000;

type Answer<T extends Reply["type"]> = Extract<Reply, { type: T }>;

export class BlobHost {
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  private constructor(private readonly worker: Worker, readonly info: Manifest) {}

  /** A worker with `bytes` (a copy is sent) loaded and checked; rejects with the runtime's message. */
  static async start(bytes: Uint8Array, workerUrl = "worker.js"): Promise<BlobHost> {
    const worker = new Worker(workerUrl);
    const copy = bytes.slice();
    try {
      const loaded = await exchange(worker, { type: "load", bytes: copy.buffer }, "loaded", [copy.buffer]);
      return new BlobHost(worker, loaded.info);
    } catch (e) {
      worker.terminate();
      throw e;
    }
  }

  ask<T extends Reply["type"]>(request: Request, expect: T, transfer: Transferable[] = []): Promise<Answer<T>> {
    const next = this.queue.then(() => {
      if (this.stopped) throw new Error("the blob's worker was stopped");
      return exchange(this.worker, request, expect, transfer).catch((e: unknown) => {
        if (e instanceof DeadlineError) this.stop();
        throw e;
      });
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  stop(): void {
    this.stopped = true;
    this.worker.terminate();
  }
}

class DeadlineError extends Error {}

function exchange<T extends Reply["type"]>(worker: Worker, request: Request, expect: T, transfer: Transferable[]): Promise<Answer<T>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      finish();
      reject(new DeadlineError(`the blob did not answer '${request.type}' within ${DEADLINE_MS / 1000} s; its worker was stopped`));
    }, DEADLINE_MS);
    const finish = (): void => {
      clearTimeout(timer);
      worker.removeEventListener("message", onMessage);
      worker.removeEventListener("error", onError);
    };
    const onMessage = (event: MessageEvent<Reply>): void => {
      finish();
      const reply = event.data;
      if (reply.type === expect) resolve(reply as Answer<T>);
      else reject(new Error(reply.type === "error" ? reply.message : `unexpected reply '${reply.type}' to '${request.type}'`));
    };
    const onError = (event: ErrorEvent): void => {
      event.preventDefault();
      finish();
      reject(new Error(event.message || "the blob's worker failed"));
    };
    worker.addEventListener("message", onMessage);
    worker.addEventListener("error", onError);
    worker.postMessage(request, transfer);
  });
}
