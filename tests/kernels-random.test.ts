// Random-shape conv/dense/pool layers in int8: simd blob = scalar blob = int8 reference, bit for bit.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { saveToTemp, seededRandom, useCpuBackend } from "./helpers.js";
import { runInt8Everywhere } from "./int8-harness.js";

interface RandomCase {
  label: string;
  shape: [number, number, number];
  layers: tf.layers.Layer[];
}

/** Edge cases on purpose: odd channel counts, channels not a multiple of 4/8/16, stride 2, 1×1 and 5×5 kernels. */
function randomCase(seed: number): RandomCase {
  const rand = seededRandom(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const kernel = pick([1, 3, 5]);
  const stride = pick([1, 2]);
  const padding = pick(["same", "valid"] as const);
  const h = kernel + Math.floor(rand() * 9), w = kernel + Math.floor(rand() * 9);
  const c = pick([1, 2, 3, 5, 7, 8, 13, 16, 17]);
  const filters = pick([1, 3, 4, 5, 9, 16, 19]);
  const activation = pick(["linear", "relu", "relu6"] as const);
  const pool = pick(["none", "max", "avg"] as const);
  const init = { kernelInitializer: tf.initializers.randomNormal({ stddev: 0.4, seed }), biasInitializer: tf.initializers.randomNormal({ stddev: 0.4, seed: seed + 1 }) };
  const layers: tf.layers.Layer[] = [tf.layers.conv2d({ filters, kernelSize: kernel, strides: stride, padding, activation, ...init })];
  const convH = padding === "same" ? Math.ceil(h / stride) : Math.floor((h - kernel) / stride) + 1;
  const convW = padding === "same" ? Math.ceil(w / stride) : Math.floor((w - kernel) / stride) + 1;
  const poolPadding = pick(["same", "valid"] as const);
  if (pool !== "none" && (poolPadding === "same" || Math.min(convH, convW) >= 2)) {
    const args = { poolSize: 2, strides: pick([1, 2]), padding: poolPadding };
    layers.push(pool === "max" ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args));
  }
  if (rand() < 0.5) layers.push(tf.layers.flatten(), tf.layers.dense({ units: pick([1, 3, 10, 17]), activation: pick(["linear", "relu"]), ...init }));
  const label = `${h}×${w}×${c} conv${kernel}×${kernel}/${stride} ${padding} →${filters} ${activation}` +
    `${layers.length > 1 && pool !== "none" ? ` +${pool}pool` : ""}${layers.some((l) => l.getClassName() === "Dense") ? " +dense" : ""}`;
  return { label, shape: [h, w, c], layers };
}

const CASES = Array.from({ length: 14 }, (_v, i) => randomCase(1000 + i));

beforeAll(useCpuBackend);

describe.each(CASES)("random layer $label", (rc) => {
  it("simd = scalar = int8 reference", async () => {
    const model = tf.sequential();
    model.add(tf.layers.inputLayer({ inputShape: rc.shape }));
    rc.layers.forEach((l) => model.add(l));
    const run = await runInt8Everywhere(model, await saveToTemp(model), rc.shape, 16, 6);
    run.reference.forEach((ref, i) => {
      expect(Array.from(run.simd[i])).toEqual(Array.from(ref));
      expect(Array.from(run.scalar[i])).toEqual(Array.from(ref));
    });
  });
});
