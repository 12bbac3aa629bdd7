// `kiln compile`: model.onnx or model.json → model.wasm, with a size breakdown.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { compileFile } from "../../compiler/compile.js";
import { parseKeepFloat } from "../../compiler/passes/quantize.js";
import { KilnError, UsageError } from "../../compiler/errors.js";
import { describeGraph } from "../../compiler/dump.js";
import { defineCommand, parseArgs, requirePositionals } from "../args.js";
import { formatBytes, type Io } from "../io.js";
import { escapeControl } from "../terminal.js";
import { progressBar, type Progress } from "../progress.js";
import { calibrationImages } from "../calibration.js";
import { reportLines, warningLines } from "../quant-report.js";
import { keptFloatLayers, type QuantReport } from "../../runtime/manifest.js";

export const compileSpec = defineCommand({
  name: "compile",
  summary: "compile an ONNX or TF.js model to one WebAssembly blob",
  usage: "kiln compile <model.onnx|model.json> [-o out.wasm] [--quantize int8|none] [--target simd|scalar] [--calibration <images>] [--keep-float <layers>|auto]",
  options: {
    output: { type: "string", short: "o", description: "output file", defaultText: "model.wasm beside the model" },
    quantize: { type: "string", choices: ["none", "int8"], description: "int8 (weights per channel, activations per tensor) or none (float32)", default: "int8" },
    calibration: { type: "string", description: "representative images for int8 calibration: idx, .u8, or a folder of PNG/JPEG", defaultText: "MNIST training images for 28×28×1 models" },
    "calibration-count": { type: "number", integer: true, min: 1, max: 1_000_000, description: "how many calibration images to use", default: 500 },
    holdout: { type: "number", integer: true, min: 0, max: 200, description: "calibration images held out (not used for ranges) and measured for the quantization error report; 0: no report", defaultText: "10 %, at least 20, at most half the set; big models measure only as many as ~6 s allow (MobileNetV2-224: 21)" },
    "calibration-method": { type: "string", choices: ["minmax", "percentile", "mse"], description: "how activation ranges are chosen", default: "minmax" },
    "keep-float": { type: "string", description: "layers kept in float32 in an int8 blob (names as kiln inspect shows them, comma-separated), or auto[:target]: the worst layers, one at a time, until top-1 agreement with float on the held-out images reaches target (default 0.99; at most 3 layers)" },
    target: { type: "string", choices: ["simd", "scalar"], description: "WebAssembly SIMD128 kernels, or scalar ones for runtimes without SIMD", default: "simd" },
    "pixel-scale": { type: "number", min: -1_000_000, max: 1_000_000, nonZero: true, description: "input value = pixel × scale + offset; a fraction such as 1/127.5 is fine", default: 1 / 255, defaultText: "1/255" },
    "pixel-offset": { type: "number", min: -1_000_000, max: 1_000_000, description: "see --pixel-scale", default: 0 },
    labels: { type: "string", description: "comma-separated class labels recorded in the manifest", defaultText: "the output indices 0,1,2,…" },
    "dump-after": { type: "string", description: "print the graph after the named pass" },
    json: { type: "boolean", description: "print the result as JSON" },
    quiet: { type: "boolean", short: "q", description: "print only errors (and the result with --json)" },
  },
});

export async function compileCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(compileSpec, argv);
  const [modelPath] = requirePositionals(compileSpec, parsed, 1, "<model.onnx|model.json>");
  const o = parsed.options;
  const out = o.output ?? join(dirname(modelPath), "model.wasm");
  const labels = o.labels?.split(",");
  const dumpPass = o["dump-after"];
  if (o["keep-float"] !== undefined && o.quantize === "none") throw new UsageError("--keep-float keeps layers of an int8 blob in float; with --quantize none every layer is float already");
  let calibration: Progress | undefined;
  const compiled = await compileFile(modelPath, {
    quantize: o.quantize,
    target: o.target,
    pixelScale: o["pixel-scale"],
    pixelOffset: o["pixel-offset"],
    labels,
    calibration: calibrationImages(o.calibration),
    calibrationCount: o["calibration-count"],
    holdout: o.holdout ?? "auto",
    keepFloat: o["keep-float"] === undefined ? undefined : parseKeepFloat(o["keep-float"]),
    calibrationMethod: o["calibration-method"],
    log: o.json || o.quiet ? undefined : (line) => io.err(line),
    progress: (done, total) => { calibration ??= progressBar("calibrating", total, !o.json && !o.quiet, process.stderr, "images"); calibration.update(done); if (done === total) calibration.done(); },
    dumpAfter: dumpPass ? { pass: dumpPass, print: (g) => io.err(`--- graph after ${dumpPass} ---\n${describeGraph(g)}`) } : undefined,
  });
  try {
    writeFileSync(out, compiled.wasm);
  } catch (e) {
    throw new KilnError(`${out}: cannot write the blob (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const { sizes, manifest } = compiled;
  // The report as measured (with its seconds, which the manifest leaves out so that a compile's bytes repeat).
  const report = compiled.graph.meta.quantReport as QuantReport | undefined;
  if (!o.quiet) warningLines(manifest.quantization).forEach((line) => io.err(line));
  // Layers kept in float (--keep-float, or what auto chose), as the manifest says.
  const keptFloat = keptFloatLayers(manifest).map((l) => l.name);
  if (o.json) {
    const quantization = manifest.quantization && { ...manifest.quantization, ...(report ? { report } : {}) };
    io.out(JSON.stringify({ output: out, sizes, arenaBytes: manifest.arenaBytes, arenaLowerBound: manifest.arenaLowerBound, layers: manifest.layers.length, quantize: manifest.quantize, target: manifest.target, quantization, ...(keptFloat.length ? { keptFloat } : {}) }));
    return;
  }
  if (o.quiet) return;
  io.out(`compiled ${modelPath} → ${out}  (${manifest.quantize === "none" ? "float32" : "int8"}, ${manifest.target}${keptFloat.length ? `; in float: ${keptFloat.map((n) => escapeControl(n)).join(", ")}` : ""})`);
  io.out(`  weights   ${formatBytes(sizes.weights).padStart(10)}`);
  io.out(`  code      ${formatBytes(sizes.code).padStart(10)}`);
  io.out(`  manifest  ${formatBytes(sizes.manifest).padStart(10)}`);
  io.out(`  total     ${formatBytes(sizes.total).padStart(10)}`);
  io.out(`  arena     ${formatBytes(manifest.arenaBytes).padStart(10)}  (lower bound ${formatBytes(manifest.arenaLowerBound)})`);
  if (report) { io.out(""); reportLines(report, manifest.quantization).forEach((line) => io.out(line)); }
}
