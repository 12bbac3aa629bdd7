// The CLI's runs of a blob: on a worker thread with a time limit per inference, and errors that say so.
import { existsSync } from "node:fs";
import { INPUT_LIMITS, readInputFile } from "../io/input-file.js";
import { KilnError, UsageError } from "../compiler/errors.js";
import type { LabelledImages } from "../io/idx.js";
import { DEFAULT_TIME_LIMIT_MS, RunTimeout, WorkerModel } from "../runtime/worker-model.js";
import type { OptionSpec } from "./args.js";
import type { Progress } from "./progress.js";

export const timeLimitOption: OptionSpec = {
  type: "number", integer: true, min: 1, max: 3_600_000, default: DEFAULT_TIME_LIMIT_MS,
  description: "ms the blob may take to start or to run one inference; then it is stopped with an error",
};

export function timeLimit(command: string, value: unknown): number {
  const ms = value as number;
  if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000) throw new UsageError(`kiln ${command}: --time-limit must be a whole number of ms, 1…3600000`);
  return ms;
}

/** The error to show for a failure while loading or running `path`. */
export function blobRunError(command: string, path: string, e: unknown): KilnError {
  if (e instanceof KilnError) return e;
  const hint = e instanceof RunTimeout ? " (--time-limit sets the limit)" : "";
  return new KilnError(`kiln ${command}: ${path}: ${(e as Error).message}${hint}`);
}

/** Loads a blob file onto a worker; its start function gets `timeLimitMs`. */
export async function openBlob(command: string, path: string, timeLimitMs: number): Promise<WorkerModel> {
  if (!existsSync(path)) throw new KilnError(`kiln ${command}: ${path}: file not found`);
  try {
    return await WorkerModel.load(readInputFile(path, "blob", INPUT_LIMITS.maxBlobBytes), { timeLimitMs });
  } catch (e) {
    throw blobRunError(command, path, e);
  }
}

/** Images per worker call: large enough that the round trip is noise, small enough for a smooth progress bar. */
const BATCH = 500;

/** Accuracy and confusion of a blob on labelled images (kiln eval of a .wasm). */
export async function evaluateBlob(model: WorkerModel, data: LabelledImages, count: number, progress?: Progress) {
  const size = model.inputSize, classes = model.outputSize;
  if (size !== data.height * data.width * data.channels) {
    throw new KilnError(`images are ${data.height}×${data.width}×${data.channels}; model '${model.info.model}' expects [${model.info.input.shape}]`);
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const predictions = new Int32Array(count);
  let correct = 0;
  for (let start = 0; start < count; start += BATCH) {
    const n = Math.min(BATCH, count - start);
    const r = await model.classify(data.pixels.subarray(start * size, (start + n) * size), n, { perInference: true });
    predictions.set(r.predictions, start);
    progress?.update(start + n);
  }
  for (let i = 0; i < count; i++) {
    if (predictions[i] === data.labels[i]) correct++;
    if (data.labels[i] < classes) confusion[data.labels[i]][predictions[i]]++;
  }
  progress?.done();
  return { accuracy: correct / count, count, predictions, confusion };
}
