// A compile's held-out images and error report: the calibration split, the report's image budget, and its late seal.
import { sizeOf, tensorOf, type Graph } from "../ir.js";
import { layerMacs } from "../ops/registry.js";
import type { Calibration } from "../passes/quantize.js";
import { isAutoKeepFloat } from "../passes/quantize.js";
import type { CompileOptions } from "../compile.js";
import { calibrate, pixelsToInputs } from "./calibrate.js";
import { calibrationSet, heldOutCount } from "./calibration-data.js";
import { calibrationSetWarnings } from "./calibration-checks.js";
import { measureQuantError, measureQuantErrorAsync, type MeasureOptions, type QuantReport } from "./error-report.js";
import { blobValues } from "./blob-probe.js";
import { sealBlob, type BuiltBlob } from "../built-blob.js";
import type { Manifest } from "../codegen/manifest.js";
import type { Layout } from "../codegen/layout.js";

/** What calibration kept back for the error report, handed from the calibrate callback to the report one. */
export interface CalibrationSplit {
  calibrated: number;
  /** The held-out images as the float graph takes them, and their pixels (the int8 input is quantized from these). */
  heldOut: Float32Array[];
  pixels: Uint8Array;
  warnings: string[];
  /**
   * Set by compileGraph: the report is then measured on the blob being built (it changes only the manifest), by calling
   * `measureLater` with the build and the layout it was given once the build has been requested.
   */
  defer?: boolean;
  measureLater?: (building: Promise<BuiltBlob>, layout: Layout) => Promise<void>;
}

export function newSplit(defer = false): CalibrationSplit {
  return { calibrated: 0, heldOut: [], pixels: new Uint8Array(0), warnings: [], defer };
}

/** The quantize pass's calibration: the options' images (all but the held-out last ones) run through the fused float graph. */
export function calibrationOf(graph: Graph, options: CompileOptions, split: CalibrationSplit): Calibration {
  const set = calibrationSet(graph, options.calibration, options.calibrationCount ?? 500);
  const method = options.calibrationMethod ?? "minmax";
  const held = heldOutCount(set.count, options.holdout ?? 0);
  const calibrated = set.count - held;
  const size = sizeOf(tensorOf(graph, graph.inputs[0]).shape);
  const images = held > 0 ? `${set.description}: ${calibrated} for the ranges, the last ${held} held out for the error report` : set.description;
  options.log?.(`calibrating on ${images} (${method})`);
  const inputs = pixelsToInputs(graph, set.pixels, set.count, options.pixelScale, options.pixelOffset);
  const ranges = calibrate(graph, inputs.slice(0, calibrated), method, { evaluator: options.calibrationEvaluator, progress: options.progress });
  split.calibrated = calibrated;
  split.heldOut = inputs.slice(calibrated);
  split.pixels = set.pixels.subarray(calibrated * size, set.count * size);
  split.warnings = [...(set.warnings ?? []), ...calibrationSetWarnings(set.pixels, set.count, size, calibrated)];
  if (held === 0 && options.holdout !== 0 && options.holdout !== undefined) split.warnings.push(`only ${set.count} calibration image${set.count === 1 ? "" : "s"}: none held out, so no quantization error report`);
  return { ranges, images, method };
}

/**
 * Per held-out image, the report runs the float graph once and the int8 graph twice (end to end, and each layer alone).
 * On the compile's own blob (the usual case) the int8 runs are cheap; the float side (f64 kernels, ~5 GMAC/s) and the
 * comparisons in JS cost ~0.3 s per MobileNetV2-224 image (300 M MACs, 7 M activations) on this project's 2-vCPU machine.
 * With holdout "auto", this budget of multiply-accumulates bounds that to ~6 s: all held-out images of mnist-cnn
 * (1.2 M MACs) and LeNet-5, 21 of MobileNetV2-224. A number of held-out images given explicitly (--holdout N) is
 * measured whole.
 */
export const REPORT_MAC_BUDGET = 6.5e9;
/**
 * Without a blob (--keep-float auto measures inside the quantize pass), the JS int8 reference runs instead, at ~0.15
 * GMAC/s: a budget for ~7 s of CPU there (mnist-cnn and LeNet-5 all 50 images, MobileNetV2-224 1).
 */
export const REFERENCE_MAC_BUDGET = 1e9;

/** How many of `heldOut` images the report measures for a model of `macs` per inference within `budget` (at least one). */
export function reportImages(heldOut: number, macs: number, budget = REPORT_MAC_BUDGET): number {
  return Math.min(heldOut, Math.max(1, Math.floor(budget / Math.max(1, macs))));
}

/** The held-out images the report measures, with their pixels (quantized for the int8 graph as the runtime would). */
function measured(float: Graph, options: CompileOptions, split: CalibrationSplit, budget: number): { images: Float32Array[]; measure: MeasureOptions } {
  const macs = float.nodes.reduce((sum, node) => sum + layerMacs(float, node), 0);
  const count = options.holdout === "auto" ? reportImages(split.heldOut.length, macs, budget) : split.heldOut.length;
  const size = sizeOf(tensorOf(float, float.inputs[0]).shape);
  return {
    images: split.heldOut.slice(0, count),
    measure: { pixels: split.pixels.subarray(0, count * size), pixelScale: options.pixelScale, pixelOffset: options.pixelOffset },
  };
}

/**
 * The quantize pass's report callback: the error report on the held-out images (none without them); the counts and
 * all warnings go to the int8 graph's meta for the manifest. Deferred when compileGraph asked (split.defer) and then
 * measured on the blob, except for --keep-float auto, which ranks layers by the report inside the pass (JS reference).
 */
export function reportOf(float: Graph, quantized: Graph, options: CompileOptions, split: CalibrationSplit): QuantReport | undefined {
  quantized.meta.calibrationCounts = { calibrated: split.calibrated, heldOut: split.heldOut.length };
  quantized.meta.quantWarnings = [...split.warnings];
  if (split.heldOut.length === 0) return undefined;
  const onBlob = split.defer && !isAutoKeepFloat(options.keepFloat);
  const { images, measure } = measured(float, options, split, onBlob ? REPORT_MAC_BUDGET : REFERENCE_MAC_BUDGET);
  const keep = (report: QuantReport): QuantReport => {
    quantized.meta.quantWarnings = [...split.warnings, ...report.warnings];
    return report;
  };
  if (onBlob) {
    split.measureLater = async (building, layout) => {
      const int8 = building.then((built) => blobValues(quantized, layout, built.wasm));
      quantized.meta.quantReport = keep(await measureQuantErrorAsync(float, quantized, images, measure, int8));
    };
    return undefined;
  }
  return keep(measureQuantError(float, quantized, images, measure));
}

/**
 * `built` with its manifest replaced by `manifest` (the report measured during the build): the manifest section is
 * the blob's last, so the module before it is what the build sealed, and sealing it again with the full manifest
 * gives the bytes a build given that manifest from the start would have.
 */
export async function resealed(built: BuiltBlob, manifest: Manifest): Promise<BuiltBlob> {
  const module = built.wasm.subarray(0, built.wasm.length - built.sizes.manifest);
  const { wasm, contentHash, manifestSection } = await sealBlob(module, manifest as unknown as Record<string, unknown>);
  return { wasm, contentHash, sizes: { ...built.sizes, manifest: manifestSection, total: wasm.length } };
}
