// Pass: int8 quantization as a pipeline step, calibrated on the graph it receives (the fused float graph).
import type { Graph } from "../ir.js";
import { fileText, KilnError, quoteName } from "../errors.js";
import { opDef } from "../ops/registry.js";
import type { CalibrationMethod, Range } from "../quant/calibrate.js";
import { quantizeGraph, type InputMapping } from "../quant/quantize.js";
import type { Pass } from "./pipeline.js";

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
}

export function quantizePass(input: QuantizeInput): Pass {
  return {
    name: "quantize",
    run(graph) {
      // Nothing may silently stay in float.
      for (const node of graph.nodes) {
        if (!opDef(node).int8) throw new KilnError(`node ${quoteName(node.name)} (op ${fileText(node.op)}) has no int8 kernel; compile with --quantize none to keep the model in float`);
      }
      const { ranges, images, method } = input.calibrate(graph);
      const quantized = quantizeGraph(graph, ranges, input);
      quantized.meta.calibration = { images, method };
      return quantized;
    },
  };
}
