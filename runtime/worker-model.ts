// Runs a blob on a worker thread with a time limit on every call (Node only): a blob that never returns is stopped.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { BlobError, inspectBlob, type LoadOptions, type Manifest, type Prediction } from "./model.js";
import type { ProfileOptions, ProfileResult } from "./profile.js";
import type { ClassifyReply, RunReply, WorkerReply, WorkerRequest } from "./model-worker-serve.js";

/** A call that did not finish within its limit: the worker was terminated and the next call gets a fresh instance. */
export class RunTimeout extends BlobError {
  constructor(readonly limitMs: number, what: string) {
    super(`${what} did not finish within ${limitMs} ms; it was stopped`);
  }
}

/** Default limit on one call (one inference, or one instantiation): the agent's default too. */
export const DEFAULT_TIME_LIMIT_MS = 10_000;

export interface WorkerModelOptions extends LoadOptions {
  /** Longest a call may take (ms); see `perInference` in the call options for batch calls. */
  timeLimitMs?: number;
}

export interface CallLimit {
  /** Overrides the model's time limit for this call. */
  limitMs?: number;
  /**
   * The limit applies to each inference of a batch (the worker reports progress), not to the whole call: for the
   * CLI's long evaluations and profiles. The agent limits whole requests instead (its clients wait on them).
   */
  perInference?: boolean;
}

/** The script a model's worker thread runs: an entry file that calls serveModelWorker (model-worker-serve.ts). */
export interface WorkerScript {
  url: URL;
  /** Given to the thread as `workerData` (a bundle that is its own worker tells the roles apart with it). */
  workerData?: unknown;
}

// By default the worker runs compiled JavaScript: next to this file in dist/, or (under vitest, from the TypeScript
// sources) the copy in dist/ that the test setup builds.
let workerScript: WorkerScript = {
  url: import.meta.url.endsWith(".js")
    ? new URL("./model-worker.js", import.meta.url)
    : new URL("../dist/runtime/model-worker.js", import.meta.url),
};

/** Makes every WorkerModel loaded from now on run `script` (the one-file agent: its own file, in the worker role). */
export function useWorkerScript(script: WorkerScript): void {
  workerScript = script;
}

type Request = WorkerRequest extends infer R ? R extends { id: number } ? Omit<R, "id"> : never : never;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  /** Restarts the watchdog (a progress beat from the worker). */
  beat(): void;
}

export class WorkerModel {
  private worker: Worker | null = null;
  private pending = new Map<number, Pending>();
  private nextId = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(readonly info: Manifest, private readonly module: WebAssembly.Module, public timeLimitMs: number) {}

  /**
   * Checks the blob on this thread without running it (inspectBlob), then instantiates it on a worker within the
   * time limit (a start function that never returns is a RunTimeout).
   */
  static async load(bytes: Uint8Array, options: WorkerModelOptions = {}): Promise<WorkerModel> {
    const { module, info } = await inspectBlob(bytes, options);
    const model = new WorkerModel(info, module, options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS);
    try {
      await model.serialized(() => model.started());
    } catch (e) {
      await model.close();
      throw e;
    }
    return model;
  }

  get inputSize(): number { return this.info.input.shape.reduce((a, b) => a * b, 1); }
  get outputSize(): number { return this.info.output.shape.reduce((a, b) => a * b, 1); }

  /** One inference: the raw output, its argmax and the time run() took on the worker. */
  run(input: Uint8Array | Float32Array, limit: CallLimit = {}): Promise<RunReply> {
    return this.serialized(async () => this.call({ op: "run", input }, [], limit, "the blob's run()") as Promise<RunReply>);
  }

  /** `count` inferences in one call (inputs back to back): argmaxes, and the raw outputs back to back if asked. */
  classify(inputs: Uint8Array, count: number, options: CallLimit & { outputs?: boolean } = {}): Promise<ClassifyReply> {
    if (inputs.length !== count * this.inputSize) throw new BlobError(`${inputs.length} input bytes for ${count} inputs of ${this.inputSize}`);
    const request: Request = { op: "classify", inputs, count, outputs: options.outputs ?? false, beat: options.perInference ?? false };
    const what = options.perInference ? "one run() of the blob" : `the blob's run() on ${count} inputs`;
    return this.serialized(() => this.call(request, [], options, what) as Promise<ClassifyReply>);
  }

  /** Predictions (index, label, scores in real units) for `count` inputs back to back, in one call. */
  async predict(inputs: Uint8Array, count: number, limit: CallLimit = {}): Promise<Prediction[]> {
    const { predictions, outputs } = await this.classify(inputs, count, { ...limit, outputs: true });
    const n = this.outputSize, { dtype, scale = 1, zeroPoint = 0 } = this.info.output;
    return Array.from(predictions, (index, i) => {
      const scores = dtype === "float32"
        ? new Float32Array(outputs.buffer.slice(outputs.byteOffset + i * n * 4, outputs.byteOffset + (i + 1) * n * 4))
        : Float32Array.from(new Int8Array(outputs.buffer, outputs.byteOffset + i * n, n), (q) => (q - zeroPoint) * scale);
      return { index, label: this.info.labels[index] ?? String(index), scores };
    });
  }

  profile(options: Omit<ProfileOptions, "onRun"> = {}, limit: CallLimit = {}): Promise<ProfileResult> {
    const request: Request = { op: "profile", options, beat: limit.perInference ?? false };
    const what = limit.perInference ? "one run of the blob while profiling" : "profiling the blob";
    return this.serialized(() => this.call(request, [], limit, what) as Promise<ProfileResult>);
  }

  /** A fresh instance (memory as the blob declares it at start), within the time limit. */
  reset(): Promise<void> {
    return this.serialized(async () => {
      // A live worker instantiates again (a millisecond); only a dead one costs a new thread.
      if (this.worker) await this.call({ op: "instantiate", module: this.module, info: this.info }, [], {}, "instantiating the blob (its start function)");
      else await this.started();
    });
  }

  /** Stops the worker, and any call in progress (it fails); the model cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stopWorker(new BlobError("the model was closed while it ran"));
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The worker, started and holding an instance; after a timeout or a crash, a new one. */
  private async started(): Promise<Worker> {
    if (this.closed) throw new BlobError("the model was closed");
    if (this.worker) return this.worker;
    const { url, workerData } = workerScript;
    if (url.protocol === "file:" && !existsSync(fileURLToPath(url))) throw new Error(`internal: ${fileURLToPath(url)} is missing (npm run build)`);
    const w = new Worker(url, { workerData });
    this.worker = w;
    w.on("message", (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      if ("beat" in reply) return p.beat();
      this.pending.delete(reply.id);
      if ("ok" in reply) p.resolve(reply.ok);
      else p.reject(reply.error.blob ? new BlobError(reply.error.message) : new Error(reply.error.message));
    });
    const fail = (err: Error): void => {
      if (this.worker !== w) return;
      this.worker = null;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on("error", (err) => fail(new BlobError(`the blob's worker failed: ${err.message}`)));
    w.on("exit", (code) => fail(new BlobError(`the blob's worker stopped (exit code ${code})`)));
    w.unref();
    await this.call({ op: "instantiate", module: this.module, info: this.info }, [], {}, "instantiating the blob (its start function)", w);
    return w;
  }

  private async stopWorker(reason?: Error): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(reason ?? new BlobError("the blob's worker was stopped"));
    this.pending.clear();
    await w.terminate();
  }

  /** Posts one request and waits for its answer under the watchdog. */
  private async call(request: Request, transfer: ArrayBuffer[], limit: CallLimit, what: string, starting?: Worker): Promise<unknown> {
    const w = starting ?? await this.started();
    const limitMs = limit.limitMs ?? this.timeLimitMs;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const timeout = new RunTimeout(limitMs, what);
          reject(timeout);
          this.pending.delete(id);
          if (this.worker === w) void this.stopWorker(timeout);
        }, limitMs);
      };
      const done = (): void => {
        clearTimeout(timer);
        if (this.pending.size === 0) w.unref();
      };
      this.pending.set(id, {
        resolve: (value) => { done(); resolve(value); },
        reject: (err) => { done(); reject(err); },
        beat: () => { if (limit.perInference) arm(); },
      });
      arm();
      // A pending call keeps the process alive (the CLI awaits it); an idle worker does not.
      w.ref();
      w.postMessage({ ...request, id } as WorkerRequest, transfer);
    });
  }
}
