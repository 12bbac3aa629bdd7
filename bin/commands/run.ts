// `kiln run`: classify images (PNG/JPEG, folders, .u8, idx) with a compiled blob.
import { loadModelFile } from "../../runtime/node.js";
import type { Model, Prediction } from "../../runtime/model.js";
import { loadImages, type ImageBatch } from "../../models/images.js";
import { KilnError, UsageError } from "../../compiler/errors.js";
import { parseArgs, type CommandSpec } from "../args.js";
import type { Io } from "../io.js";

export const runSpec: CommandSpec = {
  name: "run",
  summary: "run a blob on images and print the predicted labels",
  usage: "kiln run <blob.wasm> --input <file|folder> [more files…] [--json] [--top K]",
  options: {
    input: { type: "string", short: "i", description: "a PNG/JPEG image, a folder of them, a raw .u8 file of N images, or an idx images file" },
    top: { type: "number", description: "also show the K most likely labels with their scores", default: 1 },
    json: { type: "boolean", description: "one JSON object per image per line: name, label, index, scores", default: false },
  },
};

export function inputShape(model: Model): { height: number; width: number; channels: number } {
  const shape = model.info.input.shape;
  if (shape.length !== 4) throw new KilnError(`model '${model.info.model}' takes input [${shape}], not an image; kiln run needs an image model [1, h, w, c]`);
  return { height: shape[1], width: shape[2], channels: shape[3] };
}

export function loadInputs(model: Model, paths: string[]): ImageBatch[] {
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
  const model = await loadModelFile(blob).catch((e: Error) => { throw new KilnError(e.message); });
  const size = model.inputSize;
  for (const batch of loadInputs(model, inputs)) {
    for (let i = 0; i < batch.count; i++) {
      const p = model.predict(batch.pixels.subarray(i * size, (i + 1) * size));
      const name = batch.names[i];
      if (parsed.options.json) {
        io.out(JSON.stringify({ name, label: p.label, index: p.index, scores: Array.from(p.scores), ...(k > 1 ? { top: topK(p, model.info.labels, k) } : {}) }));
      } else if (k > 1) {
        io.out(`${name}: ${p.label}   ` + topK(p, model.info.labels, k).map((t) => `${t.label} ${t.score.toFixed(4)}`).join("  "));
      } else {
        io.out(`${name}: ${p.label}`);
      }
    }
  }
}
