// Serves one blob on a worker thread: holds one instance and runs it on request, so a blob that never returns stops
// only that thread (the main thread terminates it), never the process. runtime/model-worker.ts is the thread's entry
// file; the one-file agent (bin/agent-main.ts) calls serveModelWorker from its own file instead.
import type { MessagePort } from "node:worker_threads";
import { BlobError, Model } from "./model.js";
import type { Manifest } from "./manifest.js";
import { profileModel, type ProfileOptions } from "./profile.js";

export type WorkerRequest =
  | { id: number; op: "instantiate"; module: WebAssembly.Module; info: Manifest }
  | { id: number; op: "run"; input: Uint8Array | Float32Array }
  | { id: number; op: "classify"; inputs: Uint8Array; count: number; outputs: boolean; beat: boolean }
  | { id: number; op: "profile"; options: Omit<ProfileOptions, "onRun">; beat: boolean };

export interface RunReply { raw: Float32Array | Int8Array; index: number; deviceUs: number }
export interface ClassifyReply { predictions: Int32Array; outputs: Uint8Array; deviceUs: number }

export type WorkerReply =
  | { id: number; ok: unknown }
  | { id: number; beat: true }
  | { id: number; error: { message: string; blob: boolean } };

/** Beats at most this often: enough for a watchdog that counts in seconds, too rare to cost time. */
const BEAT_MS = 50;

function argmax(raw: ArrayLike<number>): number {
  let index = 0;
  for (let i = 1; i < raw.length; i++) if (raw[i] > raw[index]) index = i;
  return index;
}

/** Answers the requests of runtime/worker-model.ts that arrive on `port` (the worker's parentPort). */
export function serveModelWorker(port: MessagePort): void {
  let model: Model | null = null;

  /** Tells the main thread the blob still makes progress (calls that are limited per inference, not in total). */
  const beater = (id: number, on: boolean): (() => void) => {
    let last = performance.now();
    return () => {
      if (!on) return;
      const now = performance.now();
      if (now - last < BEAT_MS) return;
      last = now;
      port.postMessage({ id, beat: true } satisfies WorkerReply);
    };
  };

  const loaded = (): Model => {
    if (!model) throw new BlobError("internal: no blob instantiated in this worker");
    return model;
  };

  const handle = async (req: WorkerRequest): Promise<{ value: unknown; transfer: ArrayBuffer[] }> => {
    switch (req.op) {
      case "instantiate":
        model = null;
        model = await Model.instantiate(req);
        return { value: null, transfer: [] };
      case "run": {
        const m = loaded();
        m.setInput(req.input);
        const t0 = performance.now();
        m.exports.run();
        const deviceUs = (performance.now() - t0) * 1000;
        const raw = m.rawOutput();
        return { value: { raw, index: argmax(raw), deviceUs } satisfies RunReply, transfer: [raw.buffer as ArrayBuffer] };
      }
      case "classify": {
        const m = loaded();
        const size = m.inputSize, rawBytes = m.outputSize * (m.info.output.dtype === "float32" ? 4 : 1);
        const predictions = new Int32Array(req.count);
        const outputs = new Uint8Array(req.outputs ? req.count * rawBytes : 0);
        const beat = beater(req.id, req.beat);
        const t0 = performance.now();
        for (let i = 0; i < req.count; i++) {
          m.setInput(req.inputs.subarray(i * size, (i + 1) * size));
          m.exports.run();
          const raw = m.rawOutput();
          predictions[i] = argmax(raw);
          if (req.outputs) outputs.set(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), i * rawBytes);
          beat();
        }
        const deviceUs = (performance.now() - t0) * 1000;
        return { value: { predictions, outputs, deviceUs } satisfies ClassifyReply, transfer: [predictions.buffer, outputs.buffer] };
      }
      case "profile":
        return { value: profileModel(loaded(), { ...req.options, onRun: beater(req.id, req.beat) }), transfer: [] };
    }
  };

  port.on("message", (req: WorkerRequest) => {
    handle(req).then(({ value, transfer }) => port.postMessage({ id: req.id, ok: value } satisfies WorkerReply, transfer), (e: unknown) => {
      // A trap (RuntimeError) is the blob's failure too: it reaches the user as a BlobError.
      const blob = e instanceof BlobError || e instanceof WebAssembly.RuntimeError;
      const message = e instanceof WebAssembly.RuntimeError ? `the blob trapped: ${e.message}` : (e as Error)?.message ?? String(e);
      port.postMessage({ id: req.id, error: { message, blob } } satisfies WorkerReply);
    });
  });
}
