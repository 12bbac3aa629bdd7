// `kiln run`: classify images (PNG/JPEG, folders, .u8, idx) with a compiled blob.
import type { Manifest, Prediction } from "../../runtime/model.js";
import { loadImages, type ImageBatch } from "../../io/images.js";
import { KilnError, UsageError } from "../../compiler/errors.js";
import { parseArgs, type CommandSpec } from "../args.js";
import { blobRunError, openBlob, timeLimit, timeLimitOption } from "../blob-runs.js";
import type { Io } from "../io.js";
import { escapeControl } from "../terminal.js";

export const runSpec: CommandSpec = {
  name: "run",
  summary: "run a blob on images and print the predicted labels",
  usage: "kiln run <blob.wasm> --input <file|folder> [more files…] [--json] [--top K] [--time-limit MS]",
  options: {
    input: { type: "string", short: "i", description: "a PNG/JPEG image, a folder of them, a raw .u8 file of N images, or an idx images file" },
    top: { type: "number", integer: true, min: 1, max: 100_000, description: "also show the K most likely labels with their scores", default: 1 },
    json: { type: "boolean", description: "one JSON object per image per line: name, label, index, scores", default: false },
    "time-limit": timeLimitOption,
  },
};

export function inputShape(model: { info: Manifest }): { height: number; width: number; channels: number } {
  const shape = model.info.input.shape;
  if (shape.length !== 4) throw new KilnError(`model '${model.info.model}' takes input [${shape}], not an image; kiln run needs an image model [1, h, w, c]`);
  return { height: shape[1], width: shape[2], channels: shape[3] };
}

export function loadInputs(model: { info: Manifest }, paths: string[]): ImageBatch[] {
  const { height, width, channels } = inputShape(model);
  return paths.map((p) => {
    try {
      return loadImages(p, height, width, channels);
    } catch (e) {
      throw new KilnError((e as Error).message);
    }
  });
}

export function topK(p: Prediction, labels: string[], k: number): { label: string; score: number }[] {
  return [...p.scores].map((score, i) => ({ label: labels[i] ?? String(i), score }))
    .sort((a, b) => b.score - a.score).slice(0, k);
}

export async function runCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(runSpec, argv);
  const [blob, ...more] = parsed.positionals;
  if (!blob) throw new UsageError(`kiln run: missing <blob.wasm> (usage: ${runSpec.usage})`);
  const inputs = [...(parsed.options.input ? [String(parsed.options.input)] : []), ...more];
  if (inputs.length === 0) throw new UsageError(`kiln run: missing --input <file> (usage: ${runSpec.usage})`);
  const k = Math.max(1, Math.floor(parsed.options.top as number));
  const limit = timeLimit("run", parsed.options["time-limit"]);
  const model = await openBlob("run", blob, limit);
  try {
    for (const batch of loadInputs(model, inputs)) {
      // The blob runs on a worker: one that never returns is stopped after the time limit with a clear error.
      const predictions = await model.predict(batch.pixels, batch.count, { perInference: true }).catch((e: unknown) => { throw blobRunError("run", blob, e); });
      predictions.forEach((p, i) => printPrediction(io, batch.names[i], p, model.info.labels, k, Boolean(parsed.options.json)));
    }
  } finally {
    await model.close();
  }
}

function printPrediction(io: Io, name: string, p: Prediction, labels: string[], k: number, json: boolean): void {
  if (json) {
    io.out(JSON.stringify({ name, label: p.label, index: p.index, scores: Array.from(p.scores), ...(k > 1 ? { top: topK(p, labels, k) } : {}) }));
  } else if (k > 1) {
    io.out(`${escapeControl(name)}: ${escapeControl(p.label)}   ` + topK(p, labels, k).map((t) => `${escapeControl(t.label)} ${t.score.toFixed(4)}`).join("  "));
  } else {
    io.out(`${escapeControl(name)}: ${escapeControl(p.label)}`);
  }
}
