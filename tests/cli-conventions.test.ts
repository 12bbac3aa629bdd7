// The CLI as people expect it (issue 16): kiln help <command>, "did you mean", typed option values with defaults as
// written (1/255), and a model given where a blob is expected answered with the command that compiles it.
import { describe, expect, it, beforeAll } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../compiler/errors.js";
import { defineCommand, helpText, parseArgs } from "../bin/args.js";
import { closestNames, didYouMean, editDistance } from "../compiler/suggest.js";
import { inspectBlob } from "../runtime/model.js";
import { ROOT, CLI } from "./device-helpers.js";
import { tempDir } from "./helpers.js";

interface Result { status: number | null; stdout: string; stderr: string }

function kiln(...args: string[]): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, KILN_DEBUG: "", NO_COLOR: "1" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A usage or job error: the exit code, exactly one line on stderr, nothing on stdout. */
function oneLine(r: Result, code: number): string {
  expect(r.status, r.stderr).toBe(code);
  expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
  expect(r.stdout).toBe("");
  return r.stderr.trimEnd();
}

describe("suggestions", () => {
  it("edit distance counts insertions, deletions, substitutions and swapped neighbours (hand-computed)", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("porfile", "profile")).toBe(1); // one swap
    expect(editDistance("compil", "compile")).toBe(1);
    expect(editDistance("", "run")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("suggests the nearest names, else the names a short start begins, else nothing", () => {
    expect(closestNames("porfile", ["compile", "run", "profile"])).toEqual(["profile"]);
    expect(closestNames("RUN", ["compile", "run"])).toEqual(["run"]);
    expect(closestNames("calib", ["calibration", "calibration-count", "target"])).toEqual(["calibration", "calibration-count"]);
    expect(closestNames("xyzzy", ["compile", "run", "profile"])).toEqual([]);
    expect(closestNames("x", ["y", "z"])).toEqual([]); // one letter is not "close" to another
    expect(didYouMean("runs", ["runs2", "warmup"], (n) => `--${n}`)).toBe("; did you mean --runs2?");
    expect(didYouMean("abc", ["abd", "abe"])).toBe("; did you mean abd or abe?");
  });
});

describe("option parsing", () => {
  const spec = defineCommand({
    name: "t", summary: "a test command", usage: "kiln t",
    options: {
      scale: { type: "number", min: -10, max: 10, nonZero: true, default: 1 / 255, defaultText: "1/255", description: "a scale" },
      runs: { type: "number", integer: true, min: 1, max: 100, default: 5, description: "runs" },
      device: { type: "string", multiple: true, description: "devices" },
      mode: { type: "string", choices: ["fast", "exact"], default: "fast", description: "mode" },
      out: { type: "string", short: "o", description: "output" },
      json: { type: "boolean", description: "JSON" },
    },
  });

  it("gives every option its default: a flag is off, a repeatable option an empty list, one without a default undefined", () => {
    expect(parseArgs(spec, []).options).toEqual({ scale: 1 / 255, runs: 5, device: [], mode: "fast", out: undefined, json: false });
  });

  it("reads values of their declared types, repeated options as a list, -o as --out", () => {
    const o = parseArgs(spec, ["--runs", "7", "--device", "a", "--device=b", "-o", "x.wasm", "--json", "--mode", "exact"]).options;
    expect(o).toEqual({ scale: 1 / 255, runs: 7, device: ["a", "b"], mode: "exact", out: "x.wasm", json: true });
  });

  it("takes a scale as the fraction people write: 1/255 is exactly 1/255; 1/0, 0/5 and fractions of whole numbers are refused", () => {
    expect(parseArgs(spec, ["--scale", "1/255"]).options.scale).toBe(1 / 255);
    expect(parseArgs(spec, ["--scale=-2/0.5"]).options.scale).toBe(-4);
    for (const [args, name] of [[["--scale", "1/0"], "--scale"], [["--scale", "0/5"], "--scale"], [["--scale", "1/2/3"], "--scale"], [["--runs", "10/2"], "--runs"]] as const) {
      expect(() => parseArgs(spec, [...args]), args.join(" ")).toThrow(UsageError);
      expect(() => parseArgs(spec, [...args])).toThrow(name);
    }
  });

  it("an unknown option or choice names the closest known one", () => {
    expect(() => parseArgs(spec, ["--rnus", "3"])).toThrow("kiln t: unknown option --rnus; did you mean --runs? (kiln help t lists the options)");
    expect(() => parseArgs(spec, ["--jsno=true"])).toThrow("unknown option --jsno; did you mean --json?");
    expect(() => parseArgs(spec, ["--mode", "exakt"])).toThrow("kiln t: --mode must be one of fast, exact, got 'exakt'; did you mean exact?");
    expect(() => parseArgs(spec, ["--frobnicate"])).toThrow(/^kiln t: unknown option --frobnicate \(kiln help t lists the options\)$/);
  });

  it("help shows defaults as written and says nothing of flags being off", () => {
    const help = helpText(spec);
    expect(help).toMatch(/--scale <n> +a scale \(default: 1\/255; a number from -10 to 10, not 0\)/);
    expect(help).toMatch(/--json +JSON$/m);
    expect(help).toMatch(/--device <value> +devices \(repeatable\)/);
    expect(help).not.toContain("0.00392156862745098");
  });
});

describe("kiln help and did you mean", () => {
  it("kiln help <command> prints what kiln <command> --help prints, exit 0", () => {
    const help = kiln("help", "compile"), flag = kiln("compile", "--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toBe(flag.stdout);
    expect(help.stdout).toMatch(/--pixel-scale <n> .*\(default: 1\/255;/);
    expect(help.stdout).not.toContain("0.00392156862745098");
    expect(kiln("help").status).toBe(0);
    expect(kiln("help").stdout).toContain("kiln help <command>");
  });

  it("unknown commands and options: one line, exit 2, with the likely meaning", () => {
    expect(oneLine(kiln("compil"), 2)).toMatch(/^kiln: unknown command 'compil'; did you mean 'compile'\? \(commands: compile, run, /);
    expect(oneLine(kiln("help", "porfile"), 2)).toContain("did you mean 'profile'?");
    expect(oneLine(kiln("--verison"), 2)).toContain("unknown option --verison; did you mean --version?");
    expect(oneLine(kiln("run", "x.wasm", "--topp", "3"), 2)).toContain("unknown option --topp; did you mean --top?");
    expect(oneLine(kiln("compile", "m.json", "--quantize", "int9"), 2)).toContain("got 'int9'; did you mean int8?");
    expect(oneLine(kiln("transmogrify"), 2)).not.toContain("did you mean");
  });

  it("--help after -- is an argument, not a request for help", () => {
    const r = kiln("inspect", "--", "--help");
    expect(oneLine(r, 1)).toContain("--help: file not found");
  });
});

describe("a model where a blob is expected", () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir("kiln-cli-conv-");
    // Copied so that the suggested command holds the path as given, with a space that needs quoting.
    for (const f of ["model.json", "group1-shard1of1.bin"]) copyFileSync(join(ROOT, "models", "mnist-cnn", f), join(dir, f));
  });

  it("kiln run/inspect/profile/deploy of a model.json say to compile it first, with the command", () => {
    const model = join(dir, "model.json");
    for (const args of [["run", model, "--input", model], ["inspect", model], ["profile", model], ["deploy", model, "--device", "local"]]) {
      const line = oneLine(kiln(...args), 1);
      expect(line, args[0]).toBe(`kiln ${args[0]}: ${model} is a TF.js model, not a compiled WebAssembly blob; compile it first: kiln compile ${model}`);
    }
  });

  it("an ONNX model is named as one, and a path with a space is quoted in the command", () => {
    const onnx = join(ROOT, "models", "onnx", "lenet5.onnx");
    const spaced = join(dir, "my model.onnx");
    copyFileSync(onnx, spaced);
    expect(oneLine(kiln("run", spaced, "-i", spaced), 1)).toBe(`kiln run: ${spaced} is an ONNX model, not a compiled WebAssembly blob; compile it first: kiln compile '${spaced}'`);
  });

  it("--pixel-scale 1/255 compiles the very blob the default gives", () => {
    const model = join(ROOT, "models", "mnist-cnn", "model.json");
    const a = join(dir, "default.wasm"), b = join(dir, "fraction.wasm");
    expect(kiln("compile", model, "--quantize", "none", "-q", "-o", a).status).toBe(0);
    expect(kiln("compile", model, "--quantize", "none", "-q", "-o", b, "--pixel-scale", "1/255").status).toBe(0);
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
    return inspectBlob(new Uint8Array(readFileSync(b))).then(({ info }) => expect(info.input.pixelScale).toBe(1 / 255));
  });
});
