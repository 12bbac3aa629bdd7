// The runtime API and `kiln profile`: browser-safe imports, per-layer timing that adds up, JSON/CSV output.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileFile, DEFAULT_COMPILE_OPTIONS } from "../compiler/compile.js";
import { calibrationImages } from "../bin/calibration.js";
import { Model } from "../runtime/model.js";
import { profileModel } from "../runtime/profile.js";
import { tempDir } from "./helpers.js";

const ROOT = resolve(import.meta.dirname, "..");
const MODEL = join(ROOT, "models", "mnist-cnn", "model.json");
let blobPath: string;
let model: Model;

beforeAll(async () => {
  const compiled = await compileFile(MODEL, { ...DEFAULT_COMPILE_OPTIONS, calibration: calibrationImages() });
  blobPath = join(tempDir(), "mnist.wasm");
  writeFileSync(blobPath, compiled.wasm);
  model = await Model.load(compiled.wasm);
});

/** Every module the runtime core reaches, following relative imports from its entry points. */
function importGraph(entries: string[]): { file: string; specifier: string }[] {
  const seen = new Set<string>(), found: { file: string; specifier: string }[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
      const specifier = m[1] ?? m[2];
      found.push({ file, specifier });
      if (specifier.startsWith(".")) visit(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
    }
  };
  entries.forEach((e) => visit(join(ROOT, e)));
  return found;
}

describe("runtime core", () => {
  it("imports no Node-only module, directly or indirectly", () => {
    const imports = importGraph(["runtime/model.ts", "runtime/profile.ts", "runtime/manifest.ts"]);
    expect(imports.length).toBeGreaterThan(0);
    const nodeOnly = imports.filter(({ specifier }) => specifier.startsWith("node:") || builtinModules.includes(specifier.split("/")[0]));
    expect(nodeOnly).toEqual([]);
    expect(imports.every(({ specifier }) => specifier.startsWith("."))).toBe(true);
  });

  it("the checker itself notices a Node import (runtime/worker-model.ts has some)", () => {
    expect(importGraph(["runtime/worker-model.ts"]).some(({ specifier }) => specifier.startsWith("node:"))).toBe(true);
  });

  it("run() can be repeated on an input written once (the input buffer is never reused)", async () => {
    const float = await Model.load((await compileFile(MODEL, { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" })).wasm);
    for (const blob of [model, float]) {
      blob.setInput(Uint8Array.from({ length: blob.inputSize }, (_v, i) => (i * 37) % 256));
      blob.exports.run();
      const first = Array.from(blob.rawOutput());
      blob.exports.run();
      expect(Array.from(blob.rawOutput())).toEqual(first);
    }
  });

  it("rejects bytes that are not a Kiln blob with a clear error", async () => {
    await expect(Model.load(new Uint8Array([1, 2, 3]))).rejects.toThrow(/not a valid WebAssembly module/);
    const noManifest = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    await expect(Model.load(noManifest)).rejects.toThrow(/kiln\.manifest/);
  });
});

describe("profileModel", () => {
  it("times every layer, and the per-layer p50s add up to the end-to-end p50 within 15 %", { retry: 2 }, () => {
    const p = profileModel(model, { runs: 300, warmup: 30 });
    expect(p.layers.map((l) => l.name)).toEqual(model.info.layers.map((l) => l.name));
    expect(p.layers.every((l) => l.p50Us > 0 && l.p90Us >= l.p50Us)).toBe(true);
    expect(Math.abs(p.layerSumP50Us - p.endToEnd.p50Us) / p.endToEnd.p50Us).toBeLessThanOrEqual(0.15);
    expect(p.layers.reduce((a, l) => a + l.share, 0)).toBeCloseTo(1, 6);
  });
});

describe("kiln profile", () => {
  const kiln = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "dist/bin/kiln.js"), ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });

  it("--json prints one object with the documented fields and nothing else", () => {
    const r = kiln("profile", blobPath, "--runs", "20", "--warmup", "2", "--json");
    expect(r.status).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.layers).toHaveLength(model.info.layers.length);
    for (const key of ["name", "ops", "outputShape", "macs", "weightBytes", "p50Us", "p90Us", "share", "gmacPerSecond"]) expect(p.layers[0]).toHaveProperty(key);
    expect(p.endToEnd.p50Us).toBeGreaterThan(0);
    expect(typeof p.gap).toBe("number");
  });

  it("--csv has a header and one row per layer", () => {
    const r = kiln("profile", blobPath, "--runs", "10", "--csv");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0].split(",")).toContain("p50_us");
    expect(lines).toHaveLength(1 + model.info.layers.length);
  });

  it("the table names every layer and the end-to-end time, without colour codes when NO_COLOR is set", () => {
    const r = kiln("profile", blobPath, "--runs", "10");
    expect(r.status).toBe(0);
    for (const l of model.info.layers) expect(r.stdout).toContain(l.name);
    expect(r.stdout).toMatch(/end to end\s+p50/);
    expect(r.stdout).not.toMatch(/\x1b\[/);
  });

  it.each([["--runs", "0"], ["--json", "--csv"], ["--bogus"]])("bad usage %s exits 2 with one line", (...args) => {
    const r = kiln("profile", blobPath, ...args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
