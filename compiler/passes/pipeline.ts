// The pass pipeline: named pure Graph → Graph functions, applied in order.
import type { Graph } from "../ir.js";
import { checkGraph } from "../shapes.js";
import { removeIdentity } from "./remove-identity.js";
import { fuseActivation } from "./fuse-activation.js";
import { foldBatchNorm } from "./fold-batch-norm.js";
import { foldPad } from "./fold-pad.js";
import { quoteName } from "../errors.js";

export interface Pass {
  name: string;
  run(graph: Graph): Graph;
}

export const FLOAT_PIPELINE: Pass[] = [
  { name: "remove-identity", run: removeIdentity },
  { name: "fold-pad", run: foldPad },
  { name: "fold-batch-norm", run: foldBatchNorm },
  { name: "fuse-activation", run: fuseActivation },
];

export interface PipelineOptions {
  /** Runs the consistency check after every pass (tests turn this on). */
  check?: boolean;
  /** Called after each pass, e.g. for `--dump-after`. */
  after?: (pass: string, graph: Graph) => void;
}

export function runPipeline(graph: Graph, passes: Pass[], options: PipelineOptions = {}): Graph {
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

export function passNames(passes: Pass[]): string[] {
  return passes.map((p) => p.name);
}
