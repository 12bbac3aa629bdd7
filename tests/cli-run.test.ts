// kiln run as people read it (issue 16): what was done to each image, and --top K as a table of labels and probabilities
// checked against the Node runtime's scores for the same pixels; the demo's steady-state profile.
import { describe, expect, it, beforeAll } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { compileFile } from "../compiler/compile.js";
import { decodeImage, describeConversion, toModelInput } from "../io/images.js";
import { Model } from "../runtime/model.js";
import { steadyProfile } from "../bin/commands/demo.js";
import { ROOT, CLI } from "./device-helpers.js";
import { saveToTemp, tempDir } from "./helpers.js";

const { PNG } = createRequire(import.meta.url)("pngjs") as typeof import("pngjs");

type Rgba = [number, number, number, number?];

/** A PNG of `width`×`height` whose pixel (x, y) is `colour(x, y)` (alpha 255 unless given). */
function png(width: number, height: number, colour: (x: number, y: number) => Rgba): Uint8Array {
  const image = new PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const [r, g, b, a = 255] = colour(x, y);
    image.data.set([r, g, b, a], 4 * (y * width + x));
  }
  return new Uint8Array(PNG.sync.write(image));
}

/** A vertical bar: a "1" whatever the size. */
const bar = (width: number, height: number, on: Rgba, off: Rgba) => (x: number, y: number): Rgba =>
  (Math.abs(x - width / 2) < width / 20 + 1 && y > height / 8 && y < (7 * height) / 8 ? on : off);

function kiln(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, KILN_DEBUG: "", NO_COLOR: "1" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Softmax in float64, written out here as the reference. */
function probabilities(scores: Float32Array): number[] {
  const max = Math.max(...scores);
  const e = Array.from(scores, (s) => Math.exp(s - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

let dir: string, blobPath: string, model: Model;
const images: Record<string, { file: string; conversion: string }> = {};

beforeAll(async () => {
  dir = tempDir("kiln-cli-run-");
  // Float: the scores are the model's logits (no softmax layer), so kiln run computes the probabilities.
  const compiled = await compileFile(join(ROOT, "models", "mnist-cnn", "model.json"), { quantize: "none", target: "simd", pixelScale: 1 / 255, pixelOffset: 0 });
  blobPath = join(dir, "mnist-float.wasm");
  writeFileSync(blobPath, compiled.wasm);
  model = await Model.load(compiled.wasm);
  const add = (name: string, bytes: Uint8Array, conversion: string): void => {
    writeFileSync(join(dir, name), bytes);
    images[name] = { file: join(dir, name), conversion };
  };
  // The expected descriptions are written by hand from how each file was made.
  add("wide-rgb.png", png(300, 200, bar(300, 200, [255, 255, 255], [0, 0, 60])), "300×200 RGB → 28×28 grey, stretched");
  add("alpha.png", png(280, 280, bar(280, 280, [255, 255, 255, 255], [90, 90, 90, 0])), "280×280 grey+alpha → 28×28 grey, scaled down, transparency as black");
  add("small.png", png(14, 14, bar(14, 14, [200, 200, 200], [0, 0, 0])), "14×14 grey → 28×28 grey, scaled up");
  add("exact.png", png(28, 28, bar(28, 28, [255, 255, 255], [0, 0, 0])), "28×28 grey, as is");
  add("tinted.png", png(28, 28, bar(28, 28, [255, 200, 255], [0, 0, 0])), "28×28 RGB → 28×28 grey");
});

describe("kiln run says what it did to each image", () => {
  it("names the size and colour before and after, and how the shape changed", () => {
    const names = Object.keys(images);
    const r = kiln("run", blobPath, ...names.map((n) => images[n].file));
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(names.length);
    names.forEach((name, i) => {
      const pixels = toModelInput(decodeImage(new Uint8Array(readFileSync(images[name].file)), name), 28, 28, 1);
      expect(lines[i]).toBe(`${name}: ${model.predict(pixels).label}   (${images[name].conversion})`);
    });
  });

  it("describeConversion on hand-made images", () => {
    const img = (width: number, height: number, grey: boolean, transparent = false) => ({
      width, height, channels: 3, transparent, pixels: Uint8Array.from({ length: width * height * 3 }, (_, i) => (grey ? 7 : i % 3 === 0 ? 9 : 7)),
    });
    expect(describeConversion(img(300, 200, false), 28, 28, 1)).toBe("300×200 RGB → 28×28 grey, stretched");
    expect(describeConversion(img(64, 32, true), 16, 32, 3)).toBe("64×32 grey → 32×16 RGB, scaled down");
    expect(describeConversion(img(32, 32, false), 32, 32, 3)).toBe("32×32 RGB, as is");
    expect(describeConversion(img(10, 10, true, true), 10, 10, 1)).toBe("10×10 grey+alpha → 10×10 grey, transparency as black");
  });

  it("raw .u8 input has nothing to describe", () => {
    writeFileSync(join(dir, "two.u8"), new Uint8Array(2 * 784).fill(3));
    const r = kiln("run", blobPath, "-i", join(dir, "two.u8"));
    expect(r.stdout.trimEnd().split("\n")).toEqual([`two.u8#0: ${model.predict(new Uint8Array(784).fill(3)).label}`, `two.u8#1: ${model.predict(new Uint8Array(784).fill(3)).label}`]);
  });
});

describe("kiln run --top K", () => {
  it("prints a header, then the K most likely labels with probabilities (softmax of the logits) and the logits", () => {
    const { file, conversion } = images["wide-rgb.png"];
    const pixels = toModelInput(decodeImage(new Uint8Array(readFileSync(file)), file), 28, 28, 1);
    const p = model.predict(pixels);
    const probs = probabilities(p.scores);
    const order = Array.from(p.scores.keys()).sort((a, b) => p.scores[b] - p.scores[a]).slice(0, 4);
    const r = kiln("run", blobPath, "-i", file, "--top", "4");
    expect(r.status, r.stderr).toBe(0);
    const [first, header, ...rows] = r.stdout.trimEnd().split("\n");
    expect(first).toBe(`wide-rgb.png: ${p.label}   (${conversion})`);
    expect(header.trim().split(/\s+/)).toEqual(["label", "probability", "logit"]);
    expect(rows).toHaveLength(4);
    rows.forEach((row, i) => {
      const [label, probability, logit] = row.trim().split(/\s+/);
      expect(label).toBe(String(order[i]));
      expect(Math.abs(Number(probability) - probs[order[i]])).toBeLessThanOrEqual(Math.max(5e-5, 0.05 * probs[order[i]]));
      expect(Math.abs(Number(logit) - p.scores[order[i]])).toBeLessThanOrEqual(5e-4);
    });
    const json = JSON.parse(kiln("run", blobPath, "-i", file, "--top", "2", "--json").stdout) as { prepared: string; top: { label: string; probability: number }[] };
    expect(json.prepared).toBe(conversion);
    expect(json.top.map((t) => t.label)).toEqual(order.slice(0, 2).map(String));
    json.top.forEach((t, i) => expect(t.probability).toBeCloseTo(probs[order[i]], 6));
  });

  it("a model ending in softmax: its outputs are the probabilities, shown without a logit column", async () => {
    await tf.setBackend("cpu");
    const m = tf.sequential({ layers: [
      tf.layers.flatten({ inputShape: [4, 4, 1] }),
      tf.layers.dense({ units: 3, activation: "softmax", kernelInitializer: tf.initializers.randomNormal({ seed: 5 }) }),
    ] });
    const compiled = await compileFile(await saveToTemp(m), { quantize: "none", target: "simd", pixelScale: 1 / 255, pixelOffset: 0 });
    const path = join(dir, "softmax.wasm");
    writeFileSync(path, compiled.wasm);
    const pixels = Uint8Array.from({ length: 16 }, (_, i) => i * 16);
    writeFileSync(join(dir, "in.u8"), pixels);
    const scores = (await Model.load(compiled.wasm)).predict(pixels).scores;
    const r = kiln("run", path, "-i", join(dir, "in.u8"), "--top", "3");
    expect(r.status, r.stderr).toBe(0);
    const [, header, ...rows] = r.stdout.trimEnd().split("\n");
    expect(header.trim().split(/\s+/)).toEqual(["label", "probability"]);
    const order = [0, 1, 2].sort((a, b) => scores[b] - scores[a]);
    const cells = rows.map((row) => row.trim().split(/\s+/));
    expect(cells.map((c) => c[0])).toEqual(order.map(String));
    cells.forEach((c, i) => expect(Math.abs(Number(c[1]) - scores[order[i]])).toBeLessThanOrEqual(5e-5));
  });
});

describe("the demo's profile", () => {
  it("runs rounds until the end-to-end median is stable, then 200 timed runs of every layer", async () => {
    const { profile, rounds } = await steadyProfile(new Uint8Array(readFileSync(blobPath)));
    expect(rounds).toBeGreaterThanOrEqual(2);
    expect(rounds).toBeLessThanOrEqual(12);
    expect(profile.runs).toBe(200);
    expect(profile.layers.map((l) => l.name)).toEqual(model.info.layers.map((l) => l.name));
  });
});
