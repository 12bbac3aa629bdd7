// Hostile input files and terminal output (issue 11): image bombs, bad pixel data, unbounded reads, numeric options, control characters.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync, gzipSync } from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import jpeg from "jpeg-js";
import { KilnError, UsageError } from "../compiler/errors.js";
import { saveLayersModel } from "../models/save-model.js";
import { decodeImage, encodeGrayPng, loadImages } from "../models/images.js";
import { parseIdx, readIdx, readLabelledImages } from "../models/idx.js";
import { INPUT_LIMITS } from "../models/input-file.js";
import { parseArgs, type CommandSpec } from "../bin/args.js";
import { escapeControl, terminalSafe } from "../bin/terminal.js";
import { compileSpec } from "../bin/commands/compile.js";
import { runSpec } from "../bin/commands/run.js";
import { inspectSpec } from "../bin/commands/inspect.js";
import { evalSpec } from "../bin/commands/eval.js";
import { profileSpec } from "../bin/commands/profile.js";
import { deploySpec } from "../bin/commands/deploy.js";
import { benchSpec } from "../bin/commands/bench.js";
import { agentSpec } from "../bin/commands/agent.js";
import { demoSpec } from "../bin/commands/demo.js";
import { requireCommand } from "./require-tool.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "bin", "kiln.js");
/** What a small `kiln run` needs is ~100 MiB; a read without bound or a decoded bomb goes far past this. */
const RSS_BOUND_MIB = 1024;

interface Outcome { status: number | null; stdout: string; stderr: string; peakRssMiB: number; stopped?: "memory" | "time" }

/** Runs the CLI, killing it when its resident memory passes `maxRssMiB` or it runs longer than `timeoutMs`. */
function kiln(args: string[], { timeoutMs = 60_000, maxRssMiB = RSS_BOUND_MIB } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, KILN_DEBUG: "" } });
    let stdout = "", stderr = "", peakRssMiB = 0;
    let stopped: Outcome["stopped"];
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    const poll = setInterval(() => {
      try {
        const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        peakRssMiB = Math.max(peakRssMiB, Number(kb?.[1] ?? 0) / 1024);
        if (peakRssMiB > maxRssMiB) { stopped = "memory"; child.kill("SIGKILL"); }
      } catch { /* the process has just exited */ }
    }, 25);
    const timer = setTimeout(() => { stopped = "time"; child.kill("SIGKILL"); }, timeoutMs);
    child.on("close", (status) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ status, stdout, stderr, peakRssMiB, stopped });
    });
  });
}

/** A user-facing error: the given exit code, one line on stderr naming `mustName`, no stack frames, within bounds. */
function expectOneLineError(r: Outcome, code: number, mustName: string): string {
  expect(r.stopped, `killed for ${r.stopped} (peak ${r.peakRssMiB.toFixed(0)} MiB); stderr: ${r.stderr}`).toBeUndefined();
  expect(r.status, `stderr: ${r.stderr}`).toBe(code);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(lines[0]).toContain(mustName);
  return lines[0];
}

/** A loader's failure on a bad file: a Kiln error (never a raw JS one) whose one-line message names the file. */
function kilnErrorOf(load: () => unknown, file: string): KilnError {
  let caught: unknown;
  try { load(); } catch (e) { caught = e; }
  expect(caught, "expected the load to fail").toBeInstanceOf(KilnError);
  const err = caught as KilnError;
  expect(err.message).toContain(file);
  expect(err.message).not.toContain("\n");
  return err;
}

// ---- PNG and JPEG files built by the formats' definitions ----

const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const typed = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  typed.copy(out, 4);
  out.writeUInt32BE(crc32(typed), 8 + data.length);
  return out;
}

/** An 8-bit PNG (colour type 0 gray or 2 RGB) whose IDAT holds exactly `idat`. */
function pngFile(width: number, height: number, idat: Uint8Array, colorType = 0): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  return Buffer.concat([PNG_SIGNATURE, pngChunk("IHDR", ihdr), pngChunk("IDAT", idat), pngChunk("IEND", new Uint8Array(0))]);
}

/** Filter byte 0 then the gray bytes, row by row: the uncompressed pixel data of an 8-bit gray PNG. */
function grayScanlines(width: number, height: number, value: (y: number, x: number) => number): Uint8Array {
  const raw = new Uint8Array(height * (1 + width));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw[y * (1 + width) + 1 + x] = value(y, x);
  return raw;
}

/** A baseline JPEG from jpeg-js with its SOF0 frame header rewritten to declare width×height. */
function jpegDeclaring(width: number, height: number): Uint8Array {
  const small = jpeg.encode({ width: 16, height: 16, data: Buffer.alloc(16 * 16 * 4, 128) }, 90).data;
  const bytes = new Uint8Array(small);
  for (let i = 2; i + 9 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xc0) {
      new DataView(bytes.buffer, bytes.byteOffset).setUint16(i + 5, height, false);
      new DataView(bytes.buffer, bytes.byteOffset).setUint16(i + 7, width, false);
      return bytes;
    }
  }
  throw new Error("jpeg-js wrote no SOF0 marker");
}

/** idx ubyte bytes: 0x00 0x00 0x08 <rank>, big-endian uint32 dims, then data. */
function idxBytes(shape: number[], data: Uint8Array = new Uint8Array(0), rank = shape.length): Uint8Array {
  const out = Buffer.alloc(4 + 4 * shape.length + data.length);
  out[2] = 0x08;
  out[3] = rank;
  shape.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

// ---- shared fixtures: a tiny float blob whose labels carry terminal control sequences ----

let dir: string;
const at = (name: string): string => join(dir, name);
/** ESC [2J clears the screen, U+202E reverses what follows, BEL rings, 0x9B is the 8-bit CSI. */
const HOSTILE_LABELS = ["\x1b[2Jzero", "\u202eone", "two\x07\x9b31m"];
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

beforeAll(async () => {
  await tf.setBackend("cpu");
  dir = mkdtempSync(join(tmpdir(), "kiln-hostile-input-"));
  const m = tf.sequential({ name: "small" });
  m.add(tf.layers.conv2d({ name: "conv", inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: "relu" }));
  m.add(tf.layers.flatten({ name: "flat" }));
  m.add(tf.layers.dense({ name: "logits", units: 3 }));
  await saveLayersModel(m, at("model"));
  const compiled = spawnSync(process.execPath, [CLI, "compile", join(at("model"), "model.json"), "--quantize", "none",
    "--labels", HOSTILE_LABELS.join(","), "-o", at("small.wasm"), "--quiet"], { cwd: ROOT, encoding: "utf8" });
  expect(compiled.status, compiled.stderr).toBe(0);
  writeFileSync(at("digit.png"), encodeGrayPng(new Uint8Array(64).map((_, i) => (i * 37) % 256), 8, 8));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("image decompression bombs are refused from their headers", () => {
  it("builds PNGs the decoder accepts (the fixtures below differ from this one only where stated)", () => {
    const file = pngFile(3, 2, deflateSync(grayScanlines(3, 2, (y, x) => 10 * (3 * y + x))));
    expect(Array.from(decodeImage(file, "ok.png").pixels.filter((_, i) => i % 3 === 0))).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it("refuses a 68-byte PNG declaring 60000×60000, naming the file, the size and the limit", () => {
    const bomb = pngFile(60000, 60000, deflateSync(new Uint8Array(16)));
    expect(bomb.length).toBeLessThan(100);
    const err = kilnErrorOf(() => decodeImage(bomb, "bomb.png"), "bomb.png");
    expect(err.message).toMatch(/60000×60000/);
    expect(err.message).toContain(`${INPUT_LIMITS.maxImageSide}`);
  });

  it("refuses 20000×20000 and a 25-megapixel 5000×5000 PNG, and any side over the limit", () => {
    for (const [w, h] of [[20000, 20000], [5000, 5000], [INPUT_LIMITS.maxImageSide + 1, 1], [1, INPUT_LIMITS.maxImageSide + 1]]) {
      const err = kilnErrorOf(() => decodeImage(pngFile(w, h, deflateSync(new Uint8Array(8))), "big.png"), "big.png");
      expect(err.message).toContain(`${w}×${h}`);
    }
    expect(INPUT_LIMITS.maxImagePixels).toBe(4096 * 4096);
  });

  it("still decodes a long thin PNG at the side limit", () => {
    const side = INPUT_LIMITS.maxImageSide;
    const img = decodeImage(pngFile(side, 1, deflateSync(grayScanlines(side, 1, (_y, x) => x % 256))), "thin.png");
    expect([img.width, img.height, img.pixels[3 * 300]]).toEqual([side, 1, 300 % 256]);
  });

  it("refuses a JPEG whose frame header declares 60000×60000 or 25 megapixels", () => {
    for (const [w, h] of [[60000, 60000], [5000, 5000]]) {
      const err = kilnErrorOf(() => decodeImage(jpegDeclaring(w, h), "bomb.jpg"), "bomb.jpg");
      expect(err.message).toContain(`${w}×${h}`);
    }
    expect(decodeImage(jpegDeclaring(16, 16), "fine.jpg").width).toBe(16);
  });

  it("kiln run refuses the PNG bomb in one line without using the memory it asks for", async () => {
    writeFileSync(at("bomb.png"), pngFile(60000, 60000, deflateSync(new Uint8Array(16))));
    const line = expectOneLineError(await kiln(["run", at("small.wasm"), "--input", at("bomb.png")]), 1, at("bomb.png"));
    expect(line).toMatch(/60000×60000/);
  });
});

describe("PNG pixel data must be what the header promises", () => {
  it("refuses an IDAT that is not zlib data instead of reading a black image", () => {
    const err = kilnErrorOf(() => decodeImage(pngFile(4, 4, new TextEncoder().encode("this is not zlib data")), "notzlib.png"), "notzlib.png");
    expect(err.message).toMatch(/pixel data/);
  });

  it("refuses pixel data shorter than the image (2 of 4 rows)", () => {
    const err = kilnErrorOf(() => decodeImage(pngFile(4, 4, deflateSync(grayScanlines(4, 2, () => 255))), "short.png"), "short.png");
    expect(err.message).toMatch(/pixel data/);
  });

  it("refuses a PNG with no IDAT chunk, an unknown colour type and a first chunk that is not IHDR", () => {
    const good = pngFile(2, 2, deflateSync(grayScanlines(2, 2, () => 1)));
    const noIdat = Buffer.concat([good.subarray(0, 33), pngChunk("IEND", new Uint8Array(0))]);
    kilnErrorOf(() => decodeImage(noIdat, "noidat.png"), "noidat.png");
    kilnErrorOf(() => decodeImage(pngFile(2, 2, deflateSync(grayScanlines(2, 2, () => 1)), 5), "type5.png"), "type5.png");
    const notIhdr = Buffer.concat([PNG_SIGNATURE, pngChunk("tEXt", new TextEncoder().encode("a\0b")), good.subarray(8)]);
    kilnErrorOf(() => decodeImage(notIhdr, "late-ihdr.png"), "late-ihdr.png");
  });
});

describe("numeric options are validated: whole numbers where meant, in a stated range", () => {
  const specs: CommandSpec[] = [compileSpec, runSpec, inspectSpec, evalSpec, profileSpec, deploySpec, benchSpec, agentSpec, demoSpec];

  it("every numeric option of every command declares its range", () => {
    for (const spec of specs) {
      for (const [name, o] of Object.entries(spec.options)) {
        if (o.type !== "number") continue;
        expect(o.min, `kiln ${spec.name} --${name}`).toBeTypeOf("number");
        expect(o.max, `kiln ${spec.name} --${name}`).toBeTypeOf("number");
      }
    }
  });

  it("refuses fractions, NaN, infinities, empty values and values out of range, naming the option and its range", () => {
    for (const spec of specs) {
      for (const [name, o] of Object.entries(spec.options)) {
        if (o.type !== "number") continue;
        const bad = ["NaN", "Infinity", "", " ", "12abc", String(o.min! - 1), String(o.max! + 1), ...(o.integer ? ["2.5"] : [])];
        for (const value of bad) {
          let caught: unknown;
          try { parseArgs(spec, [`--${name}`, value]); } catch (e) { caught = e; }
          expect(caught, `kiln ${spec.name} --${name} '${value}'`).toBeInstanceOf(UsageError);
          const message = (caught as Error).message;
          expect(message).toContain(`--${name}`);
          expect(message).toContain(o.min!.toLocaleString("en-US"));
        }
        expect(parseArgs(spec, [`--${name}=${o.max}`]).options[name]).toBe(o.max);
        expect(parseArgs(spec, [`--${name}`, String(o.min)]).options[name]).toBe(o.min);
      }
    }
  });

  it("--help states each numeric option's range", async () => {
    const help = await kiln(["profile", "--help"]);
    expect(help.stdout).toMatch(/--runs <n> +timed runs \(default: 200; a whole number from 1 to 1,000,000\)/);
  });

  it("kiln eval --count 2.5 and --count 0 are usage errors, not 120 % or NaN % accuracy", async () => {
    for (const count of ["2.5", "0"]) {
      const line = expectOneLineError(await kiln(["eval", at("small.wasm"), "--images", "x", "--labels", "y", "--count", count]), 2, "--count");
      expect(line).toContain(count);
      expect(line).toMatch(/whole number/);
    }
  });
});

describe("input files are checked with stat before they are read, and read only as far as needed", () => {
  const fifo = requireCommand("mkfifo", "apt-get install coreutils");

  it("refuses /dev/zero (and a .u8 link to it) without reading it", async () => {
    symlinkSync("/dev/zero", at("zero.u8"));
    for (const input of ["/dev/zero", at("zero.u8")]) {
      const line = expectOneLineError(await kiln(["run", at("small.wasm"), "--input", input]), 1, input);
      expect(line).toMatch(/not a regular file/);
    }
    const line = expectOneLineError(await kiln(["eval", at("small.wasm"), "--images", "/dev/zero", "--labels", "/dev/zero"]), 1, "/dev/zero");
    expect(line).toMatch(/not a regular file/);
  });

  it.skipIf(!fifo.ok)(`refuses a FIFO as an image, a .u8, an idx and inside a folder instead of waiting forever${fifo.note}`, async () => {
    mkdirSync(at("fifo-folder"));
    for (const path of [at("pipe.u8"), at("pipe.png"), at("pipe-idx3-ubyte"), join(at("fifo-folder"), "a.png")]) {
      expect(spawnSync("mkfifo", [path]).status).toBe(0);
    }
    for (const input of [at("pipe.u8"), at("pipe.png"), at("fifo-folder")]) {
      const line = expectOneLineError(await kiln(["run", at("small.wasm"), "--input", input], { timeoutMs: 30_000 }), 1, input);
      expect(line).toMatch(/not a regular file/);
    }
    const r = await kiln(["eval", at("small.wasm"), "--images", at("pipe-idx3-ubyte"), "--labels", at("pipe-idx3-ubyte")], { timeoutMs: 30_000 });
    expect(expectOneLineError(r, 1, at("pipe-idx3-ubyte"))).toMatch(/not a regular file/);
  });

  it("refuses a 2.1 GB .u8 from its size, before reading it", async () => {
    writeFileSync(at("huge.u8"), new Uint8Array(0));
    truncateSync(at("huge.u8"), 2.1e9 - (2.1e9 % 64)); // sparse: a multiple of 8×8×1, takes no disk
    const line = expectOneLineError(await kiln(["run", at("small.wasm"), "--input", at("huge.u8")]), 1, at("huge.u8"));
    expect(line).toMatch(/limit/);
    expect(() => loadImages(at("huge.u8"), 8, 8, 1)).toThrow(KilnError);
  });

  it("reads only the images asked for from a plain idx file, even when the file is mostly hole", () => {
    const path = at("sparse-idx3-ubyte");
    writeFileSync(path, idxBytes([1_000_000, 16, 16], new Uint8Array(2 * 256).fill(7)));
    truncateSync(path, 16 + 1_000_000 * 256);
    const two = readIdx(path, 2);
    expect(two.shape).toEqual([2, 16, 16]);
    expect(two.data.every((v) => v === 7)).toBe(true);
  });

  it("refuses idx headers with no dimensions, too many, a zero dimension or a size past the limit", () => {
    // The last pattern is for reading only the first 10 items: a file too large as a whole may still give those.
    const cases: [string, Uint8Array, RegExp, RegExp][] = [
      ["rank0.idx", idxBytes([]), /rank 0 /, /rank 0 /],
      ["rank9.idx", idxBytes([1, 1, 1, 1, 1, 1, 1, 1, 1], new Uint8Array(1)), /rank 9 /, /rank 9 /],
      ["zero.idx", idxBytes([0, 28, 28]), /dimension of 0/, /dimension of 0/],
      ["huge.idx", idxBytes([4_000_000_000, 4_000_000_000, 28]), /limit/, /limit/],
      ["past-limit.idx", idxBytes([INPUT_LIMITS.maxBatchBytes / 64 + 1, 8, 8]), /limit/, /truncated/],
    ];
    for (const [name, bytes, whole, first10] of cases) {
      expect(kilnErrorOf(() => parseIdx(bytes, name), name).message).toMatch(whole);
      writeFileSync(at(name), bytes);
      expect(kilnErrorOf(() => readIdx(at(name)), name).message).toMatch(whole);
      expect(kilnErrorOf(() => readIdx(at(name), 10), name).message).toMatch(first10);
    }
  });

  it("says a file declaring 1e8 images but holding a few is truncated, without allocating for the declared size", () => {
    writeFileSync(at("liar-idx3-ubyte"), idxBytes([100_000_000, 1, 1], new Uint8Array(10)));
    expect(kilnErrorOf(() => readIdx(at("liar-idx3-ubyte")), "liar-idx3-ubyte").message).toMatch(/truncated/);
    expect(kilnErrorOf(() => readIdx(at("liar-idx3-ubyte"), 100), "liar-idx3-ubyte").message).toMatch(/truncated/);
  });

  it("stops inflating a gzipped idx at the size its gzip trailer states (a 640 MiB gzip bomb)", async () => {
    const member = gzipSync(new Uint8Array(16 << 20));
    const first = gzipSync(idxBytes([1, 8, 8], new Uint8Array(64)));
    const bomb = Buffer.concat([first, ...Array.from({ length: 40 }, () => member)]);
    writeFileSync(at("bomb-idx3-ubyte.gz"), bomb);
    writeFileSync(at("one-label-idx1-ubyte"), idxBytes([1], new Uint8Array([0])));
    const r = await kiln(["eval", at("small.wasm"), "--images", at("bomb-idx3-ubyte.gz"), "--labels", at("one-label-idx1-ubyte")]);
    expectOneLineError(r, 1, at("bomb-idx3-ubyte.gz"));
    expect(r.peakRssMiB).toBeLessThan(512);
  });

  it("checks folders: a directory named like an image is refused, and so are more files than the limit", () => {
    mkdirSync(at("dir-folder"));
    mkdirSync(join(at("dir-folder"), "b.png"));
    writeFileSync(join(at("dir-folder"), "a.png"), readFileSync(at("digit.png")));
    expect(kilnErrorOf(() => loadImages(at("dir-folder"), 8, 8, 1), "b.png").message).toMatch(/not a regular file/);
    mkdirSync(at("crowd"));
    for (let i = 0; i <= INPUT_LIMITS.maxFolderImages; i++) writeFileSync(join(at("crowd"), `${i}.png`), "");
    expect(kilnErrorOf(() => loadImages(at("crowd"), 8, 8, 1), "crowd").message).toContain(String(INPUT_LIMITS.maxFolderImages));
  });

  it("throws only Kiln errors for files that are missing, empty or of no known kind", () => {
    writeFileSync(at("empty.png"), "");
    writeFileSync(at("empty.u8"), "");
    for (const name of ["missing.png", "empty.png", "empty.u8"]) kilnErrorOf(() => loadImages(at(name), 8, 8, 1), name);
    kilnErrorOf(() => readLabelledImages(at("missing-idx3"), at("missing-idx1")), "missing-idx3");
    kilnErrorOf(() => loadImages(at("digit.png"), 8, 8, 2), "digit.png");
  });
});

describe("control characters from files and devices are escaped before they reach the terminal", () => {
  it("escapes C0, DEL, C1 and bidi controls as \\uXXXX and leaves printable Unicode alone", () => {
    expect(escapeControl("\x1b[2Jzero")).toBe("\\u001b[2Jzero");
    expect(escapeControl("a\tb\nc\rd\x07\x7f\x9b\u202e\u2066\u200f")).toBe("a\\u0009b\\u000ac\\u000dd\\u0007\\u007f\\u009b\\u202e\\u2066\\u200f");
    expect(escapeControl("Größe 数字 😀 →")).toBe("Größe 数字 😀 →");
  });

  it("at the output sink, keeps Kiln's newlines and (only when colour is on) Kiln's own colour codes", () => {
    const line = "\x1b[1mbold\x1b[0m\nnext \x1b[2J\x1b[8mhidden\x07";
    expect(terminalSafe(line, true)).toBe("\x1b[1mbold\x1b[0m\nnext \\u001b[2J\\u001b[8mhidden\\u0007");
    expect(terminalSafe(line, false)).toBe("\\u001b[1mbold\\u001b[0m\nnext \\u001b[2J\\u001b[8mhidden\\u0007");
  });

  it("kiln inspect and kiln profile print hostile model and layer names escaped", async () => {
    // Names come from model.json: the layer "conv" and its weights, and the model "small", rewritten in the file.
    const json = readFileSync(join(at("model"), "model.json"), "utf8")
      .replaceAll('"conv', '"\\u001b[2Jconv\\u202e').replaceAll('"small"', '"sm\\u001b]0;title\\u0007all"');
    mkdirSync(at("named"));
    writeFileSync(join(at("named"), "model.json"), json);
    writeFileSync(join(at("named"), "group1-shard1of1.bin"), readFileSync(join(at("model"), "group1-shard1of1.bin")));
    const compiled = await kiln(["compile", join(at("named"), "model.json"), "--quantize", "none", "-o", at("named.wasm"), "--quiet"]);
    expect(compiled.status, compiled.stderr).toBe(0);
    const inspect = await kiln(["inspect", at("named.wasm")]);
    expect(inspect.status, inspect.stderr).toBe(0);
    expect(inspect.stdout).not.toMatch(CONTROL);
    expect(inspect.stdout).toContain("model sm\\u001b]0;title\\u0007all ");
    expect(inspect.stdout).toMatch(/^0 +\\u001b\[2Jconv\\u202e +conv2d/m);
    const profile = await kiln(["profile", at("named.wasm"), "--runs", "3", "--warmup", "1"]);
    expect(profile.status, profile.stderr).toBe(0);
    expect(profile.stdout).not.toMatch(CONTROL);
    expect(profile.stdout).toMatch(/^0 +\\u001b\[2Jconv\\u202e +conv2d/m);
    expect(profile.stdout).toContain("sm\\u001b]0;title\\u0007all, float32");
    const asJson = await kiln(["profile", at("named.wasm"), "--runs", "3", "--warmup", "1", "--json"]);
    expect((JSON.parse(asJson.stdout) as { layers: { name: string }[] }).layers[0].name).toBe("\x1b[2Jconv\u202e");
  });

  it("kiln run and kiln inspect print hostile labels escaped; --json keeps them exact", async () => {
    const run = await kiln(["run", at("small.wasm"), "--input", at("digit.png"), "--top", "3"]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(CONTROL);
    for (const label of ["\\u001b[2Jzero", "\\u202eone", "two\\u0007\\u009b31m"]) expect(run.stdout).toContain(label);
    const json = await kiln(["run", at("small.wasm"), "--input", at("digit.png"), "--top", "3", "--json"]);
    expect(json.stdout).not.toMatch(CONTROL);
    const top = (JSON.parse(json.stdout) as { top: { label: string }[] }).top.map((t) => t.label).sort();
    expect(top).toEqual([...HOSTILE_LABELS].sort());
    const inspect = await kiln(["inspect", at("small.wasm")]);
    expect(inspect.status, inspect.stderr).toBe(0);
    expect(inspect.stdout).not.toMatch(CONTROL);
    expect(inspect.stdout).toContain("labels \\u001b[2Jzero, \\u202eone, two\\u0007\\u009b31m");
  });

  it("kiln eval prints the confusion matrix with escaped labels", async () => {
    const pixels = new Uint8Array(4 * 64).map((_, i) => (i * 13) % 256);
    writeFileSync(at("four-idx3-ubyte"), idxBytes([4, 8, 8], pixels));
    writeFileSync(at("four-idx1-ubyte"), idxBytes([4], new Uint8Array([0, 1, 2, 1])));
    const r = await kiln(["eval", at("small.wasm"), "--images", at("four-idx3-ubyte"), "--labels", at("four-idx1-ubyte")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(CONTROL);
    expect(r.stdout).toContain("\\u001b[2Jzero");
    expect(r.stdout).toMatch(/on 4 images/);
  });

  it("kiln deploy prints a device name and model name full of escapes harmlessly", async () => {
    const agent = spawn(process.execPath, [CLI, "agent", "--tcp", ":0", "--token", "t0ken", "--store", at("store"),
      "--name", "\x1b]0;pwned\x07dev\u202e"], { cwd: ROOT, env: { ...process.env, KILN_DEBUG: "" } });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        agent.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          const m = /127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        agent.on("close", () => reject(new Error(`the agent exited: ${out}`)));
      });
      const r = await kiln(["deploy", at("small.wasm"), "--device", `tcp://127.0.0.1:${port}?token=t0ken`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(CONTROL);
      expect(r.stdout).toContain("device \\u001b]0;pwned\\u0007dev\\u202e at");
    } finally {
      agent.kill("SIGTERM");
    }
  });
});
