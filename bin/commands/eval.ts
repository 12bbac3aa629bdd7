// `kiln eval`: accuracy of a blob on labelled images, or of a model (.onnx or model.json) in float and int8 side by side.
import { existsSync } from "node:fs";
import { readLabelledImages, type LabelledImages } from "../../io/idx.js";
import { isWasmFile } from "../../compiler/frontends/detect-format.js";
import { compileFile, type CompileOptions } from "../../compiler/compile.js";
import { KilnError } from "../../compiler/errors.js";
import { Model } from "../../runtime/model.js";
import { blobRunError, evaluateBlob, openBlob, timeLimitOption } from "../blob-runs.js";
import { defineCommand, parseArgs, requirePositionals } from "../args.js";
import type { Io } from "../io.js";
import { escapeControl } from "../terminal.js";
import { progressBar, type Progress } from "../progress.js";
import { calibrationImages } from "../calibration.js";
import { reportLines, warningLines } from "../quant-report.js";
import type { QuantReport } from "../../runtime/manifest.js";

export const evalSpec = defineCommand({
  name: "eval",
  summary: "accuracy on labelled images (a blob, or a .onnx / model.json in float and int8 side by side)",
  usage: "kiln eval <blob.wasm|model.onnx|model.json> --images <idx> --labels <idx> [--count N] [--json]",
  options: {
    images: { type: "string", description: "idx images file (e.g. MNIST t10k-images-idx3-ubyte)" },
    labels: { type: "string", description: "idx labels file" },
    count: { type: "number", integer: true, min: 1, max: 1_000_000_000, description: "evaluate only the first N images", defaultText: "all" },
    target: { type: "string", choices: ["simd", "scalar"], description: "kernels used when compiling a model (.onnx or model.json)", default: "simd" },
    calibration: { type: "string", description: "calibration images when compiling a model to int8 (see kiln compile)" },
    json: { type: "boolean", description: "machine-readable output" },
    quiet: { type: "boolean", short: "q", description: "no progress bar or calibration notes" },
    "time-limit": timeLimitOption,
  },
});

export interface EvalResult {
  accuracy: number;
  count: number;
  predictions: Int32Array;
  /** confusion[truth][predicted] */
  confusion: number[][];
}

export function evaluate(model: Model, data: LabelledImages, count: number, progress?: Progress): EvalResult {
  const size = model.inputSize;
  if (size !== data.height * data.width * data.channels) {
    throw new KilnError(`images are ${data.height}×${data.width}×${data.channels}; model '${model.info.model}' expects [${model.info.input.shape}]`);
  }
  const classes = model.outputSize;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const predictions = new Int32Array(count);
  let correct = 0;
  for (let i = 0; i < count; i++) {
    const p = model.predict(data.pixels.subarray(i * size, (i + 1) * size));
    predictions[i] = p.index;
    if (p.index === data.labels[i]) correct++;
    if (data.labels[i] < classes) confusion[data.labels[i]][p.index]++;
    if (i % 100 === 99) progress?.update(i + 1);
  }
  progress?.done();
  return { accuracy: correct / count, count, predictions, confusion };
}

function confusionTable(confusion: number[][], manifestLabels: string[]): string[] {
  const labels = manifestLabels.map(escapeControl);
  const width = Math.max(5, ...confusion.flat().map((v) => String(v).length + 1));
  const head = "truth\\pred".padEnd(11) + labels.map((l) => l.padStart(width)).join("");
  return [head, ...confusion.map((row, t) => (labels[t] ?? String(t)).padEnd(11) + row.map((v) => String(v).padStart(width)).join(""))];
}

export async function evalCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(evalSpec, argv);
  const [target] = requirePositionals(evalSpec, parsed, 1, "<blob.wasm|model.onnx|model.json>");
  const o = parsed.options;
  if (!o.images || !o.labels) throw new KilnError(`kiln eval: --images and --labels are required (usage: ${evalSpec.usage})`, 2);
  let data: LabelledImages;
  try { data = readLabelledImages(o.images, o.labels); } catch (e) { throw new KilnError((e as Error).message); }
  const count = Math.min(o.count ?? data.count, data.count);
  // A blob (by its bytes or its name) runs as it is; anything else is a model to compile, its format told by its bytes.
  const isBlob = isWasmFile(target) || /\.wasm$/i.test(target) || (!existsSync(target) && !/\.(json|onnx)$/i.test(target));
  if (isBlob) {
    // A blob file runs on a worker, each inference time-limited (bin/blob-runs.ts).
    const model = await openBlob("eval", target, o["time-limit"]);
    const r = await evaluateBlob(model, data, count, progressBar("evaluating", count, !o.json && !o.quiet))
      .catch((e: unknown) => { throw blobRunError("eval", target, e); }).finally(() => model.close());
    const quantization = model.info.quantization;
    if (o.json) { io.out(JSON.stringify({ accuracy: r.accuracy, count: r.count, ...(quantization?.report ? { quantReport: quantization.report } : {}) })); return; }
    io.out(`${escapeControl(target)}: accuracy ${(100 * r.accuracy).toFixed(2)} % on ${r.count} images`);
    confusionTable(r.confusion, model.info.labels).forEach((l) => io.out("  " + l));
    printReport(io, quantization?.report, quantization);
    return;
  }
  const common: Omit<CompileOptions, "quantize"> = {
    target: o.target, pixelScale: 1 / 255, pixelOffset: 0,
    calibration: calibrationImages(o.calibration), log: o.json || o.quiet ? undefined : (l) => io.err(l),
  };
  const float = await Model.load((await compileFile(target, { ...common, quantize: "none" })).wasm);
  const compiled = await compileFile(target, { ...common, quantize: "int8", holdout: "auto" });
  const int8 = await Model.load(compiled.wasm);
  // As measured, with its seconds (the manifest's copy leaves them out).
  const report = compiled.graph.meta.quantReport as QuantReport | undefined;
  if (!o.quiet) warningLines(compiled.manifest.quantization).forEach((line) => io.err(line));
  const show = !o.json && !o.quiet;
  const rf = evaluate(float, data, count, progressBar("float32", count, show));
  const rq = evaluate(int8, data, count, progressBar("int8   ", count, show));
  let agree = 0;
  for (let i = 0; i < count; i++) if (rf.predictions[i] === rq.predictions[i]) agree++;
  if (o.json) {
    io.out(JSON.stringify({ count, float: { accuracy: rf.accuracy }, int8: { accuracy: rq.accuracy }, agreement: agree / count, ...(report ? { quantReport: report } : {}) }));
    return;
  }
  io.out(`${escapeControl(target)} on ${count} images`);
  io.out(`  float32  accuracy ${(100 * rf.accuracy).toFixed(2)} %`);
  io.out(`  int8     accuracy ${(100 * rq.accuracy).toFixed(2)} %   (${(100 * (rq.accuracy - rf.accuracy)).toFixed(2)} pp)`);
  io.out(`  top-1 agreement int8 vs float: ${(100 * agree / count).toFixed(2)} %`);
  io.out("");
  io.out("int8 confusion matrix:");
  confusionTable(rq.confusion, int8.info.labels).forEach((l) => io.out("  " + l));
  printReport(io, report, compiled.manifest.quantization);
}

/** The compile's quantization error report after the accuracy figures (a blob from before the report has none). */
function printReport(io: Io, report: QuantReport | undefined, counts: { calibrated?: number; heldOut?: number } | undefined): void {
  if (!report) return;
  io.out("");
  reportLines(report, counts).forEach((line) => io.out(line));
}
