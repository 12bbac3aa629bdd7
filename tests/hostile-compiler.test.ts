// Hostile model files against codegen: nothing from a file reaches generated source (names, labels, attribute
// values), the source guard refuses anything but kernel calls with numeric literals, and limits hold before asc.
import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { compileFile, DEFAULT_COMPILE_OPTIONS, generateModel, loadModel } from "../compiler/compile.js";
import { pixelCalibration } from "../compiler/quant/calibration-data.js";
import { KilnError } from "../compiler/errors.js";
import { quantizePixels, runInt8 } from "../compiler/int8-interpreter.js";
import { runFloat } from "../compiler/interpreter.js";
import { checkGeneratedSource } from "../compiler/codegen/source-guard.js";
import { kernelLibrary } from "../compiler/codegen/kernels.js";
import { MAX_TENSOR_ELEMENTS } from "../compiler/limits.js";
import { Model } from "../runtime/model.js";
import { GraphBuilder } from "../compiler/frontends/builder.js";
import { GRAPH_NAMES, layerConfig, pixelsFor, renameLayer, tinyGraphModel, tinyModel, type ModelFiles } from "./hostile-models.js";
import { loadError, mutated, root, save } from "./hostile-checks.js";

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

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("names from a model file never reach generated source", () => {
  it("the issue's exploit (a model name with a newline and code) builds a blob that predicts like the int8 reference", async () => {
    const path = save(tinyModel(INJECTED));
    const size = 64;
    const calibration = pixelCalibration(pixelsFor(40, size, 5), "40 random images");
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
