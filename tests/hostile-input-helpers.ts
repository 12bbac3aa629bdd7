// Shared by the hostile-input tests: the CLI under a memory and time bound, PNG/JPEG/idx files built by their formats' definitions, a tiny blob with hostile labels.
import { afterAll, beforeAll, expect } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import jpeg from "jpeg-js";
import { KilnError } from "../compiler/errors.js";
import { saveLayersModel } from "../models/save-model.js";
import { encodeGrayPng } from "../io/images.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CLI = join(ROOT, "dist", "bin", "kiln.js");
/** What a small `kiln run` needs is ~100 MiB; a read without bound or a decoded bomb goes far past this. */
export const RSS_BOUND_MIB = 1024;

export interface Outcome { status: number | null; stdout: string; stderr: string; peakRssMiB: number; stopped?: "memory" | "time" }

/** Runs the CLI, killing it when its resident memory passes `maxRssMiB` or it runs longer than `timeoutMs`. */
export function kiln(args: string[], { timeoutMs = 60_000, maxRssMiB = RSS_BOUND_MIB } = {}): Promise<Outcome> {
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
export function expectOneLineError(r: Outcome, code: number, mustName: string): string {
  expect(r.stopped, `killed for ${r.stopped} (peak ${r.peakRssMiB.toFixed(0)} MiB); stderr: ${r.stderr}`).toBeUndefined();
  expect(r.status, `stderr: ${r.stderr}`).toBe(code);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(lines[0]).toContain(mustName);
  return lines[0];
}

/** A loader's failure on a bad file: a Kiln error (never a raw JS one) whose one-line message names the file. */
export function kilnErrorOf(load: () => unknown, file: string): KilnError {
  let caught: unknown;
  try { load(); } catch (e) { caught = e; }
  expect(caught, "expected the load to fail").toBeInstanceOf(KilnError);
  const err = caught as KilnError;
  expect(err.message).toContain(file);
  expect(err.message).not.toContain("\n");
  return err;
}

// ---- PNG and JPEG files built by the formats' definitions ----

export const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const typed = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  typed.copy(out, 4);
  out.writeUInt32BE(crc32(typed), 8 + data.length);
  return out;
}

/** An 8-bit PNG (colour type 0 gray or 2 RGB) whose IDAT holds exactly `idat`. */
export function pngFile(width: number, height: number, idat: Uint8Array, colorType = 0): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  return Buffer.concat([PNG_SIGNATURE, pngChunk("IHDR", ihdr), pngChunk("IDAT", idat), pngChunk("IEND", new Uint8Array(0))]);
}

/** Filter byte 0 then the gray bytes, row by row: the uncompressed pixel data of an 8-bit gray PNG. */
export function grayScanlines(width: number, height: number, value: (y: number, x: number) => number): Uint8Array {
  const raw = new Uint8Array(height * (1 + width));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw[y * (1 + width) + 1 + x] = value(y, x);
  return raw;
}

/** A baseline JPEG from jpeg-js with its SOF0 frame header rewritten to declare width×height. */
export function jpegDeclaring(width: number, height: number): Uint8Array {
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
export function idxBytes(shape: number[], data: Uint8Array = new Uint8Array(0), rank = shape.length): Uint8Array {
  const out = Buffer.alloc(4 + 4 * shape.length + data.length);
  out[2] = 0x08;
  out[3] = rank;
  shape.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

// ---- shared fixtures: a tiny float blob whose labels carry terminal control sequences ----

/** ESC [2J clears the screen, U+202E reverses what follows, BEL rings, 0x9B is the 8-bit CSI. */
export const HOSTILE_LABELS = ["\x1b[2Jzero", "\u202eone", "two\x07\x9b31m"];
/** What must never reach the terminal raw (newline is Kiln's own). */
export const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * A fresh folder with model/ (8×8×1 → conv → dense(3), saved by TF.js), small.wasm (float, compiled with
 * HOSTILE_LABELS) and digit.png (8×8 gray).
 */
export async function hostileFixture(prefix: string): Promise<string> {
  await tf.setBackend("cpu");
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const m = tf.sequential({ name: "small" });
  m.add(tf.layers.conv2d({ name: "conv", inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: "relu" }));
  m.add(tf.layers.flatten({ name: "flat" }));
  m.add(tf.layers.dense({ name: "logits", units: 3 }));
  await saveLayersModel(m, join(dir, "model"));
  const compiled = spawnSync(process.execPath, [CLI, "compile", join(dir, "model", "model.json"), "--quantize", "none",
    "--labels", HOSTILE_LABELS.join(","), "-o", join(dir, "small.wasm"), "--quiet"], { cwd: ROOT, encoding: "utf8" });
  expect(compiled.status, compiled.stderr).toBe(0);
  writeFileSync(join(dir, "digit.png"), encodeGrayPng(new Uint8Array(64).map((_, i) => (i * 37) % 256), 8, 8));
  return dir;
}

/**
 * The fixture folder of a test file: made before its tests (hostileFixture), removed after them. Returns the
 * path of a file in it by name.
 */
export function useHostileFixture(prefix: string): (name: string) => string {
  let dir = "";
  beforeAll(async () => { dir = await hostileFixture(prefix); });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });
  return (name) => join(dir, name);
}
