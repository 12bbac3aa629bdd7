// Helpers for tests/onnx-models.test.ts: ONNX Runtime in batches, blob outputs, int8 error in output steps, an
// initializer read straight from the protobuf (onnx-proto, not Kiln's reader), MNIST pixels as model floats.
import { readFileSync } from "node:fs";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import type { Model } from "../runtime/model.js";
import { seededRandom } from "./seeded-random.js";

const PIXELS = 28 * 28;
/** Images per ONNX Runtime call: a batch of 10k would hold ~0.5 GB of the first conv's output. */
const ORT_BATCH = 500;

/**
 * ONNX Runtime's outputs for `count` NCHW [1, 28, 28] images (the fixtures' dynamic batch axis), concatenated.
 * `literal` turns its graph optimizations off, so a QDQ model runs as the ONNX spec writes it (DequantizeLinear, the
 * float op, QuantizeLinear): optimized, ONNX Runtime fuses the pairs into QLinearConv/QGemm whose uint8 × int8 kernels
 * on x86 without VNNI add pairs of products in int16 (VPMADDUBSW) and saturate with full-range int8 weights (ONNX
 * Runtime's docs: "reduce_range"); on this machine that moved the QDQ fixture's first conv outputs by up to 69 steps.
 */
export async function ortRun(path: string, inputs: Float32Array, count: number, literal = false): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path, {
    logSeverityLevel: 3, intraOpNumThreads: 1, interOpNumThreads: 1, ...(literal ? { graphOptimizationLevel: "disabled" as const } : {}),
  });
  const parts: Float32Array[] = [];
  for (let start = 0; start < count; start += ORT_BATCH) {
    const n = Math.min(ORT_BATCH, count - start);
    const feed = new ort.Tensor("float32", inputs.slice(start * PIXELS, (start + n) * PIXELS), [n, 1, 28, 28]);
    const out = await session.run({ [session.inputNames[0]]: feed });
    parts.push(Float32Array.from(out[session.outputNames[0]].data as Float32Array));
  }
  await session.release();
  const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return all;
}

/** The blob's scores (dequantized for int8) for `count` float images in model units; [1, 28, 28] NCHW = NHWC. */
export function blobScores(blob: Model, inputs: Float32Array, count: number): Float32Array {
  const out = new Float32Array(count * blob.outputSize);
  for (let i = 0; i < count; i++) out.set(blob.predict(inputs.subarray(i * PIXELS, (i + 1) * PIXELS)).scores, i * blob.outputSize);
  return out;
}

/** Pixels as the fixtures were trained on them: pixel / 255 (Kiln's default --pixel-scale 1/255). */
export function pixelsToFloats(pixels: Uint8Array, length: number): Float32Array {
  return Float32Array.from(pixels.subarray(0, length), (p) => p / 255);
}

/** `count` images of uniform random values in [0, 1) from a seeded generator. */
export function randomImages(count: number, size: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: count * size }, () => rand());
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** The int8 blob's output quantization (its manifest). */
export function outputQuant(blob: Model): { scale: number; zeroPoint: number } {
  const { scale, zeroPoint } = blob.info.output;
  if (scale === undefined || zeroPoint === undefined) throw new Error("not an int8 blob: its output has no scale");
  return { scale, zeroPoint };
}

export interface Int8Error {
  /** Largest |int8 score − reference| in output steps (the blob's output scale), the reference clamped to the range the
   * int8 output can hold (a logit beyond the calibrated range saturates: that is int8's range, not its rounding). */
  maxSteps: number;
  /** The 99th percentile of the same errors. */
  p99Steps: number;
  /** Outputs whose reference lay outside the int8 output's range. */
  saturated: number;
  /** Outputs within half a step of the reference (on the same step). */
  exact: number;
  /** Share of images whose top-1 is the reference's. */
  agreement: number;
  count: number;
}

/** The int8 blob on `count` digits (uint8 pixels, the way `kiln run` feeds them) against reference scores. */
export function int8Error(reference: Float32Array, blob: Model, pixels: Uint8Array, count: number): Int8Error {
  const classes = blob.outputSize;
  const { scale, zeroPoint } = outputQuant(blob);
  const lo = (-128 - zeroPoint) * scale, hi = (127 - zeroPoint) * scale;
  const errors = new Float64Array(count * classes);
  let saturated = 0, exact = 0, agree = 0;
  for (let i = 0; i < count; i++) {
    const { scores, index } = blob.predict(pixels.subarray(i * PIXELS, (i + 1) * PIXELS));
    const r = reference.subarray(i * classes, (i + 1) * classes);
    for (let j = 0; j < classes; j++) {
      if (r[j] < lo || r[j] > hi) saturated++;
      const steps = Math.abs(scores[j] - Math.min(hi, Math.max(lo, r[j]))) / scale;
      errors[i * classes + j] = steps;
      // Half a step of slack: both sides hold a grid value s · (q − zp), computed in different orders.
      if (steps < 0.5) exact++;
    }
    if (index === argmax(r)) agree++;
  }
  errors.sort();
  const n = errors.length;
  return { maxSteps: errors[n - 1], p99Steps: errors[Math.floor(0.99 * (n - 1))], saturated, exact: exact / n, agreement: agree / count, count };
}

/** A float initializer's values, decoded from the .onnx file with onnx-proto (independent of Kiln's reader). */
export function floatInitializer(path: string, name: string): Float32Array {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(path));
  const init = model.graph?.initializer?.find((t) => t.name === name);
  if (!init) throw new Error(`${path} has no initializer ${name}`);
  if (init.rawData && init.rawData.length > 0) {
    const raw = init.rawData;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  }
  return Float32Array.from(init.floatData ?? []);
}

export interface FixtureResult { file: string; floatDiff?: number; int8?: Int8Error }

/** The measured numbers as a Markdown table (printed by the test, copied into models/onnx/README.md). */
export function describeResults(results: FixtureResult[]): string {
  const rows = results.map(({ file, floatDiff, int8 }) => `| ${file} | ${floatDiff === undefined ? "–" : floatDiff.toExponential(1)} | ` +
    (int8 ? `${int8.maxSteps.toFixed(2)} | ${int8.p99Steps.toFixed(2)} | ${(100 * int8.exact).toFixed(1)} % | ${int8.saturated} | ${(100 * int8.agreement).toFixed(1)} % of ${int8.count} |` : "– | – | – | – | – |"));
  return ["| fixture | float: max \\|diff\\| vs ORT | int8: max error (output steps) | 99th percentile | on ORT's step | saturated outputs | top-1 = ORT |",
    "|---|---|---|---|---|---|---|", ...rows].join("\n");
}
