// The ONNX reader: models written by PyTorch's exporter and ONNX's own Python library are read as ONNX reads them,
// and hostile files (truncated, garbage, huge dims, int64 overflow, escaping external data) give one-line KilnErrors.
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";
import type { onnx as Onnx } from "onnx-proto";
import { KilnError } from "../compiler/errors.js";
import { readOnnx } from "../compiler/frontends/onnx/reader.js";
import { MAX_PACKED_VALUES, MAX_PROTO_FIELDS } from "../compiler/frontends/onnx/proto-scan.js";
import type { OnnxTensor } from "../compiler/frontends/onnx/model.js";
import { requireCommand } from "./require-tool.js";

const { onnx } = onnxProto;
const FIXTURES = fileURLToPath(new URL("fixtures/onnx/", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "kiln-onnx-reader-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let serial = 0;
const freshDir = (): string => { const d = join(root, `m${serial++}`); mkdirSync(d); return d; };

// ---- models written by onnx-proto's encoder ----

const FLOAT = 1;
const f32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);
const input = (name: string, dims: (number | string | null)[], elemType = FLOAT): Onnx.IValueInfoProto => ({
  name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (d === null ? {} : typeof d === "string" ? { dimParam: d } : { dimValue: d })) } } },
});

/** x [batch, 1, 4, 4] → Conv(w) → y: the smallest model the hostile cases mutate. */
function baseGraph(): Onnx.IGraphProto {
  return {
    name: "g",
    input: [input("x", ["batch", 1, 4, 4])],
    output: [input("y", ["batch", 2, 2, 2])],
    initializer: [{ name: "w", dims: [2, 1, 3, 3], dataType: FLOAT, rawData: f32(Array.from({ length: 18 }, (_, i) => i / 8)) }],
    node: [{ name: "conv", opType: "Conv", input: ["x", "w"], output: ["y"], attribute: [{ name: "kernel_shape", type: 7, ints: [3, 3] }] }],
  };
}

function encode(graph: Onnx.IGraphProto, opsetImport: Onnx.IOperatorSetIdProto[] = [{ domain: "", version: 13 }]): Uint8Array {
  return onnx.ModelProto.encode({ irVersion: 8, producerName: "kiln-test", opsetImport, graph }).finish();
}

function save(bytes: Uint8Array, dir = freshDir(), name = "model.onnx"): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** The reader's failure: a KilnError (never a raw JS error) on one line naming the file, without raw control characters. */
function readError(path: string): string {
  let caught: unknown;
  try { readOnnx(path); } catch (e) { caught = e; }
  expect(caught, "expected the read to fail").toBeInstanceOf(KilnError);
  const message = (caught as KilnError).message;
  expect(message).toContain(path);
  expect(message).not.toMatch(/[\n\r\u001b\u202e]/);
  return message;
}
const mutatedError = (change: (g: Onnx.IGraphProto) => void): string => { const g = baseGraph(); change(g); return readError(save(encode(g))); };

// ---- what ONNX's own library read from the fixtures (tests/fixtures/onnx/make_reader_fixtures.py) ----

interface Expected {
  opset: number; producer: string; outputs: string[]; ops: string[];
  inputs: { name: string; dims: (number | string | null)[] }[];
  tensors: Record<string, { dims: number[]; dtype: string; values: number[] }>;
}
const expectedOf = (name: string): Expected => JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as Expected;

function expectTensorsMatch(actual: Map<string, OnnxTensor>, expected: Expected["tensors"]): void {
  expect([...actual.keys()].sort()).toEqual(Object.keys(expected).sort());
  for (const [name, want] of Object.entries(expected)) {
    const got = actual.get(name)!;
    expect(got.dims, name).toEqual(want.dims);
    // Kiln holds float16 and double as float32: equal within float32 rounding; every integer type exactly.
    const tolerance = want.dtype.startsWith("float") ? Math.max(...want.values.map(Math.abs), 1) * 2 ** -23 : 0;
    Array.from(got.data).forEach((v, i) => expect(Math.abs(v - want.values[i]), `${name}[${i}]`).toBeLessThanOrEqual(tolerance));
  }
}

describe("the ONNX reader reads what ONNX's own library reads", () => {
  it("a model exported by torch.onnx.export (dynamic batch: batch dim → 1)", () => {
    const want = expectedOf("torch-tiny.expected.json");
    const model = readOnnx(join(FIXTURES, "torch-tiny.onnx"));
    expect(model.opset).toBe(want.opset);
    expect(model.producer).toBe(want.producer);
    expect(model.inputs).toEqual([{ name: "input", dims: [1, ...want.inputs[0].dims.slice(1)], dtype: "float32" }]);
    expect(want.inputs[0].dims[0]).toBe("batch");
    expect(model.outputs.map((o) => o.name)).toEqual(want.outputs);
    expect(model.nodes.map((n) => n.opType)).toEqual(want.ops);
    expectTensorsMatch(model.initializers, want.tensors);
    const gemm = model.nodes.find((n) => n.opType === "Gemm")!;
    expect(gemm.attrs.get("transB")).toBe(1);
    expect(gemm.attrs.get("alpha")).toBe(1);
  });

  it("the same model with its weights in tiny.onnx.data (onnx.save_model, save_as_external_data)", () => {
    const model = readOnnx(join(FIXTURES, "external", "tiny.onnx"));
    expectTensorsMatch(model.initializers, expectedOf("external.expected.json").tensors);
    expectTensorsMatch(model.initializers, expectedOf("torch-tiny.expected.json").tensors);
  });

  it("every element type from raw_data and typed fields, and Constant nodes as initializers (onnx.helper)", () => {
    const want = expectedOf("helper-types.expected.json");
    const model = readOnnx(join(FIXTURES, "helper-types.onnx"));
    expect(model.opset).toBe(11);
    expect(model.inputs).toEqual([{ name: "X", dims: [1, 3], dtype: "float32" }]);
    expect(model.nodes.map((n) => n.opType)).toEqual(want.ops);
    expectTensorsMatch(model.initializers, want.tensors);
    expect(model.initializers.get("i64_typed")!.dtype).toBe("int64");
    expect(model.initializers.get("bool_typed")!.data).toEqual(Uint8Array.of(1, 0, 1));
    const pad = model.nodes.find((n) => n.opType === "Pad")!;
    expect(pad.attrs.get("mode")).toBe("reflect");
    expect(model.nodes.find((n) => n.opType === "LeakyRelu")!.attrs.get("alpha")).toBe(0.125);
  });
});

describe("graph inputs, opsets and topology", () => {
  it("drops graph inputs that are initializers (older exporters list weights as inputs)", () => {
    const g = baseGraph();
    g.input!.push(input("w", [2, 1, 3, 3]));
    expect(readOnnx(save(encode(g))).inputs.map((i) => i.name)).toEqual(["x"]);
  });

  it.each([[null, 1], ["N", 1], [-1, 1], [1, 1], [3, 3]])("first dim %s reads as %s", (first, want) => {
    const g = baseGraph();
    g.input = [input("x", [first, 1, 4, 4])];
    expect(readOnnx(save(encode(g))).inputs[0].dims).toEqual([want, 1, 4, 4]);
  });

  it.each([["height", "symbolic size 'height'"], [null, "unknown size"]])("an open non-batch dim (%s) names the input and the fix", (dim, what) => {
    const message = mutatedError((g) => { g.input = [input("image\u001b[2J", [1, 1, dim, 4])]; });
    expect(message).toContain(what);
    expect(message).toContain("dimension 2");
    expect(message).toContain(String.raw`'image\u001b[2J'`);
    expect(message).toMatch(/re-export with a fixed input shape.*dynamic_axes/);
  });

  it.each([6, 22])("opset %i is refused with the supported range", (version) => {
    const message = readError(save(encode(baseGraph(), [{ domain: "", version }])));
    expect(message).toContain(`opset ${version}`);
    expect(message).toContain("7–21");
  });

  it("a model importing only another domain is refused", () => {
    expect(readError(save(encode(baseGraph(), [{ domain: "com.microsoft", version: 1 }])))).toContain("no ai.onnx opset");
  });

  it("a node reading a value nobody defines, or defined only later, or writing one twice", () => {
    expect(mutatedError((g) => { g.node![0].input = ["x", "nowhere"]; })).toMatch(/node 'conv' \(Conv\) reads 'nowhere', which no node/);
    expect(mutatedError((g) => {
      g.node = [{ name: "a", opType: "Relu", input: ["t"], output: ["y"] }, { name: "b", opType: "Relu", input: ["x"], output: ["t"] }];
    })).toContain("not in topological order");
    expect(mutatedError((g) => { g.node!.push({ name: "again", opType: "Relu", input: ["x"], output: ["y"] }); })).toContain("already defined");
    expect(mutatedError((g) => { g.output = [input("missing", [1])]; })).toContain("'missing' is computed by no node");
  });
});

describe("hostile ONNX files give one-line KilnErrors, before allocating anything large", () => {
  it("a protobuf cut short at every 7th byte", () => {
    const bytes = encode(baseGraph());
    for (let end = 1; end < bytes.length; end += 7) {
      const message = readError(save(bytes.subarray(0, end)));
      expect(message).toMatch(/not a readable ONNX model|not an ONNX model|no ai\.onnx opset|declares no outputs|no inputs/);
    }
  });

  it("garbage bytes, seeded, 200 files", () => {
    let seed = 15;
    const random = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 24; };
    for (let n = 0; n < 200; n++) {
      const bytes = Uint8Array.from({ length: 1 + (n % 50) * 3 }, random);
      bytes[0] = 0x08; // looks like ONNX's first field, so the protobuf decoder is what gets the garbage
      readError(save(bytes));
    }
  });

  it("messages nested 200 000 deep (graph → node → attribute → graph …) end in an error, not a stack overflow", () => {
    // Every level's only content is the next level, so the bytes are the headers outside-in, then nothing.
    const tags = [0x0a, 0x2a, 0x32]; // GraphProto.node, NodeProto.attribute, AttributeProto.g
    const varint = (v: number): number[] => { const out: number[] = []; while (v > 0x7f) { out.push((v & 0x7f) | 0x80); v >>>= 7; } out.push(v); return out; };
    const headers: number[][] = [];
    let length = 0;
    const levels = 200_000;
    for (let level = 0; level < levels; level++) {
      const header = [tags[(levels - 1 - level) % 3], ...varint(length)]; // the outermost is a GraphProto.node
      headers.push(header);
      length += header.length;
    }
    const bytes = Uint8Array.from([0x08, 0x08, 0x3a, ...varint(length), ...headers.reverse().flat()]);
    expect(readError(save(bytes))).toContain("nested too deeply");
  });

  it("millions of empty messages or packed numbers are counted before the decoder allocates an object for each", () => {
    const varint = (v: number): number[] => { const out: number[] = []; while (v > 0x7f) { out.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); } out.push(v); return out; };
    const graphOf = (content: Uint8Array): Uint8Array => Uint8Array.from([0x08, 0x08, 0x3a, ...varint(content.length), ...content]);
    const emptyNodes = new Uint8Array(2 * (MAX_PROTO_FIELDS + 1)).fill(0).map((_, i) => (i % 2 === 0 ? 0x0a : 0)); // GraphProto.node, length 0
    expect(readError(save(graphOf(emptyNodes)))).toContain(`more than ${MAX_PROTO_FIELDS} protobuf fields`);
    const count = MAX_PACKED_VALUES + 1, header = [0x2a, ...varint(count + 1 + varint(count).length), 0x3a, ...varint(count)]; // initializer { int64_data: [0, 0, …] }
    const packed = new Uint8Array(header.length + count);
    packed.set(header);
    expect(readError(save(graphOf(packed)))).toContain("typed protobuf fields; Kiln reads larger tensors from raw_data");
    expect(readError(save(Uint8Array.from([0x08, 0x08, 0x3b])))).toContain("wire type 3");
  });

  it("huge declared dims are refused from the dims, before any allocation", () => {
    const message = mutatedError((g) => { g.initializer![0].dims = [65536, 65536, 65536]; });
    expect(message).toContain("initializer 'w'");
    expect(message).toContain("limit");
    expect(mutatedError((g) => { g.initializer![0].dims = [2, -1, 3, 3]; })).toContain("not an integer ≥ 0");
    expect(mutatedError((g) => { g.initializer![0].dims = [1, 1, 1, 1, 1, 1, 1, 1, 18]; })).toContain("9 dimensions");
  });

  it("raw data that does not match the dims", () => {
    expect(mutatedError((g) => { g.initializer![0].rawData = f32([1, 2, 3]); })).toContain("12 bytes of raw data, but dims [2, 1, 3, 3] of float need 72");
    expect(mutatedError((g) => { g.initializer![0] = { name: "w", dims: [2, 1, 3, 3], dataType: FLOAT, floatData: [1, 2] }; })).toContain("holds 2 values");
  });

  it("int64 values beyond ±2^53 are refused in dims and shapes (their exact value named), and saturate in data and attributes", () => {
    const beyond = { low: 0, high: 0x00400000, unsigned: false }; // 2^54
    expect(mutatedError((g) => { g.initializer![0].dims = [beyond, 1]; })).toContain("beyond ±2^53 (18014398509481984)");
    expect(mutatedError((g) => { g.input = [{ ...input("x", [1, 1, 4, 4]) }]; g.input[0].type!.tensorType!.shape!.dim![2] = { dimValue: beyond }; })).toContain("beyond ±2^53");
    // PyTorch writes INT64_MAX / INT64_MIN as Slice's "to the end": any value past the axis means the same there.
    const g = baseGraph();
    const raw = new Uint8Array(16); raw[7] = 0x80; raw.fill(0xff, 8, 15); raw[15] = 0x7f; // INT64_MIN, INT64_MAX, little-endian
    g.initializer!.push({ name: "ends", dims: [2], dataType: 7, rawData: raw }, { name: "big", dims: [1], dataType: 7, int64Data: [beyond] });
    g.node![0].attribute = [...(g.node![0].attribute ?? []), { name: "kiln_probe", type: 7, ints: [beyond] }];
    const model = readOnnx(save(encode(g)));
    expect(Array.from(model.initializers.get("ends")!.data)).toEqual([-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]);
    expect(Array.from(model.initializers.get("big")!.data)).toEqual([Number.MAX_SAFE_INTEGER]);
    expect(model.nodes[0].attrs.get("kiln_probe")).toEqual([Number.MAX_SAFE_INTEGER]);
  });

  it("element types Kiln does not hold are named", () => {
    expect(mutatedError((g) => { g.initializer!.push({ name: "s", dims: [1], dataType: 8, stringData: [new Uint8Array(1)] }); })).toMatch(/element type string; Kiln reads float/);
  });

  it("hostile names are escaped in messages", () => {
    const message = mutatedError((g) => { g.node![0].name = "\u001b[31mred\u202e"; g.node![0].input = ["x", "\r\nforged"]; });
    expect(message).toContain(String.raw`'\u001b[31mred\u202e'`);
    expect(message).toContain(String.raw`'\u000d\u000aforged'`);
  });
});

describe("external data stays inside the model's folder", () => {
  function externalModel(location: string, offset = "0", length = "72", dir = freshDir()): string {
    const g = baseGraph();
    g.initializer![0] = { name: "w", dims: [2, 1, 3, 3], dataType: FLOAT, dataLocation: 1, externalData: [{ key: "location", value: location }, { key: "offset", value: offset }, { key: "length", value: length }] };
    return save(encode(g), dir);
  }

  it("reads the bytes at offset and length, little-endian", () => {
    const dir = freshDir();
    const values = Array.from({ length: 18 }, (_, i) => i - 8.5);
    writeFileSync(join(dir, "model.onnx.data"), Buffer.concat([Buffer.alloc(16, 0xee), f32(values)]));
    expect(Array.from(readOnnx(externalModel("model.onnx.data", "16", "72", dir)).initializers.get("w")!.data)).toEqual(values);
  });

  it.each([["../secret.bin", "outside the model's folder"], ["/etc/passwd", "outside the model's folder"], ["missing.data", "not found"], ["", "not a file name"]])(
    "location %j is refused (%s)", (location, why) => {
      const dir = freshDir();
      writeFileSync(join(dir, "..", "secret.bin"), f32(Array(18).fill(1)));
      expect(readError(externalModel(location, "0", "72", dir))).toContain(why);
    });

  it("a symlink inside the folder leading outside is refused; a folder or a device is not read", () => {
    const dir = freshDir();
    symlinkSync("/etc/hostname", join(dir, "link.data"));
    symlinkSync("/dev/zero", join(dir, "zero.data"));
    mkdirSync(join(dir, "sub.data"));
    expect(readError(externalModel("link.data", "0", "72", dir))).toContain("leads outside the model's folder");
    expect(readError(externalModel("zero.data", "0", "72", dir))).toContain("leads outside the model's folder");
    expect(readError(externalModel("sub.data", "0", "72", dir))).toContain("not a regular file");
  });

  const fifo = requireCommand("mkfifo", "apt-get install coreutils");
  it.skipIf(!fifo.ok)(`a FIFO is refused without waiting for a writer${fifo.note}`, () => {
    const dir = freshDir();
    expect(spawnSync("mkfifo", [join(dir, "pipe.data")]).status).toBe(0);
    expect(readError(externalModel("pipe.data", "0", "72", dir))).toContain("not a regular file");
  });

  it("offsets and lengths are checked against the dims and the file before reading", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "w.data"), f32(Array(18).fill(1)));
    expect(readError(externalModel("w.data", "8", "72", dir))).toContain("holds only 72");
    expect(readError(externalModel("w.data", "0", "999999999999", dir))).toContain("declares 999999999999 bytes");
    expect(readError(externalModel("w.data", "-1", "72", dir))).toContain("not a byte count");
    expect(readError(externalModel("w.data", "99999999999999999999", "72", dir))).toContain("not a byte count");
  });
});
