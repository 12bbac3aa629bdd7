// `kiln demo` (npm start): compile the bundled MNIST model and classify the bundled sample digits.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileFile } from "../../compiler/compile.js";
import { packageRoot } from "../../runtime/package-root.js";
import { Model } from "../../runtime/model.js";
import { loadImages } from "../../io/images.js";
import { WorkerModel } from "../../runtime/worker-model.js";
import type { ProfileResult } from "../../runtime/profile.js";
import { defineCommand, parseArgs } from "../args.js";
import { formatBytes, type Io } from "../io.js";
import { profileTable } from "./profile.js";
import { useColor } from "../table.js";
import { calibrationImages } from "../calibration.js";

export const demoSpec = defineCommand({
  name: "demo",
  summary: "compile models/mnist-cnn and classify its sample digits",
  usage: "kiln demo",
  options: {
    target: { type: "string", choices: ["simd", "scalar"], description: "kernel flavour", default: "simd" },
  },
});

const SHADES = " .:-=+*#%@";

/** A 28×28 digit as 14 text rows: each character covers two pixels vertically. */
export function asciiDigit(pixels: Uint8Array, height: number, width: number): string[] {
  const rows: string[] = [];
  for (let y = 0; y < height; y += 2) {
    let row = "";
    for (let x = 0; x < width; x++) {
      const v = Math.max(pixels[y * width + x], y + 1 < height ? pixels[(y + 1) * width + x] : 0);
      row += SHADES[Math.min(SHADES.length - 1, Math.floor((v / 256) * SHADES.length))];
    }
    rows.push(row);
  }
  return rows;
}

export async function demoCommand(argv: string[], io: Io): Promise<void> {
  const { options } = parseArgs(demoSpec, argv);
  const root = packageRoot();
  const modelDir = join(root, "models", "mnist-cnn");
  const started = performance.now();
  const compiled = await compileFile(join(modelDir, "model.json"), {
    quantize: "int8", target: options.target, pixelScale: 1 / 255, pixelOffset: 0, calibration: calibrationImages(), log: (l) => io.out(l),
  });
  const outDir = join(root, "dist", "demo");
  mkdirSync(outDir, { recursive: true });
  const blobPath = join(outDir, "mnist-cnn.wasm");
  writeFileSync(blobPath, compiled.wasm);
  const s = compiled.sizes;
  io.out(`Compiled models/mnist-cnn/model.json to int8 → ${blobPath} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  io.out(`  ${formatBytes(s.total)} total: weights ${formatBytes(s.weights)}, code ${formatBytes(s.code)}, manifest ${formatBytes(s.manifest)}; arena ${formatBytes(compiled.manifest.arenaBytes)}`);
  io.out("");
  const model = await Model.load(compiled.wasm);
  const samples = join(modelDir, "samples");
  const files = readdirSync(samples).filter((f) => f.endsWith(".png")).sort();
  for (const file of files) {
    const img = loadImages(join(samples, file), 28, 28, 1);
    const t0 = performance.now();
    const p = model.predict(img.pixels);
    const us = (performance.now() - t0) * 1000;
    const art = asciiDigit(img.pixels, 28, 28);
    const best = p.scores[p.index];
    const notes = [`${file}`, "", `  predicted: ${p.label}`, `  logit:     ${best.toFixed(2)}`, `  first run: ${us.toFixed(0)} µs (int8, ${compiled.manifest.target})`];
    art.forEach((row, i) => io.out(`  ${row}  ${notes[i - 4] ?? ""}`));
  }
  io.out("");
  io.out("First runs: each digit ran once, right after compiling, before V8 had optimised the blob's code.");
  const steady = await steadyProfile(compiled.wasm);
  io.out(`Per-layer profile on this machine, steady state (a fresh worker, timings stable after ${steady.rounds} rounds; as kiln profile):`);
  profileTable(steady.profile, useColor()).forEach((l) => io.out("  " + l));
}

/** Rounds of runs until two in a row agree on the end-to-end median within this share. */
const STABLE_WITHIN = 0.05;
const MAX_ROUNDS = 12;

/**
 * The profile once V8 has optimised the blob: on a fresh worker (as `kiln profile` runs it, away from the compiler's
 * leftovers in this process), rounds of 50 runs until the end-to-end median stops moving, then 200 timed runs.
 * Right after compiling, V8 still runs its baseline code for the blob, several times slower.
 */
export async function steadyProfile(wasm: Uint8Array): Promise<{ profile: ProfileResult; rounds: number }> {
  const model = await WorkerModel.load(wasm);
  try {
    let previous = Infinity, rounds = 0;
    while (rounds < MAX_ROUNDS) {
      const p50 = (await model.profile({ runs: 50, warmup: 0 })).endToEnd.p50Us;
      rounds++;
      if (Math.abs(p50 - previous) <= STABLE_WITHIN * Math.min(p50, previous)) break;
      previous = p50;
    }
    return { profile: await model.profile({ runs: 200, warmup: 20 }), rounds };
  } finally {
    await model.close();
  }
}
