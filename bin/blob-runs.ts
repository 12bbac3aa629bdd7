// The CLI's runs of a blob: on a worker thread with a time limit per inference, and errors that say so.
import { existsSync } from "node:fs";
import { detectModelFormat, isWasmFile } from "../compiler/frontends/detect-format.js";
import { INPUT_LIMITS, readInputFile } from "../io/input-file.js";
import { KilnError } from "../compiler/errors.js";
import type { LabelledImages } from "../io/idx.js";
import { DEFAULT_TIME_LIMIT_MS, RunTimeout, WorkerModel } from "../runtime/worker-model.js";
import type { NumberOption } from "./args.js";
import type { Progress } from "./progress.js";

/** `--time-limit` of the commands that run a blob on this machine (its default makes the parsed value a number). */
export const timeLimitOption = {
  type: "number", integer: true, min: 1, max: 3_600_000, default: DEFAULT_TIME_LIMIT_MS, defaultText: `${DEFAULT_TIME_LIMIT_MS} = ${DEFAULT_TIME_LIMIT_MS / 1000} s`,
  description: "ms the blob may take to start or to run one inference; then it is stopped with an error",
} as const satisfies NumberOption;

/** The error to show for a failure while loading or running `path`. */
export function blobRunError(command: string, path: string, e: unknown): KilnError {
  if (e instanceof KilnError) return e;
  const hint = e instanceof RunTimeout ? " (--time-limit sets the limit)" : "";
  return new KilnError(`kiln ${command}: ${path}: ${(e as Error).message}${hint}`);
}

/** A path as it can be pasted into a shell. */
export function shellWord(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`;
}

/**
 * When `path` is a model Kiln compiles (an .onnx or a model.json) rather than a blob: the error that says to compile it
 * first, with the command. Null for anything else, which then fails as a blob would.
 */
export function modelNotBlob(command: string, path: string): KilnError | null {
  if (isWasmFile(path)) return null;
  let format: string;
  try {
    format = detectModelFormat(path) === "onnx" ? "an ONNX model" : "a TF.js model";
  } catch {
    return null;
  }
  return new KilnError(`kiln ${command}: ${path} is ${format}, not a compiled WebAssembly blob; compile it first: kiln compile ${shellWord(path)}`);
}

/** Loads a blob file onto a worker; its start function gets `timeLimitMs`. */
export async function openBlob(command: string, path: string, timeLimitMs: number): Promise<WorkerModel> {
  if (!existsSync(path)) throw new KilnError(`kiln ${command}: ${path}: file not found`);
  const notBlob = modelNotBlob(command, path);
  if (notBlob) throw notBlob;
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
