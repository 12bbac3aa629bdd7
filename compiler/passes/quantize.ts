// Pass: int8 quantization as a pipeline step, calibrated on the graph it receives (the fused float graph).
import type { Graph } from "../ir.js";
import type { CalibrationMethod, Range } from "../quant/calibrate.js";
import { checkInt8Support, quantizeGraph, type InputMapping } from "../quant/quantize.js";
import { givenQuantOf } from "../quant/given.js";
import type { Pass } from "./pipeline.js";
import { layerScore, type QuantReport } from "../quant/error-report.js";
import { keepFloatProblem } from "../quant/keep-float.js";
import { fileText, KilnError, UsageError } from "../errors.js";

/** What calibration measured on a graph: each activation tensor's float range, and what it ran on (for the manifest). */
export interface Calibration {
  ranges: Map<string, Range>;
  images: string;
  method: CalibrationMethod;
}

export interface QuantizeInput extends InputMapping {
  /**
   * Measures the ranges on the graph the pass receives: a function of it, because the tensors to quantize are those
   * left after fusion. Called after every op is known to have an int8 kernel, so a hopeless model fails before the slow part.
   */
  calibrate(graph: Graph): Calibration;
  /**
   * The quantization error report (compiler/quant/error-report.ts) of the int8 graph against the float graph the pass
   * received, on images calibration did not use; stored in the int8 graph's meta.quantReport for the manifest.
   */
  report?(float: Graph, quantized: Graph): QuantReport | undefined;
  /** Layers that stay float32, with quantize/dequantize steps at their edges (--keep-float): see KeepFloat. */
  keepFloat?: KeepFloat;
  /** Facts worth telling the user (that a pre-quantized model is not calibrated). */
  log?: (line: string) => void;
}

/**
 * `--keep-float a,b`: those layers (names after fusion, as `kiln inspect` shows them). `--keep-float auto`: the layers
 * the error report ranks worst, one at a time, until top-1 agreement with float on the held-out images reaches
 * `target`, at most `maxLayers` of them.
 */
export type KeepFloat = readonly string[] | AutoKeepFloat;
export interface AutoKeepFloat { auto: true; target: number; maxLayers: number }

/** `--keep-float auto`'s defaults: 99 % agreement, at most 3 layers kept in float. */
export const AUTO_KEEP_FLOAT: AutoKeepFloat = { auto: true, target: 0.99, maxLayers: 3 };

/**
 * `--keep-float`'s text: "auto", "auto:<target>" (agreement 0…1, e.g. 0.995) or layer names separated by commas.
 * Names are checked against the graph later (keep-float.ts keptNodes), when the layers after fusion are known.
 */
export function parseKeepFloat(text: string): KeepFloat {
  const auto = /^auto(?::(.*))?$/.exec(text.trim());
  if (auto) {
    if (auto[1] === undefined) return AUTO_KEEP_FLOAT;
    const target = Number(auto[1]);
    if (!(auto[1].trim() !== "" && target > 0 && target <= 1)) throw new UsageError(`--keep-float auto:${fileText(auto[1])}: the agreement target must be a number in (0, 1], e.g. auto:0.995`);
    return { ...AUTO_KEEP_FLOAT, target };
  }
  const names = text.split(",").map((n) => n.trim());
  if (names.some((n) => n === "")) throw new UsageError(`--keep-float ${fileText(text)}: expected layer names separated by commas (as kiln inspect shows them), or auto`);
  return names;
}

export function isAutoKeepFloat(keep: KeepFloat | undefined): keep is AutoKeepFloat {
  return keep !== undefined && !Array.isArray(keep) && (keep as AutoKeepFloat).auto === true;
}

function quantizeKeeping(graph: Graph, ranges: Map<string, Range>, input: QuantizeInput, keepFloat: readonly string[]): { quantized: Graph; report?: QuantReport } {
  const quantized = quantizeGraph(graph, ranges, input, keepFloat);
  return { quantized, report: input.report?.(graph, quantized) };
}

/**
 * Quantizes with more layers kept in float until the report's agreement reaches the target: each round keeps the worst
 * layer (the report's own ranking) that can stay float and is not exact already. Returns the last graph and its report.
 */
function quantizeKeepingWorst(graph: Graph, ranges: Map<string, Range>, input: QuantizeInput, auto: AutoKeepFloat): { quantized: Graph; report?: QuantReport } {
  const kept: string[] = [];
  let quantized = quantizeGraph(graph, ranges, input, kept);
  let report = input.report?.(graph, quantized);
  if (!report || report.images === 0) {
    throw new KilnError("--keep-float auto measures top-1 agreement on held-out calibration images, and none are held out (--holdout 0): hold some out");
  }
  while (report.agreement < auto.target && kept.length < auto.maxLayers) {
    const scores = new Map(report.layers.map((l) => [l.name, layerScore(l)]));
    const next = report.worst.find((name) => {
      const node = graph.nodes.find((n) => n.name === name);
      return node && !kept.includes(name) && Number.isFinite(scores.get(name)) && keepFloatProblem(graph, node) === undefined;
    });
    if (!next) break;
    kept.push(next);
    quantized = quantizeGraph(graph, ranges, input, kept);
    report = input.report!(graph, quantized)!;
  }
  const percent = (v: number): string => `${(100 * v).toFixed(1)} %`;
  input.log?.(`--keep-float auto: ${kept.length ? `kept ${kept.join(", ")} in float` : "no layer kept in float"}; top-1 agreement with float ` +
    `${percent(report.agreement)} on ${report.images} held-out images (target ${percent(auto.target)}` +
    `${report.agreement < auto.target ? `, not reached with at most ${auto.maxLayers} layers` : ""})`);
  quantized.meta.keptFloat = kept;
  return { quantized, report };
}

export function quantizePass(input: QuantizeInput): Pass {
  return {
    name: "quantize",
    run(graph) {
      // Before calibrating: calibration is the slow part.
      const auto = isAutoKeepFloat(input.keepFloat) ? input.keepFloat : undefined;
      const keepFloat = auto ? [] : (input.keepFloat as readonly string[] | undefined) ?? [];
      checkInt8Support(graph, keepFloat);
      // A pre-quantized model (ONNX QDQ) carries its own scales and zero points: no calibration, no images.
      const given = givenQuantOf(graph);
      if (given) {
        if (auto) throw new KilnError(`--keep-float auto: ${given.source} fixes every layer's quantization; keeping layers in float needs a model Kiln calibrates itself`);
        input.log?.(`pre-quantized model: using ${given.source}, no calibration`);
        const quantized = quantizeGraph(graph, new Map(), input, keepFloat);
        quantized.meta.calibration = { images: `none (${given.source})`, method: "qdq" };
        return quantized;
      }
      const { ranges, images, method } = input.calibrate(graph);
      const { quantized, report } = auto ? quantizeKeepingWorst(graph, ranges, input, auto) : quantizeKeeping(graph, ranges, input, keepFloat);
      quantized.meta.calibration = { images, method };
      if (report) quantized.meta.quantReport = report;
      return quantized;
    },
  };
}
