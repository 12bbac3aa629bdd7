// Malformed LayersModel and GraphModel files: each ends in a one-line KilnError naming the file and the
// layer/node (never a raw JS message, a prototype lookup or a stack overflow), within stated limits.
import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { DEFAULT_COMPILE_OPTIONS, generateModel, loadModel } from "../compiler/compile.js";
import { pixelCalibration } from "../compiler/quant/calibration-data.js";
import { KilnError } from "../compiler/errors.js";
import { MAX_LAYERS, MAX_MODEL_JSON_BYTES, MAX_WEIGHT_ELEMENTS } from "../compiler/limits.js";
import { GRAPH_NAMES, graphNode, layerConfig, pixelsFor, tinyGraphModel, tinyModel, type ModelFiles } from "./hostile-models.js";
import { freshDir, loadError, mutated, root, save } from "./hostile-checks.js";

afterAll(() => rmSync(root, { recursive: true, force: true }));

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
    const calibration = pixelCalibration(pixelsFor(8, 64, 21), "8 random images");
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
    const dir = freshDir();
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
      const dir = freshDir();
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

