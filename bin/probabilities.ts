// A blob's scores as probabilities, for `kiln run` and the page alike: the softmax, unless the model ends in one.
import type { Manifest } from "../runtime/manifest.js";

/** Whether the model's last layer is a softmax: then its outputs are probabilities already. */
export function endsInSoftmax(info: Manifest): boolean {
  const last = info.layers[info.layers.length - 1];
  return Boolean(last && (last.op === "softmax" || last.fused.includes("softmax")));
}

/** Softmax of the scores, in float64 and shifted by the maximum so that large logits do not overflow. */
export function softmax(scores: ArrayLike<number>): number[] {
  const values = Array.from(scores);
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** The probabilities of a blob's scores: as they are after a softmax layer, else their softmax. */
export function probabilitiesOf(info: Manifest, scores: ArrayLike<number>): number[] {
  return endsInSoftmax(info) ? Array.from(scores) : softmax(scores);
}
