// The pass pipelines, float and int8: named pure Graph → Graph functions applied in order, each one a `--dump-after` name.
import type { Graph } from "../ir.js";
import { checkGraph } from "../shapes.js";
import { quoteName } from "../errors.js";
import { mergeElementwiseChains } from "./merge-elementwise-chains.js";
import { removeIdentity } from "./remove-identity.js";
import { foldPad } from "./fold-pad.js";
import { foldBatchNorm } from "./fold-batch-norm.js";
import { fuseActivation } from "./fuse-activation.js";
import { fusePool } from "./fuse-pool.js";
import { quantizePass, type QuantizeInput } from "./quantize.js";

export interface Pass {
  name: string;
  run(graph: Graph): Graph;
}

/** Every graph rewrite, the frontends' included: a frontend lowers op by op and leaves merging to these passes. */
export const FLOAT_PIPELINE: readonly Pass[] = [
  { name: "merge-elementwise-chains", run: mergeElementwiseChains },
  { name: "remove-identity", run: removeIdentity },
  { name: "fold-pad", run: foldPad },
  { name: "fold-batch-norm", run: foldBatchNorm },
  { name: "fuse-activation", run: fuseActivation },
];

/**
 * The float passes, then pool fusion (only the int8 conv kernels pool over their accumulators) and quantization,
 * calibrated on the fused graph.
 */
export function INT8_PIPELINE(quantize: QuantizeInput): readonly Pass[] {
  return [...FLOAT_PIPELINE, { name: "fuse-pool", run: fusePool }, quantizePass(quantize)];
}

export interface PipelineOptions {
  /** Runs the consistency check after every pass (tests turn this on). */
  check?: boolean;
  /** Called after each pass, e.g. for `--dump-after`. */
  after?: (pass: string, graph: Graph) => void;
}

export function runPipeline(graph: Graph, passes: readonly Pass[], options: PipelineOptions = {}): Graph {
  let g = graph;
  for (const pass of passes) {
    g = pass.run(g);
    if (options.check) {
      try { checkGraph(g); } catch (e) { throw new Error(`after pass ${quoteName(pass.name)}: ${(e as Error).message}`); }
    }
    options.after?.(pass.name, g);
  }
  return g;
}

export function passNames(passes: readonly Pass[]): string[] {
  return passes.map((p) => p.name);
}
