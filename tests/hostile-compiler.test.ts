// Hostile model files against the compiler: nothing from a file reaches generated source, and every bad file
// ends in a one-line KilnError naming the file and the layer/node (never a raw JS message).
import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileFile, DEFAULT_COMPILE_OPTIONS, generateModel, loadModel } from "../compiler/compile.js";
import { KilnError } from "../compiler/errors.js";
import { quantizePixels, runInt8 } from "../compiler/int8-interpreter.js";
import { runFloat } from "../compiler/interpreter.js";
import { checkGeneratedSource } from "../compiler/codegen/source-guard.js";
import { kernelLibrary } from "../compiler/codegen/kernels.js";
import { MAX_LAYERS, MAX_MODEL_JSON_BYTES, MAX_TENSOR_ELEMENTS, MAX_WEIGHT_ELEMENTS } from "../compiler/limits.js";
import { Model } from "../runtime/model.js";
import { GraphBuilder } from "../compiler/frontends/builder.js";
import { GRAPH_NAMES, graphNode, layerConfig, pixelsFor, renameLayer, tinyGraphModel, tinyModel, writeModel, type ModelFiles } from "./hostile-models.js";

const root = mkdtempSync(join(tmpdir(), "kiln-hostile-"));
let dirs = 0;
const save = (files: ModelFiles): string => writeModel(join(root, `m${dirs++}`), files);

/** What must never show in a user-facing message. */
const RAW_JS = /is not a function|Invalid typed array|Maximum call stack|Cannot read prop|is not iterable|undefined|\bNaN\b|\[object Object\]|Unexpected token|must be of type/;

/** Loads `path` expecting a clean KilnError: one line, naming the file, with no raw JS wording. */
function loadError(path: string): string {
  let caught: unknown;
  try { loadModel(path); } catch (e) { caught = e; }
  expect(caught, "expected loadModel to fail").toBeInstanceOf(KilnError);
  const message = (caught as Error).message;
  expect(message).not.toContain("\n");
  expect(message).toContain(path);
  expect(message).not.toMatch(RAW_JS);
  return message;
}

/** A tiny model with one mutation applied, saved; returns its loadModel error. */
function mutated(mutate: (files: ModelFiles) => void, base: () => ModelFiles = () => tinyModel()): string {
  const files = base();
  mutate(files);
  return loadError(save(files));
}

/** A module's sections: custom ones by name, the others as "#id"; `text` is the payload as latin1. */
function wasmSections(wasm: Uint8Array): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  let at = 8;
  const leb = (): number => {
    let v = 0, shift = 0, b: number;
    do { b = wasm[at++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return v;
  };
  while (at < wasm.length) {
    const id = wasm[at++], size = leb(), end = at + size;
    let name = `#${id}`;
    if (id === 0) { const n = leb(); name = Buffer.from(wasm.subarray(at, at + n)).toString("utf8"); at += n; }
    out.push({ name, text: Buffer.from(wasm.subarray(at, end)).toString("latin1") });
    at = end;
  }
  return out;
}

const INJECTED = "m\nmemory.fill(0, 0, 65536 * 3);\n//";
const FLOAT = { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" as const };

/** The generated source of a float compile (no asc): names may appear nowhere in it. */
function floatSource(path: string): string {
  return generateModel(loadModel(path), FLOAT).source;
}

describe("names from a model file never reach generated source", () => {
  it("the issue's exploit (a model name with a newline and code) builds a blob that predicts like the int8 reference", async () => {
    const path = save(tinyModel(INJECTED));
    const size = 64;
    const calibration = join(root, "calibration.u8");
    writeFileSync(calibration, pixelsFor(40, size, 5));
    const compiled = await compileFile(path, { ...DEFAULT_COMPILE_OPTIONS, calibration, calibrationCount: 40 });
    expect(compiled.source).not.toContain("memory.fill");
    expect(compiled.source).not.toContain("65536 * 3");
    expect(compiled.manifest.model).toBe(INJECTED);
    const model = await Model.load(compiled.wasm);
    expect(model.info.model).toBe(INJECTED);
    const tests = pixelsFor(8, size, 99);
    for (let i = 0; i < 8; i++) {
      const pixels = tests.subarray(i * size, (i + 1) * size);
      const expected = runInt8(compiled.graph, quantizePixels(compiled.graph, pixels, 1 / 255, 0));
      model.predict(pixels);
      expect(Array.from(model.rawOutput() as Int8Array)).toEqual(Array.from(expected));
    }
    // The name's text is in the blob only inside the manifest's section.
    const sections = wasmSections(compiled.wasm);
    expect(sections.find((sec) => sec.name === "kiln.manifest")?.text).toContain("memory.fill(0, 0, 65536 * 3)");
    for (const sec of sections.filter((x) => x.name !== "kiln.manifest")) expect(sec.text).not.toContain("memory.fill");
  });

  it("a float blob of the same model answers like the float reference", async () => {
    const path = save(tinyModel(INJECTED));
    const compiled = await compileFile(path, FLOAT);
    const model = await Model.load(compiled.wasm);
    const x = Float32Array.from(pixelsFor(1, 64, 3), (p) => p / 255);
    model.predict(pixelsFor(1, 64, 3));
    const expected = runFloat(compiled.graph, x);
    const got = model.scores();
    for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i], 4);
  });

  it("layer names carrying code appear nowhere in the source", () => {
    const files = tinyModel();
    renameLayer(files, "conv", "c\n}\nexport function evil(): void { memory.fill(0, 0, 9); }\n//");
    renameLayer(files, "dense", "d */ memory.fill(0, 0, 9); /*");
    const source = floatSource(save(files));
    expect(source).not.toContain("evil");
    expect(source).not.toContain("memory.fill");
    expect(source).not.toMatch(/[*]\//);
  });

  it("GraphModel node names carrying code appear nowhere in the source", () => {
    const names = { ...GRAPH_NAMES, input: "x\nmemory.fill(0, 0, 9);//", conv: "conv');memory.fill(0,0,9);('", matmul: "mm\u2028memory.fill(0,0,9)" };
    const source = floatSource(save(tinyGraphModel(names)));
    expect(source).not.toContain("memory.fill");
  });

  it("labels carrying code reach only the manifest", () => {
    const labels = ["a\nmemory.fill(0, 0, 9);", "b\u001b[2J", "c"];
    const generated = generateModel(loadModel(save(tinyModel())), { ...FLOAT, labels });
    expect(generated.source).not.toContain("memory.fill");
    expect(generated.manifest.labels).toEqual(labels);
  });

  it("refuses labels that do not match the model's outputs", () => {
    expect(() => generateModel(loadModel(save(tinyModel())), { ...FLOAT, labels: ["a", "b"] })).toThrow(/2 labels.*3 outputs/);
  });

  it("the generated source has no string, comment or identifier from the file at all", () => {
    const source = floatSource(save(tinyModel("my-model-name")));
    expect(source).not.toContain("my-model-name");
    expect(source).not.toMatch(/\bconv\b|\bdense\b|\bpool\b|\bflat\b/);
  });
});

describe("the source guard (defense in depth before asc)", () => {
  const kernels = kernelLibrary();
  const real = floatSource(save(tinyModel()));
  const layerNames = ["conv", "pool", "flat", "dense"];

  it("accepts what codegen emits", () => {
    expect(() => checkGeneratedSource(real, layerNames, kernels)).not.toThrow();
  });

  /** Replaces the first statement of layer_1 with `statement` and expects a KilnError naming 'pool'. */
  const rejects = (statement: string): void => {
    const lines = real.split("\n");
    const at = lines.indexOf("function layer_1(): void {") + 1;
    lines[at] = `  ${statement}`;
    let caught: unknown;
    try { checkGeneratedSource(lines.join("\n"), layerNames, kernels); } catch (e) { caught = e; }
    expect(caught, statement).toBeInstanceOf(KilnError);
    expect((caught as Error).message).toContain("'pool'");
    expect((caught as Error).message).not.toContain("\n");
  };

  it.each([
    ["a loop", "while (true) {}"],
    ["an unknown function", "evil(16, 32);"],
    ["a kernel with a string argument", `max_pool_f32(16, 32, 6, 6, 4, 3, 3, 2, 2, 2, 2, 0, "0");`],
    ["a kernel with an expression argument", "max_pool_f32(16, 32, 6, 6, 4, 3, 3, 2, 2, 2, 2, 0, 65536 * 3);"],
    ["a kernel with NaN", "max_pool_f32(16, 32, 6, 6, 4, 3, 3, 2, 2, 2, 2, 0, NaN);"],
    ["a kernel with Infinity", "max_pool_f32(16, 32, 6, 6, 4, 3, 3, 2, 2, 2, 2, 0, Infinity);"],
    ["a fraction where the kernel takes an integer", "max_pool_f32(16, 32, 6, 6, 4, 3, 3, 1.5, 2, 2, 2, 0, 0);"],
    ["an integer beyond i32", "max_pool_f32(16, 32, 6, 6, 4, 3, 3, 4294967296, 2, 2, 2, 0, 0);"],
    ["too few arguments", "max_pool_f32(16, 32, 6);"],
    ["two statements on a line", "memory.fill(0, 0, 9); memory.fill(0, 0, 9);"],
    ["a memory call with an expression", "memory.fill(0, 0, 65536 * 3);"],
    ["a comment", "// nothing"],
    ["an f32 cast of a non-number", "unary_f32(16, 32, 4, 5, <f32>x, 0);"],
  ])("rejects %s", (_what, statement) => rejects(statement));

  it("accepts f32 literals where the kernel takes f32", () => {
    const lines = real.split("\n");
    const at = lines.indexOf("function layer_1(): void {") + 1;
    lines[at] = "  unary_f32(16, 32, 4, 5, <f32>0.30000001192092896, -1e-7);";
    expect(() => checkGeneratedSource(lines.join("\n"), layerNames, kernels)).not.toThrow();
  });

  it("rejects a line outside the template (e.g. code between functions)", () => {
    expect(() => checkGeneratedSource(real.replace("export function run(): void {", "memory.fill(0, 0, 9);\nexport function run(): void {"), layerNames, kernels))
      .toThrow(KilnError);
    expect(() => checkGeneratedSource(`// Generated by Kiln for model 'x'\n${real}`, layerNames, kernels)).toThrow(KilnError);
  });
});

describe("attribute values from the file are numbers of the right kind", () => {
  const INJECT = "1); memory.fill(0,0,9); (";
  it.each([
    ["pool_size", "pool", INJECT], ["pool_size", "pool", 1.5], ["pool_size", "pool", 0], ["pool_size", "pool", -1], ["pool_size", "pool", 1e9],
    ["pool_size", "pool", [2, "2"]], ["strides", "pool", INJECT], ["strides", "pool", 0], ["strides", "pool", 1.5], ["strides", "conv", -1],
    ["strides", "conv", [1, INJECT]], ["strides", "conv", 1e9], ["padding", "conv", INJECT], ["padding", "conv", { same: 1 }],
    ["activation", "conv", { class_name: "constructor" }], ["activation", "dense", "toString"], ["use_bias", "dense", "no"],
    ["dilation_rate", "conv", [1.5, 1]], ["data_format", "conv", { x: 1 }],
  ])("%s of layer '%s' = %j", (key, layer, value) => {
    const message = mutated((f) => { layerConfig(f, layer)[key] = value; });
    expect(message).toContain(`'${layer}'`);
  });

  function withLayer(layer: Record<string, unknown>): () => ModelFiles {
    return () => {
      const files = tinyModel();
      files.json.modelTopology.config.layers.splice(1, 0, layer);
      return files;
    };
  }

  it.each([
    ["Rescaling scale", { class_name: "Rescaling", config: { name: "r", scale: INJECT, offset: 0 } }],
    ["Rescaling offset list", { class_name: "Rescaling", config: { name: "r", scale: 1, offset: [1, 2, "x", 4] } }],
    ["LeakyReLU alpha", { class_name: "LeakyReLU", config: { name: "r", alpha: INJECT } }],
    ["ReLU max_value", { class_name: "ReLU", config: { name: "r", max_value: INJECT } }],
    ["ReLU negative_slope", { class_name: "ReLU", config: { name: "r", negative_slope: "0.1" } }],
    ["ZeroPadding2D padding", { class_name: "ZeroPadding2D", config: { name: "r", padding: [[1, INJECT], [1, 1]] } }],
    ["ZeroPadding2D huge padding", { class_name: "ZeroPadding2D", config: { name: "r", padding: 1e9 } }],
    ["Cropping2D cropping", { class_name: "Cropping2D", config: { name: "r", cropping: 0.5 } }],
    ["Reshape target_shape", { class_name: "Reshape", config: { name: "r", target_shape: [INJECT, 4] } }],
    ["Concatenate axis", { class_name: "Concatenate", config: { name: "r", axis: INJECT } }],
    ["Dropout with a non-string name", { class_name: "Dropout", config: { name: { toString: 1 } } }],
  ])("%s", (_what, layer) => {
    const message = mutated(() => undefined, withLayer(layer));
    expect(message).toMatch(/layer '(r|layer_1)'|layer 1\b/);
  });
});

describe("malformed LayersModel files give one-line KilnErrors", () => {
  it.each(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"])("class_name %s", (cls) => {
    const message = mutated((f) => { (f.json.modelTopology.config.layers[2] as { class_name: string }).class_name = cls; });
    expect(message).toContain("'flat'");
    expect(message).toContain("not support");
  });

  it.each(["constructor", "__proto__", "toString"])("model class_name %s", (cls) => {
    expect(mutated((f) => { f.json.modelTopology.class_name = cls; })).toContain("not supported");
  });

  it.each([
    ["a negative input dimension", [null, -4, 8, 1], /input/],
    ["a fractional input dimension", [null, 8.5, 8, 1], /input/],
    ["a string input dimension", [null, "8", 8, 1], /input/],
    ["a 65536×65536 input", [null, 65536, 65536, 1], /elements|limit/],
    ["a batch of 2", [2, 8, 8, 1], /batch/],
  ])("%s", (_what, shape, pattern) => {
    expect(mutated((f) => { layerConfig(f, "conv").batch_input_shape = shape; })).toMatch(pattern);
  });

  it.each([
    ["a string shape", (f: ModelFiles) => { (f.json.weightsManifest[0].weights[0] as { shape: unknown }).shape = "3,3,1,4"; }],
    ["a negative dimension", (f: ModelFiles) => { f.json.weightsManifest[0].weights[0].shape = [-3, 3, 1, 4]; }],
    ["a fractional dimension", (f: ModelFiles) => { f.json.weightsManifest[0].weights[0].shape = [1.5, 3, 1, 4]; }],
    ["a huge shape", (f: ModelFiles) => { f.json.weightsManifest[0].weights[0].shape = [65536, 65536, 1, 4]; }],
    ["a dtype that is an object", (f: ModelFiles) => { (f.json.weightsManifest[0].weights[0] as { dtype: unknown }).dtype = { a: 1 }; }],
    ["dtype constructor", (f: ModelFiles) => { f.json.weightsManifest[0].weights[0].dtype = "constructor"; }],
    ["a non-number quantization scale", (f: ModelFiles) => { f.json.weightsManifest[0].weights[0].quantization = { dtype: "uint8", scale: "x", min: 0 }; }],
    ["a weight name that is not a string", (f: ModelFiles) => { (f.json.weightsManifest[0].weights[0] as { name: unknown }).name = 7; }],
    ["paths that is not a list", (f: ModelFiles) => { (f.json.weightsManifest[0] as { paths: unknown }).paths = "group1-shard1of1.bin"; }],
    ["a path that is not a string", (f: ModelFiles) => { (f.json.weightsManifest[0] as { paths: unknown }).paths = [7]; }],
    ["weights that is not a list", (f: ModelFiles) => { (f.json.weightsManifest[0] as { weights: unknown }).weights = {}; }],
    ["a group that is null", (f: ModelFiles) => { (f.json.weightsManifest as unknown[])[0] = null; }],
    ["a manifest that is an object", (f: ModelFiles) => { (f.json as { weightsManifest: unknown }).weightsManifest = { paths: [] }; }],
  ])("weights manifest with %s", (_what, mutate) => {
    expect(mutated(mutate)).toMatch(/weight|shard|manifest/);
  });

  it(`more than ${MAX_WEIGHT_ELEMENTS} weight values in all (each weight within the tensor limit)`, () => {
    const message = mutated((f) => {
      for (let i = 0; i < 5; i++) f.json.weightsManifest[0].weights.push({ name: `big${i}`, shape: [4096, 4096], dtype: "float32" });
    });
    expect(message).toContain(`${MAX_WEIGHT_ELEMENTS} weight values`);
  });

  it("NaN weights name the layer", () => {
    const files = tinyModel();
    const shard = files.shards.get("group1-shard1of1.bin")!;
    new DataView(shard.buffer).setFloat32(4 * 5, NaN, true);
    const message = loadError(save(files));
    expect(message).toContain("'conv'");
    expect(message).toMatch(/not finite/);
  });

  it("infinite weights name the layer", () => {
    const files = tinyModel();
    const shard = files.shards.get("group1-shard1of1.bin")!;
    new DataView(shard.buffer).setFloat32(shard.byteLength - 4, -Infinity, true);
    expect(loadError(save(files))).toContain("'dense'");
  });

  it("finite weights whose activations overflow float32 give a clean calibration error naming the tensor", () => {
    const files = tinyModel();
    const shard = files.shards.get("group1-shard1of1.bin")!;
    for (let i = 0; i < 36; i++) new DataView(shard.buffer).setFloat32(4 * i, 3e38, true);
    const calibration = join(root, "overflow.u8");
    writeFileSync(calibration, pixelsFor(8, 64, 21));
    let caught: unknown;
    try { generateModel(loadModel(save(files)), { ...DEFAULT_COMPILE_OPTIONS, calibration, calibrationCount: 8 }); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(KilnError);
    expect((caught as Error).message).toMatch(/'(conv|pool)'.*not finite/);
  });

  it("a BatchNormalization whose variance makes the scale infinite names the layer", () => {
    const files = tinyModel();
    files.json.modelTopology.config.layers.splice(1, 0, { class_name: "BatchNormalization", config: { name: "bn", epsilon: 0 } });
    const zeros = new Uint8Array(64);
    for (const short of ["gamma", "beta", "moving_mean", "moving_variance"]) files.json.weightsManifest[0].weights.push({ name: `bn/${short}`, shape: [4], dtype: "float32" });
    const shard = files.shards.get("group1-shard1of1.bin")!;
    const grown = new Uint8Array(shard.byteLength + zeros.byteLength);
    grown.set(shard);
    files.shards.set("group1-shard1of1.bin", grown);
    expect(loadError(save(files))).toContain("'bn'");
  });

  /** Saves `files` with the string "DEEP" replaced by `inner` nested in 100,000 lists (JSON.stringify cannot write that). */
  const saveDeep = (files: ModelFiles, inner: string): string => {
    const path = save(files);
    writeFileSync(path, readFileSync(path, "utf8").replace('"DEEP"', "[".repeat(100_000) + inner + "]".repeat(100_000)));
    return path;
  };

  it("deeply nested inbound_nodes", () => {
    const files = tinyModel();
    const nested = "DEEP";
    files.json.modelTopology = { class_name: "Functional", config: { name: "f", layers: [
      { class_name: "InputLayer", name: "in", config: { name: "in", batch_input_shape: [null, 8, 8, 1] }, inbound_nodes: [] },
      { class_name: "Dropout", name: "drop", config: { name: "drop" }, inbound_nodes: nested },
    ], input_layers: [["in", 0, 0]], output_layers: [["drop", 0, 0]] } } as never;
    expect(loadError(saveDeep(files, '["in", 0, 0, {}]'))).toMatch(/'drop'.*nest/);
  });

  it("deeply nested output_layers", () => {
    const files = tinyModel();
    const nested = "DEEP";
    files.json.modelTopology = { class_name: "Functional", config: { name: "f", layers: [
      { class_name: "InputLayer", name: "in", config: { name: "in", batch_input_shape: [null, 8, 8, 1] }, inbound_nodes: [] },
    ], input_layers: [["in", 0, 0]], output_layers: nested } } as never;
    expect(loadError(saveDeep(files, '["in", 0, 0]'))).toMatch(/nest/);
  });

  it.each(["conv/kernel", "conv/bias", "dense/bias"])("a layer named like a weight (%s)", (name) => {
    const message = mutated((f) => { layerConfig(f, "flat").name = name; });
    expect(message).toContain(`'${name}' is used twice`);
  });

  it("two layers with one name", () => {
    expect(mutated((f) => { layerConfig(f, "flat").name = "pool"; })).toMatch(/'pool'.*twice|two layers/);
  });

  it(`more than ${MAX_LAYERS} layers`, () => {
    const message = mutated((f) => {
      const extra = Array.from({ length: MAX_LAYERS }, (_v, i) => ({ class_name: "Dropout", config: { name: `d${i}` } }));
      f.json.modelTopology.config.layers.splice(2, 0, ...extra);
    });
    expect(message).toContain(String(MAX_LAYERS));
  });

  it("a model.json larger than the limit is refused before it is read", () => {
    const dir = join(root, "big");
    mkdirSync(dir);
    const path = join(dir, "model.json");
    writeFileSync(path, "");
    truncateSync(path, MAX_MODEL_JSON_BYTES + 1);
    expect(loadError(path)).toMatch(/MiB|limit/);
  });

  it.each([
    ["a topology that is a list", (f: ModelFiles) => { (f.json as { modelTopology: unknown }).modelTopology = []; }],
    ["layers that is not a list", (f: ModelFiles) => { (f.json.modelTopology.config as { layers: unknown }).layers = "conv"; }],
    ["a layer that is a number", (f: ModelFiles) => { (f.json.modelTopology.config.layers as unknown[])[1] = 5; }],
    ["an empty layer list", (f: ModelFiles) => { f.json.modelTopology.config.layers = []; }],
    ["a config that is a list", (f: ModelFiles) => { (f.json.modelTopology.config.layers[3] as { config: unknown }).config = [1]; }],
  ])("%s", (_what, mutate) => { mutated(mutate); });

  it("a JSON file that is a list or a number", () => {
    for (const text of ["[1, 2]", "42", "null", "\"x\""]) {
      const dir = join(root, `json${dirs++}`);
      mkdirSync(dir);
      writeFileSync(join(dir, "model.json"), text);
      loadError(join(dir, "model.json"));
    }
  });

  it("a model path that is a device is refused without reading it", () => {
    let caught: unknown;
    try { loadModel("/dev/zero"); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(KilnError);
    expect((caught as Error).message).toMatch(/not a regular file/);
  });
});

describe("malformed GraphModel files give one-line KilnErrors", () => {
  const graph = (mutate: (f: ModelFiles) => void): string => mutated(mutate, () => tinyGraphModel());

  it.each(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"])("op %s", (op) => {
    const message = graph((f) => { graphNode(f, GRAPH_NAMES.relu).op = op; });
    expect(message).toContain(`'${GRAPH_NAMES.relu}'`);
    expect(message).toContain("not support");
  });

  it.each(["Pack", "ConcatV2", "Identity", "StridedSlice", "AddV2", "Conv2D", "MatMul", "Reshape"])("%s with no inputs", (op) => {
    const message = graph((f) => {
      const n = graphNode(f, GRAPH_NAMES.relu);
      n.op = op;
      n.input = [];
      (f.json as Record<string, unknown>).signature = { outputs: { y: { name: `${GRAPH_NAMES.output}:0` } } };
    });
    expect(message).toContain(`'${GRAPH_NAMES.relu}'`);
  });

  it.each(["constructor", "__proto__", "toString"])("fused op %s", (op) => {
    const message = graph((f) => {
      const conv = graphNode(f, GRAPH_NAMES.conv);
      conv.op = "_FusedConv2D";
      conv.attr.fused_ops = { list: { s: [Buffer.from(op).toString("base64")] } };
    });
    expect(message).toContain(`'${GRAPH_NAMES.conv}'`);
  });

  it.each([
    ["a placeholder dimension of -5", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.input).attr.shape = { shape: { dim: [{ size: "-1" }, { size: "-5" }, { size: "8" }, { size: "1" }] } }; }, GRAPH_NAMES.input],
    ["a 65536×65536 placeholder", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.input).attr.shape = { shape: { dim: [{ size: "-1" }, { size: "65536" }, { size: "65536" }, { size: "1" }] } }; }, GRAPH_NAMES.input],
    ["a fractional stride", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.conv).attr.strides = { list: { i: ["1", "1.5", "1", "1"] } }; }, GRAPH_NAMES.conv],
    ["a zero stride", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.conv).attr.strides = { list: { i: [1, 0, 1, 1] } }; }, GRAPH_NAMES.conv],
    ["a string stride with code", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.conv).attr.strides = { list: { i: ["1", "1); memory.fill(0,0,9); (", "1", "1"] } }; }, GRAPH_NAMES.conv],
    ["strides that are not a list", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.conv).attr.strides = { list: { i: "1111" } }; }, GRAPH_NAMES.conv],
    ["a padding that is a number", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.conv).attr.padding = { s: 5 }; }, GRAPH_NAMES.conv],
    ["an input list that is a string", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.relu).input = GRAPH_NAMES.conv as never; }, GRAPH_NAMES.relu],
    ["attrs that are a list", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.conv).attr = [1, 2] as never; }, GRAPH_NAMES.conv],
    ["an inline tensor of 65536×65536", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.shape).attr.value = { tensor: { dtype: "DT_INT32", tensorShape: { dim: [{ size: "65536" }, { size: "65536" }] }, intVal: [1] } }; }, GRAPH_NAMES.shape],
    ["an inline tensor with a negative dimension", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.shape).attr.value = { tensor: { dtype: "DT_INT32", tensorShape: { dim: [{ size: "-4" }] }, intVal: [1] } }; }, GRAPH_NAMES.shape],
    ["an inline tensor whose values are strings", (f: ModelFiles) => { graphNode(f, GRAPH_NAMES.shape).attr.value = { tensor: { dtype: "DT_INT32", tensorShape: { dim: [{ size: "2" }] }, intVal: "ab" } }; }, GRAPH_NAMES.shape],
    ["a LeakyRelu alpha that is not a number", (f: ModelFiles) => { const n = graphNode(f, GRAPH_NAMES.relu); n.op = "LeakyRelu"; n.attr.alpha = { f: "x" }; }, GRAPH_NAMES.relu],
  ])("%s", (_what, mutate, node) => {
    expect(graph(mutate)).toContain(`'${node}'`);
  });

  it("NaN weights name the node", () => {
    const files = tinyGraphModel();
    new DataView(files.shards.get("group1-shard1of1.bin")!.buffer).setFloat32(8, NaN, true);
    expect(loadError(save(files))).toMatch(/not finite/);
  });

  it("a node list that is not a list, and nodes that are not objects", () => {
    graph((f) => { (f.json.modelTopology as unknown as { node: unknown }).node = { a: 1 }; });
    graph((f) => { (f.json.modelTopology as unknown as { node: unknown[] }).node.push(null); });
  });

  it("a malformed signature falls back to the graph's single unread node", () => {
    const files = tinyGraphModel();
    (files.json as Record<string, unknown>).signature = { outputs: { y: null, z: { name: 7 } } };
    expect(loadModel(save(files)).outputs).toHaveLength(1);
  });

  it("too many nodes", () => {
    const message = graph((f) => {
      const nodes = (f.json.modelTopology as unknown as { node: unknown[] }).node;
      for (let i = 0; i < 100_001; i++) nodes.push({ name: `n${i}`, op: "NoOp" });
    });
    expect(message).toMatch(/nodes/);
  });
});

describe("limits on what a model may ask for", () => {
  it("a flatten to more than 65,536 features is not a window: it stays within limits", () => {
    const b = new GraphBuilder("wide");
    const x = b.input("x", [1, 300, 300, 3]);
    expect(b.shapeOf(b.node("reshape", "flat", [x], { shape: [1, 270000] }))).toEqual([1, 270000]);
  });


  it("a tensor above the element limit is refused at the frontend (never reaches asc)", () => {
    const message = mutated((f) => { layerConfig(f, "conv").batch_input_shape = [null, 4096, 4097, 1]; });
    expect(message).toContain(String(MAX_TENSOR_ELEMENTS));
  });

  it("a model whose memory exceeds the blob limit is refused before asc", () => {
    // Four 2048×2048×4 float tensors live at once (the input and three activations the adds still need): 256 MiB.
    const b = new GraphBuilder("big");
    const x = b.input("x", [1, 2048, 2048, 4]);
    const [r, s, t] = ["relu", "sigmoid", "tanh"].map((op) => b.node(op, op, [x]));
    b.graph.outputs.push(b.node("add", "sum2", [b.node("add", "sum1", [r, s]), t]));
    let caught: unknown;
    try { generateModel(b.graph, FLOAT); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(KilnError);
    expect((caught as Error).message).toMatch(/256 MiB/);
  });
});

describe("weight shards stay inside the model's folder", () => {
  const withPath = (path: string): ModelFiles => {
    const files = tinyModel();
    files.json.weightsManifest[0].paths = [path];
    return files;
  };

  it.each(["../../../../../../../../etc/passwd", "/etc/passwd", "/dev/zero", "sub/../../outside.bin"])("refuses %s", (path) => {
    const message = loadError(save(withPath(path)));
    expect(message).toContain(path);
    expect(message).toMatch(/outside|folder/);
  });

  it("refuses a symlink that leads out of the folder", () => {
    const files = tinyModel();
    const path = save(files);
    const dir = join(path, "..");
    writeFileSync(join(root, "outside.bin"), files.shards.get("group1-shard1of1.bin")!);
    files.json.weightsManifest[0].paths = ["link.bin"];
    symlinkSync(join(root, "outside.bin"), join(dir, "link.bin"));
    writeFileSync(path, JSON.stringify(files.json));
    expect(loadError(path)).toMatch(/link\.bin.*outside/);
  });

  it("refuses a shard that is a folder", () => {
    const files = withPath("adir");
    const path = save(files);
    mkdirSync(join(path, "..", "adir"));
    expect(loadError(path)).toMatch(/adir.*regular file/);
  });

  it("refuses a shard longer than the manifest implies", () => {
    const files = tinyModel();
    const shard = files.shards.get("group1-shard1of1.bin")!;
    files.shards.set("group1-shard1of1.bin", Uint8Array.from([...shard, 0, 0, 0, 0]));
    expect(loadError(save(files))).toMatch(/group1-shard1of1\.bin.*bytes/);
  });

  it("still reads a model whose shard is a symlink inside its folder", () => {
    const files = tinyModel();
    const path = save(files);
    const dir = join(path, "..");
    mkdirSync(join(dir, "w"));
    writeFileSync(join(dir, "w", "real.bin"), files.shards.get("group1-shard1of1.bin")!);
    symlinkSync(join(dir, "w", "real.bin"), join(dir, "inside.bin"));
    files.json.weightsManifest[0].paths = ["inside.bin"];
    writeFileSync(path, JSON.stringify(files.json));
    expect(loadModel(path).nodes.length).toBeGreaterThan(0);
    expect(readFileSync(path, "utf8")).toContain("inside.bin");
  });
});
