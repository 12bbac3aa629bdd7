// Drives the built `kiln` CLI as a user would: exit codes, one-line error messages, help, and run/inspect output.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { saveLayersModel } from "../models/save-model.js";
import { encodeGrayPng } from "../io/images.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "bin", "kiln.js");

interface Result { status: number | null; stdout: string; stderr: string }

function kiln(...args: string[]): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, KILN_DEBUG: "" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user-facing error: exactly one line on stderr and no stack frames. */
function expectOneLineError(r: Result, code: number): string {
  expect(r.status, `stderr: ${r.stderr}`).toBe(code);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return lines[0];
}

let dir: string;
let model: tf.Sequential;
const dirOf = (name: string): string => join(dir, name);

/** 8×8×1 → conv(4, 3×3, relu) → flatten → dense(3): compiles in well under a second. */
function smallModel(denseActivation: "linear" | "elu" = "linear", extra?: tf.layers.Layer): tf.Sequential {
  const m = tf.sequential({ name: "small" });
  m.add(tf.layers.conv2d({ name: "conv", inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: "relu" }));
  if (extra) m.add(extra);
  m.add(tf.layers.flatten({ name: "flat" }));
  m.add(tf.layers.dense({ name: "logits", units: 3, activation: denseActivation }));
  return m;
}

beforeAll(async () => {
  await tf.setBackend("cpu");
  dir = mkdtempSync(join(tmpdir(), "kiln-cli-"));
  model = smallModel();
  await saveLayersModel(model, dirOf("good"));
  await saveLayersModel(smallModel(), dirOf("noshard"));
  unlinkSync(join(dirOf("noshard"), "group1-shard1of1.bin"));
  await saveLayersModel(smallModel(), dirOf("short"));
  const shard = join(dirOf("short"), "group1-shard1of1.bin");
  truncateSync(shard, Math.floor(statSync(shard).size / 2));
  await saveLayersModel(smallModel("linear", tf.layers.upSampling2d({ size: [2, 2], name: "up" })), dirOf("up"));
  await saveLayersModel(smallModel("elu"), dirOf("elu"));
  writeFileSync(join(dir, "notjson.json"), "this is { not json");
  // Float blob: its scores are compared with TF.js to 1e-4 below (int8 would not be that close).
  const compiled = kiln("compile", join(dirOf("good"), "model.json"), "--quantize", "none", "-o", join(dir, "x.wasm"));
  expect(compiled.status, compiled.stderr).toBe(0);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("kiln compile: model file errors", () => {
  it("reports a missing model.json in one line", () => {
    const missing = join(dir, "nowhere", "model.json");
    const line = expectOneLineError(kiln("compile", missing), 1);
    expect(line).toContain(missing);
    expect(line).toContain("not found");
  });

  it("reports a file that is not JSON", () => {
    const file = join(dir, "notjson.json");
    const line = expectOneLineError(kiln("compile", file), 1);
    expect(line).toContain(file);
    expect(line).toContain("not valid JSON");
  });

  it("names a deleted weight shard", () => {
    const line = expectOneLineError(kiln("compile", join(dirOf("noshard"), "model.json")), 1);
    expect(line).toContain("group1-shard1of1.bin");
  });

  it("says the weights are short when the shard is truncated", () => {
    const line = expectOneLineError(kiln("compile", join(dirOf("short"), "model.json")), 1);
    expect(line).toContain("short or missing");
  });

  it("names an unsupported layer, its class, and the supported layers (UpSampling2D)", () => {
    const line = expectOneLineError(kiln("compile", join(dirOf("up"), "model.json")), 1);
    expect(line).toContain("'up'");
    expect(line).toContain("UpSampling2D");
    const supported = line.slice(line.indexOf("supported layers:"));
    expect(line).toContain("supported layers:");
    expect(supported).toContain("Conv2D");
    expect(supported).toContain("Dense");
  });

  it("names an unsupported layer edited into the JSON (LSTM)", () => {
    const json = JSON.parse(readFileSync(join(dirOf("good"), "model.json"), "utf8"));
    const layers = json.modelTopology.config.layers as { class_name: string; config: { name: string } }[];
    const flat = layers.find((l) => l.config.name === "flat");
    expect(flat).toBeDefined();
    flat!.class_name = "LSTM";
    flat!.config.name = "my_lstm";
    const file = join(dirOf("good"), "lstm.json");
    writeFileSync(file, JSON.stringify(json));
    const line = expectOneLineError(kiln("compile", file), 1);
    expect(line).toContain("my_lstm");
    expect(line).toContain("LSTM");
    expect(line).toMatch(/supported layers:.*Conv2D.*Dense/);
  });

  it("exits at once when compiling fails after the build worker started (int8 without calibration images)", () => {
    // The worker starts loading the toolchain as compileGraph begins; an idle worker must not hold the process.
    const args = [CLI, "compile", join(dirOf("good"), "model.json"), "-o", join(dir, "never.wasm")];
    const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, KILN_DEBUG: "" } });
    expect(r.signal, "kiln compile hung after its error").toBeNull();
    expect(expectOneLineError({ status: r.status, stdout: r.stdout, stderr: r.stderr }, 1)).toContain("--calibration");
  });

  it("names the layer and the activation when the activation is unsupported", () => {
    const line = expectOneLineError(kiln("compile", join(dirOf("elu"), "model.json")), 1);
    expect(line).toContain("logits");
    expect(line).toContain("elu");
  });
});

describe("kiln: usage errors exit 2", () => {
  it("rejects an unknown option", () => {
    const line = expectOneLineError(kiln("compile", join(dirOf("good"), "model.json"), "--frobnicate"), 2);
    expect(line).toContain("--frobnicate");
  });

  it("rejects a missing positional", () => {
    expectOneLineError(kiln("compile"), 2);
    expectOneLineError(kiln("inspect"), 2);
    expectOneLineError(kiln("run", join(dir, "x.wasm")), 2);
  });

  it("rejects a --quantize value outside its choices", () => {
    const line = expectOneLineError(kiln("compile", join(dirOf("good"), "model.json"), "--quantize", "bogus"), 2);
    expect(line).toContain("bogus");
  });

  it("rejects an unknown command", () => {
    const line = expectOneLineError(kiln("transmogrify"), 2);
    expect(line).toContain("transmogrify");
  });
});

describe("kiln --help", () => {
  it("kiln --help exits 0 and lists the commands", () => {
    const r = kiln("--help");
    expect(r.status).toBe(0);
    for (const cmd of ["compile", "run", "inspect"]) expect(r.stdout).toContain(cmd);
  });

  it("kiln compile --help exits 0 and lists every option with its default", () => {
    const r = kiln("compile", "--help");
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n").slice(r.stdout.split("\n").indexOf("options:"));
    expect(lines.length).toBeGreaterThan(1);
    for (const opt of ["--output", "--quantize", "--target", "--pixel-scale", "--pixel-offset"]) {
      const line = lines.find((l) => l.includes(opt));
      expect(line, `help line for ${opt}`).toBeDefined();
      expect(line).toContain("default");
    }
  });
});

describe("kiln run", () => {
  it("rejects a .u8 input of the wrong size, naming the file", () => {
    const file = join(dir, "odd.u8");
    writeFileSync(file, new Uint8Array(8 * 8 + 1));
    const line = expectOneLineError(kiln("run", join(dir, "x.wasm"), "--input", file), 1);
    expect(line).toContain(file);
  });

  it("classifies PNGs and --json prints one object per image matching TF.js", () => {
    const images = [0, 1].map((k) => Uint8Array.from({ length: 64 }, (_, i) => (i * (37 + 50 * k) + 11 * k) % 256));
    const files = images.map((px, k) => {
      const f = join(dir, `img${k}.png`);
      writeFileSync(f, encodeGrayPng(px, 8, 8));
      return f;
    });
    const plain = kiln("run", join(dir, "x.wasm"), "--input", files[0]);
    expect(plain.status, plain.stderr).toBe(0);
    const r = kiln("run", join(dir, "x.wasm"), "--input", files[0], files[1], "--json");
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    lines.forEach((line, k) => {
      const obj = JSON.parse(line) as { label: unknown; scores: unknown };
      expect(typeof obj.label).toBe("string");
      expect(Array.isArray(obj.scores)).toBe(true);
      const scores = obj.scores as number[];
      expect(scores).toHaveLength(3);
      const x = tf.tensor4d(Float32Array.from(images[k], (v) => v / 255), [1, 8, 8, 1]);
      const want = Array.from((model.predict(x) as tf.Tensor).dataSync());
      scores.forEach((s, i) => expect(Math.abs(s - want[i])).toBeLessThan(1e-4));
      const best = want.indexOf(Math.max(...want));
      expect(obj.label).toBe(String(best));
    });
  });
});

describe("kiln inspect", () => {
  it("--json prints the manifest with shapes, layers and arena size", () => {
    const r = kiln("inspect", join(dir, "x.wasm"), "--json");
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as { input: { shape: number[] }; output: { shape: number[] }; layers: unknown[]; arenaBytes: number };
    expect(m.input.shape).toEqual([1, 8, 8, 1]);
    expect(m.output.shape).toEqual([1, 3]);
    expect(Array.isArray(m.layers)).toBe(true);
    expect(m.layers.length).toBeGreaterThan(0);
    expect(typeof m.arenaBytes).toBe("number");
    expect(m.arenaBytes).toBeGreaterThan(0);
  });

  it("rejects a file that is not WebAssembly with a clear message", () => {
    const file = join(dirOf("good"), "model.json");
    const line = expectOneLineError(kiln("inspect", file), 1);
    expect(line).toContain(file);
    expect(line).toMatch(/WebAssembly/i);
  });
});
