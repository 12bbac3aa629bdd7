// Kiln's per-layer profile of a blob, summed per layer type (op and kernel), with each type's rate against the dot peak.
import type { Model } from "../../runtime/model.js";
import type { LayerProfile } from "../../runtime/profile.js";

export interface LayerTypeRow {
  /** e.g. "depthwise_conv2d 3×3/2 · depthwise3x3_i8". */
  type: string;
  layers: number;
  macs: number;
  /** Sum of the layers' p50s. */
  p50Us: number;
  /** Share of the summed per-layer p50s, 0..1. */
  share: number;
  gmacPerSecond: number;
  /** gmacPerSecond over the measured int8 dot peak (int8 blobs only). */
  shareOfPeak?: number;
}

export interface LayerTypeSummary {
  blob: string;
  runs: number;
  rows: LayerTypeRow[];
  /** Sum of every layer's p50, and run()'s p50 timed in the same loop. */
  layerSumUs: number;
  endToEndUs: number;
}

/** Ops that ride along in a layer without changing what kind of layer it is. */
const PASSENGERS = new Set(["pad", "batch_norm", "relu", "relu6", "leaky_relu", "sigmoid", "tanh"]);
const HELPER_KERNELS = new Set(["pad_i8", "pad_f32"]);

/**
 * A layer's type: its main op, the stride when it downsamples (output smaller than the previous layer's, for convs
 * without a fused pool), and the kernel that runs it. Strides are inferred from the layer order, which is exact for
 * the bench's 'same'-padded chains (every conv reads the previous layer's output or a tensor of the same size).
 */
function layerType(layer: LayerProfile, previousShape: number[] | undefined): string {
  const ops = layer.ops.split("+").filter((op) => !PASSENGERS.has(op));
  const main = ops.join("+") || layer.ops;
  const kernel = layer.kernel.split("+").filter((k) => !HELPER_KERNELS.has(k)).join("+") || "-";
  let stride = "";
  // A fused pool shrinks the output too: only a bare conv's size ratio is its stride.
  if (/conv/.test(main) && !/pool/.test(main) && previousShape?.length === 4 && layer.outputShape.length === 4) {
    const s = Math.round(previousShape[1] / layer.outputShape[1]);
    if (s > 1) stride = ` /${s}`;
  }
  return `${main}${stride} · ${kernel}`;
}

/** Profiles `model` (budget-limited, so a big model takes a few seconds at most) and groups its layers by type. */
export function layerTypeSummary(blob: string, model: Model, peakGmacPerSecond: number | undefined, options: { warmup: number; budgetMs: number }): LayerTypeSummary {
  const profile = model.profile({ runs: 100, ...options });
  const groups = new Map<string, LayerTypeRow>();
  profile.layers.forEach((layer, i) => {
    const type = layerType(layer, i > 0 ? profile.layers[i - 1].outputShape : model.info.input.shape);
    const row = groups.get(type) ?? { type, layers: 0, macs: 0, p50Us: 0, share: 0, gmacPerSecond: 0 };
    row.layers++;
    row.macs += layer.macs;
    row.p50Us += layer.p50Us;
    groups.set(type, row);
  });
  const rows = [...groups.values()].sort((a, b) => b.p50Us - a.p50Us);
  for (const row of rows) {
    row.share = profile.layerSumP50Us > 0 ? row.p50Us / profile.layerSumP50Us : 0;
    row.gmacPerSecond = row.p50Us > 0 ? row.macs / row.p50Us / 1000 : 0;
    if (peakGmacPerSecond !== undefined && row.macs > 0) row.shareOfPeak = row.gmacPerSecond / peakGmacPerSecond;
  }
  return { blob, runs: profile.runs, rows, layerSumUs: profile.layerSumP50Us, endToEndUs: profile.endToEnd.p50Us };
}
