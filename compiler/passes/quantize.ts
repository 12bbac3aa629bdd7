// Pass: int8 quantization as a pipeline step, calibrated on the graph it receives (the fused float graph).
import type { Graph } from "../ir.js";
import type { CalibrationMethod, Range } from "../quant/calibrate.js";
import { checkInt8Support, quantizeGraph, type InputMapping } from "../quant/quantize.js";
import { givenQuantOf } from "../quant/given.js";
import type { Pass } from "./pipeline.js";
import type { QuantReport } from "../quant/error-report.js";

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
  /** Facts worth telling the user (that a pre-quantized model is not calibrated). */
  log?: (line: string) => void;
}

export function quantizePass(input: QuantizeInput): Pass {
  return {
    name: "quantize",
    run(graph) {
      // Before calibrating: calibration is the slow part.
      checkInt8Support(graph);
      // A pre-quantized model (ONNX QDQ) carries its own scales and zero points: no calibration, no images.
      const given = givenQuantOf(graph);
      if (given) {
        input.log?.(`pre-quantized model: using ${given.source}, no calibration`);
        const quantized = quantizeGraph(graph, new Map(), input);
        quantized.meta.calibration = { images: `none (${given.source})`, method: "qdq" };
        return quantized;
      }
      const { ranges, images, method } = input.calibrate(graph);
      const quantized = quantizeGraph(graph, ranges, input);
      quantized.meta.calibration = { images, method };
      const report = input.report?.(graph, quantized);
      if (report) quantized.meta.quantReport = report;
      return quantized;
    },
  };
}
