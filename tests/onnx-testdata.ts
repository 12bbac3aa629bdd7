// ONNX's own node tests (Debian's libonnx-testdata): find them by op type, read their model and input/output TensorProtos.
//
// Deliberately independent of Kiln's ONNX reader: the expected outputs are decoded here with onnx-proto alone, so a
// bug in compiler/frontends/onnx/reader.ts cannot make a wrong result look right. Every file is bounded before it is
// read (these are system files, but a damaged package must fail a test, not hang or exhaust memory).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.ModelProto;
type ITensorProto = onnxProto.onnx.ITensorProto;

/** Where Debian's libonnx-testdata puts the node tests (one folder per test: model.onnx + test_data_set_0/). */
export const NODE_TEST_ROOT = "/usr/share/libonnx-testdata/data/node";
export const TESTDATA_INSTALL = "apt-get install libonnx-testdata";

/** Bounds on what is read: the largest file of the 1.12 package is far below these. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const MAX_ELEMENTS = 2 ** 22;
const MAX_TESTS = 5000;

/** A decoded TensorProto: values as JS numbers (float32 values exactly as stored; int64 checked to be safe integers). */
export interface TestTensor {
  name: string;
  dims: number[];
  /** ONNX element type name: "float32", "uint8", "int8", "int32", "int64", "bool", "float64", … */
  dtype: string;
  values: number[];
}

export interface NodeTest {
  /** The folder name, e.g. "test_conv_with_strides_padding". */
  name: string;
  dir: string;
  modelPath: string;
  /** Op types of the graph's nodes, in order (one for a plain node test, several for an "_expanded" one). */
  opTypes: string[];
  opset: number;
  model: ModelProto;
  /** The graph's declared inputs and outputs, in order (test_data_set_0's input_i.pb belongs to inputs[i]). */
  inputNames: string[];
  outputNames: string[];
  /** False when an input or output is a sequence, map or optional (its .pb is no TensorProto; Kiln must refuse the model). */
  tensorsOnly: boolean;
}

const DTYPE_NAMES: Record<number, string> = {
  1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string", 9: "bool",
  10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
};

function readBounded(path: string): Uint8Array {
  const size = statSync(path).size;
  if (size > MAX_FILE_BYTES) throw new Error(`${path}: ${size} bytes, more than the ${MAX_FILE_BYTES} this loader reads`);
  return readFileSync(path);
}

/** A protobuf int64 (number or Long) as a safe JS integer. */
function int64(v: unknown): number {
  const n = typeof v === "number" ? v : Number(String(v));
  if (!Number.isSafeInteger(n)) throw new Error(`int64 value ${String(v)} is outside ±2^53`);
  return n;
}

/** An IEEE half-precision value from its 16 bits. */
function float16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1, exp = (bits >> 10) & 0x1f, frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The values of a TensorProto (raw_data little-endian, or the typed field its type uses). */
export function decodeTensor(t: ITensorProto): TestTensor {
  const dims = (t.dims ?? []).map(int64);
  const count = dims.reduce((a, b) => a * b, 1);
  if (dims.some((d) => d < 0) || count > MAX_ELEMENTS) throw new Error(`tensor ${t.name}: dims [${dims}] are not a bounded shape`);
  const type = t.dataType ?? 0;
  const dtype = DTYPE_NAMES[type] ?? `type ${type}`;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  let values: number[];
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const width: Record<string, number> = { float32: 4, uint8: 1, int8: 1, uint16: 2, int16: 2, int32: 4, int64: 8, bool: 1, float64: 8, uint32: 4, float16: 2 };
    const w = width[dtype];
    if (w === undefined) throw new Error(`tensor ${t.name}: raw data of ${dtype} is not read by this loader`);
    if (raw.byteLength !== count * w) throw new Error(`tensor ${t.name}: ${raw.byteLength} raw bytes for ${count} ${dtype} values`);
    const read: Record<string, (i: number) => number> = {
      float32: (i) => view.getFloat32(i * 4, true), uint8: (i) => view.getUint8(i), int8: (i) => view.getInt8(i),
      uint16: (i) => view.getUint16(i * 2, true), int16: (i) => view.getInt16(i * 2, true), int32: (i) => view.getInt32(i * 4, true),
      int64: (i) => int64(view.getBigInt64(i * 8, true)), bool: (i) => view.getUint8(i), float64: (i) => view.getFloat64(i * 8, true),
      uint32: (i) => view.getUint32(i * 4, true), float16: (i) => float16(view.getUint16(i * 2, true)),
    };
    values = Array.from({ length: count }, (_, i) => read[dtype](i));
  } else if (dtype === "float32") values = [...(t.floatData ?? [])];
  else if (dtype === "float64") values = [...(t.doubleData ?? [])];
  else if (dtype === "int64") values = (t.int64Data ?? []).map(int64);
  else if (["uint8", "int8", "uint16", "int16", "int32", "bool"].includes(dtype)) values = [...(t.int32Data ?? [])];
  else if (dtype === "float16") values = (t.int32Data ?? []).map(float16);
  // Strings are no numbers: NaN placeholders, which no computed output ever matches (Kiln must refuse such a test).
  else if (dtype === "string") values = (t.stringData ?? []).map(() => NaN);
  else throw new Error(`tensor ${t.name}: ${dtype} is not read by this loader`);
  if (values.length !== count) throw new Error(`tensor ${t.name}: ${values.length} values for dims [${dims}]`);
  return { name: t.name ?? "", dims, dtype, values };
}

export function readTensorFile(path: string): TestTensor {
  return decodeTensor(onnx.TensorProto.decode(readBounded(path)));
}

export function readModel(path: string): ModelProto {
  return onnx.ModelProto.decode(readBounded(path));
}

function loadNodeTest(dir: string, name: string): NodeTest {
  const modelPath = join(dir, "model.onnx");
  const model = readModel(modelPath);
  const graph = model.graph;
  if (!graph) throw new Error(`${modelPath}: no graph`);
  const opset = model.opsetImport?.find((o) => !o.domain || o.domain === "ai.onnx")?.version;
  return {
    name, dir, modelPath, model,
    opTypes: (graph.node ?? []).map((n) => n.opType ?? ""),
    opset: opset === undefined || opset === null ? 0 : int64(opset),
    inputNames: (graph.input ?? []).map((v) => v.name ?? ""),
    outputNames: (graph.output ?? []).map((v) => v.name ?? ""),
    tensorsOnly: [...(graph.input ?? []), ...(graph.output ?? [])].every((v) => v.type?.tensorType),
  };
}

/** Whether the package is installed (the folder of node tests exists). */
export function hasNodeTests(root = NODE_TEST_ROOT): boolean {
  return existsSync(root);
}

/**
 * Every node test whose graph is exactly one node of one of `opTypes` (ONNX's plain node tests; "_expanded" tests,
 * which spell an op as a subgraph of others, are left out), sorted by name.
 */
export function nodeTestsFor(opTypes: readonly string[], root = NODE_TEST_ROOT): NodeTest[] {
  const names = readdirSync(root).filter((n) => n.startsWith("test_")).sort();
  if (names.length > MAX_TESTS) throw new Error(`${root}: ${names.length} tests, more than the ${MAX_TESTS} this loader reads`);
  const wanted = new Set(opTypes);
  const tests: NodeTest[] = [];
  for (const name of names) {
    const dir = join(root, name);
    if (!existsSync(join(dir, "model.onnx"))) continue;
    const test = loadNodeTest(dir, name);
    if (test.opTypes.length === 1 && wanted.has(test.opTypes[0])) tests.push(test);
  }
  return tests;
}

/** test_data_set_0's inputs (input_i.pb for each declared graph input, in order) and expected outputs. */
export function testData(test: NodeTest, set = 0): { inputs: TestTensor[]; outputs: TestTensor[] } {
  const folder = join(test.dir, `test_data_set_${set}`);
  const read = (kind: string, count: number): TestTensor[] => {
    const out: TestTensor[] = [];
    for (let i = 0; i < count; i++) {
      const path = join(folder, `${kind}_${i}.pb`);
      if (!existsSync(path)) break;
      out.push(readTensorFile(path));
    }
    return out;
  };
  return { inputs: read("input", test.inputNames.length), outputs: read("output", test.outputNames.length) };
}

/** The raw protobuf of test_data_set_0's input_i.pb (to place it in a model as an initializer). */
export function inputTensorProto(test: NodeTest, index: number, set = 0): onnxProto.onnx.TensorProto {
  return onnx.TensorProto.decode(readBounded(join(test.dir, `test_data_set_${set}`, `input_${index}.pb`)));
}
