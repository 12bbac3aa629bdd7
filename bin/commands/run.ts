// `kiln run`: classify images (PNG/JPEG, folders, .u8, idx) with a compiled blob, saying how each image was prepared.
import type { Manifest, Prediction } from "../../runtime/model.js";
import { loadImages, type ImageBatch } from "../../io/images.js";
import { KilnError, UsageError } from "../../compiler/errors.js";
import { defineCommand, parseArgs } from "../args.js";
import { blobRunError, openBlob, timeLimitOption } from "../blob-runs.js";
import type { Io } from "../io.js";
import { renderTable } from "../table.js";
import { escapeControl } from "../terminal.js";
import { endsInSoftmax, softmax } from "../probabilities.js";

export const runSpec = defineCommand({
  name: "run",
  summary: "run a blob on images and print the predicted labels",
  usage: "kiln run <blob.wasm> --input <file|folder> [more files…] [--json] [--top K] [--time-limit MS]",
  options: {
    input: { type: "string", short: "i", description: "a PNG/JPEG image, a folder of them, a raw .u8 file of N images, or an idx images file" },
    top: { type: "number", integer: true, min: 1, max: 100_000, description: "also show the K most likely labels with their probabilities", default: 1 },
    json: { type: "boolean", description: "one JSON object per image per line: name, label, index, scores" },
    "time-limit": timeLimitOption,
  },
});

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

export interface Ranked { label: string; score: number; probability: number }

/** The k most likely labels, best first (the earlier output on ties), with the raw score and its probability. */
export function topK(p: Prediction, labels: string[], k: number, scoresAreProbabilities: boolean): Ranked[] {
  const probabilities = scoresAreProbabilities ? Array.from(p.scores) : softmax(p.scores);
  return [...p.scores].map((score, i) => ({ label: labels[i] ?? String(i), score, probability: probabilities[i], i }))
    .sort((a, b) => b.score - a.score || a.i - b.i).slice(0, k).map(({ label, score, probability }) => ({ label, score, probability }));
}

export async function runCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(runSpec, argv);
  const o = parsed.options;
  const [blob, ...more] = parsed.positionals;
  if (!blob) throw new UsageError(`kiln run: missing <blob.wasm> (usage: ${runSpec.usage})`);
  const inputs = [...(o.input ? [o.input] : []), ...more];
  if (inputs.length === 0) throw new UsageError(`kiln run: missing --input <file> (usage: ${runSpec.usage})`);
  const model = await openBlob("run", blob, o["time-limit"]);
  try {
    const probabilities = endsInSoftmax(model.info);
    for (const batch of loadInputs(model, inputs)) {
      // The blob runs on a worker: one that never returns is stopped after the time limit with a clear error.
      const predictions = await model.predict(batch.pixels, batch.count, { perInference: true }).catch((e: unknown) => { throw blobRunError("run", blob, e); });
      predictions.forEach((p, i) => {
        const shown = { name: batch.names[i], conversion: batch.conversions?.[i], prediction: p };
        if (o.json) printJson(io, shown, topK(p, model.info.labels, o.top, probabilities), o.top);
        else printText(io, shown, topK(p, model.info.labels, o.top, probabilities), o.top, probabilities);
      });
    }
  } finally {
    await model.close();
  }
}

/** Four decimals; a tiny probability keeps its order of magnitude instead of reading 0.0000. */
function probabilityText(p: number): string {
  return p >= 1e-4 || p === 0 ? p.toFixed(4) : p.toExponential(1);
}

interface Shown { name: string; conversion?: string; prediction: Prediction }

function printJson(io: Io, s: Shown, top: Ranked[], k: number): void {
  const p = s.prediction;
  io.out(JSON.stringify({ name: s.name, label: p.label, index: p.index, scores: Array.from(p.scores), ...(s.conversion ? { prepared: s.conversion } : {}), ...(k > 1 ? { top } : {}) }));
}

/**
 * `digit.png: 7   (300×200 RGB → 28×28 grey, stretched)`, then with --top K a table of labels and probabilities (and
 * the logits they are the softmax of, when the model does not end in a softmax).
 */
function printText(io: Io, s: Shown, top: Ranked[], k: number, scoresAreProbabilities: boolean): void {
  io.out(`${escapeControl(s.name)}: ${escapeControl(s.prediction.label)}${s.conversion ? `   (${s.conversion})` : ""}`);
  if (k <= 1) return;
  const columns = [{ header: "label" }, { header: "probability", align: "right" as const }, ...(scoresAreProbabilities ? [] : [{ header: "logit", align: "right" as const }])];
  const rows = top.map((t) => [t.label, probabilityText(t.probability), ...(scoresAreProbabilities ? [] : [t.score.toFixed(3)])]);
  renderTable(columns, rows).forEach((line) => io.out(`  ${line}`));
}
