// Every model file gets a useful answer: the format is told by its first bytes (not its name), ONNX and TF.js files are
// read whatever they are called, and Keras/TFLite/PyTorch/SavedModel files get a one-line recipe to a format Kiln reads.
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateRawSync } from "node:zlib";
import { loadModel } from "../compiler/compile.js";
import { KilnError } from "../compiler/errors.js";
import { detectModelFormat, isWasmFile } from "../compiler/frontends/detect-format.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ONNX_FIXTURE = join(ROOT, "tests", "fixtures", "onnx", "torch-tiny.onnx");
const root = mkdtempSync(join(tmpdir(), "kiln-formats-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let serial = 0;
const freshDir = (): string => { const d = join(root, `f${serial++}`); mkdirSync(d); return d; };

function file(name: string, bytes: Uint8Array | string, dir = freshDir()): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const bytes = (...parts: (number[] | string | Uint8Array)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...Buffer.from(p, "latin1")] : [...p])));

/** A zip archive as PKWARE's APPNOTE defines it (deflated entries, central directory, end record); `complete: false` drops the directory. */
function zip(entries: Record<string, string>, complete = true): Uint8Array {
  const u16 = (v: number): number[] => [v & 0xff, v >>> 8];
  const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  const local: number[] = [], central: number[] = [];
  for (const [name, content] of Object.entries(entries)) {
    const raw = Buffer.from(content, "latin1"), data = [...deflateRawSync(raw)];
    const nameBytes = [...Buffer.from(name)];
    const common = [...u16(20), ...u16(0), ...u16(8), ...u16(0), ...u16(0), ...u32(crc32(raw)), ...u32(data.length), ...u32(raw.length), ...u16(nameBytes.length), ...u16(0)];
    central.push(...u32(0x02014b50), ...u16(20), ...common, ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(local.length), ...nameBytes);
    local.push(...u32(0x04034b50), ...common, ...nameBytes, ...data);
  }
  const count = Object.keys(entries).length;
  const end = [...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(count), ...u16(count), ...u32(central.length), ...u32(local.length), ...u16(0)];
  return Uint8Array.from(complete ? [...local, ...central, ...end] : local);
}

/** detectModelFormat's refusal: a one-line KilnError naming the file. */
function refusal(path: string): string {
  let caught: unknown;
  try { detectModelFormat(path); } catch (e) { caught = e; }
  expect(caught, "expected the file to be refused").toBeInstanceOf(KilnError);
  const message = (caught as Error).message;
  expect(message.startsWith(`${path}: `)).toBe(true);
  expect(message).not.toContain("\n");
  return message;
}

const PICKLE_V2 = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]; // torch's legacy magic number
const HDF5 = bytes([0x89], "HDF\r\n", [0x1a, 0x0a], new Uint8Array(64));
const TFLITE = bytes([0x1c, 0, 0, 0], "TFL3", new Uint8Array(32));

describe("formats Kiln does not read get a recipe, whatever the file is called", () => {
  it.each([
    ["model.h5", HDF5, /Keras HDF5.*tensorflowjs_converter --input_format keras ".*model\.h5" out\/.*kiln compile out\/model\.json/],
    ["model.onnx", HDF5, /Keras HDF5.*--input_format keras /],
    ["user-block.h5", bytes(new Uint8Array(512), HDF5), /Keras HDF5/],
    ["model.tflite", TFLITE, /TensorFlow Lite.*tf2onnx\.convert --tflite ".*model\.tflite" --output model\.onnx/],
    ["legacy.pt", bytes(PICKLE_V2, new Uint8Array(16)), /PyTorch checkpoint.*torch\.load\(".*legacy\.pt"\).*torch\.onnx\.export\(model, torch\.zeros\(1, C, H, W\), "model\.onnx", opset_version=13.*dynamic_axes=\{"input": \{0: "batch"\}/],
    ["checkpoint.pth", zip({ "archive/data.pkl": "\x80\x02}q\x00.", "archive/data/0": "weights", "archive/version": "3\n" }), /PyTorch checkpoint.*load_state_dict.*torch\.onnx\.export/],
    ["truncated.pth", zip({ "archive/data.pkl": "\x80\x02}q\x00.", "archive/data/0": "w" }, false), /PyTorch checkpoint/],
    ["scripted.pt", zip({ "model/data.pkl": "x", "model/code/__torch__.py": "def forward", "model/constants.pkl": "x" }), /TorchScript.*torch\.jit\.load\(".*scripted\.pt"\).*torch\.onnx\.export/],
    ["model.keras", zip({ "metadata.json": "{}", "config.json": "{}", "model.weights.h5": "" }), /Keras 3.*tensorflowjs_converter --input_format keras_keras ".*model\.keras" out\/.*kiln compile out\/model\.json/],
    ["bundle.zip", zip({ "export/model.onnx": "onnx" }), /zip archive holding export\/model\.onnx; unzip it/],
    ["other.zip", zip({ "a.txt": "a", "b.txt": "b" }), /zip archive \(holding a\.txt, b\.txt\), not a model Kiln reads/],
    ["model.wasm", bytes([0], "asm", [1, 0, 0, 0]), /compiled WebAssembly blob, not a model/],
    ["model.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:0\n", /Git LFS pointer.*git lfs pull/],
    ["model.bin", bytes([0x7f], "ELF", new Uint8Array(12)), /not a model format Kiln recognizes \(it starts with bytes 7f 45 4c 46\)/],
    ["model.pt", "", /the file is empty/],
  ])("%s", (name, content, recipe) => {
    expect(refusal(file(name, content))).toMatch(recipe);
  });

  it("a SavedModel: its folder, its saved_model.pb, or a .pb beside variables/", () => {
    const dir = freshDir();
    const pb = file("saved_model.pb", bytes([0x08, 0x01, 0x12, 0x00]), dir);
    mkdirSync(join(dir, "variables"));
    const savedModel = /TensorFlow SavedModel.*tensorflowjs_converter --input_format tf_saved_model --output_format tfjs_graph_model .* out\/ and run kiln compile out\/model\.json/;
    expect(refusal(dir)).toMatch(savedModel);
    expect(refusal(pb)).toMatch(savedModel);
    expect(refusal(file("renamed.pb", bytes([0x08, 0x01, 0x12, 0x00]), dir))).toMatch(savedModel);
  });

  it("a folder holding a model.json is pointed at it; a device is refused without reading it", () => {
    const dir = freshDir();
    file("model.json", "{}", dir);
    expect(refusal(dir)).toContain("is a folder; pass the model.json inside it");
    expect(refusal(freshDir())).toContain("pass a model file (an .onnx file or a TF.js model.json)");
    expect(refusal("/dev/zero")).toContain("not a regular file");
    expect(refusal(join(root, "missing.onnx"))).toContain("file not found");
  });

  it("a file name with control characters is escaped inside the recipe", () => {
    const message = refusal(file("evil\u001b[2J\".h5", HDF5));
    expect(message).toContain(String.raw`evil\u001b[2J'.h5`);
  });
});

describe("ONNX and TF.js files are read by their bytes, not their names", () => {
  it.each(["model.onnx", "model.json", "weights.bin", "model"])("an ONNX file named %s is ONNX", (name) => {
    const dir = freshDir();
    copyFileSync(ONNX_FIXTURE, join(dir, name));
    expect(detectModelFormat(join(dir, name))).toBe("onnx");
  });

  it.each(["model.json", "model.onnx", "model.txt"])("a TF.js model.json named %s is TF.js (a byte-order mark and spaces first too)", (name) => {
    expect(detectModelFormat(file(name, '{"format": "layers-model"}'))).toBe("tfjs-json");
    expect(detectModelFormat(file(name, '\ufeff \n {"format": "graph-model"}'))).toBe("tfjs-json");
  });

  it("unrecognised bytes go to the reader the name suggests, which says what is wrong", () => {
    expect(detectModelFormat(file("model.json", "this is { not json"))).toBe("tfjs-json");
    expect(detectModelFormat(file("model.json", ""))).toBe("tfjs-json");
    expect(detectModelFormat(file("model.onnx", bytes([0xff, 0xff, 0xff])))).toBe("onnx");
    expect(() => loadModel(file("model.json", "this is { not json"))).toThrow(/not valid JSON/);
    expect(() => loadModel(file("model.onnx", bytes([0xff, 0xff, 0xff])))).toThrow(/not a readable ONNX model/);
  });

  it("loadModel lowers a PyTorch export even when it is named model.json (NHWC input, batch 1)", () => {
    const dir = freshDir();
    copyFileSync(ONNX_FIXTURE, join(dir, "model.json"));
    const graph = loadModel(join(dir, "model.json"));
    expect(graph.tensors.get(graph.inputs[0])?.shape).toEqual([1, 4, 4, 1]);
    expect(graph.tensors.get(graph.outputs[0])?.shape).toEqual([1, 3]);
  });

  it("isWasmFile looks at the bytes", () => {
    expect(isWasmFile(file("blob.bin", bytes([0], "asm", [1, 0, 0, 0])))).toBe(true);
    expect(isWasmFile(ONNX_FIXTURE)).toBe(false);
    expect(isWasmFile(join(root, "missing.wasm"))).toBe(false);
    expect(isWasmFile("/dev/zero")).toBe(false);
  });
});

describe("the CLI", () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "dist", "bin", "kiln.js"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });

  it("kiln compile on a Keras .h5 prints the recipe on one line and exits 1", () => {
    const path = file("model.h5", HDF5);
    const r = cli("compile", path);
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("tensorflowjs_converter --input_format keras");
  });

  it("kiln compile model.onnx writes a blob", () => {
    const dir = freshDir();
    copyFileSync(ONNX_FIXTURE, join(dir, "tiny.onnx"));
    const r = cli("compile", join(dir, "tiny.onnx"), "--quantize", "none", "--json");
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { output: string };
    expect(out.output).toBe(join(dir, "model.wasm"));
    expect(readFileSync(out.output).subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
  });
});
