// Mixed precision (--keep-float): the mixed reference equals the SIMD and the scalar blob bit for bit on MNIST digits for
// several kept sets of mnist-cnn and LeNet-5; nothing kept changes no byte; bad names fail; manifest, inspect, profile.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileFile, type CompiledModel } from "../compiler/compile.js";
import { bits, MIXED_OPTIONS, useMnistDigits } from "./mixed-harness.js";
import { quantizePixels, runMixed, type MixedValue } from "../compiler/int8-interpreter.js";
import { Model } from "../runtime/model.js";
import { CLI, ROOT } from "./device-helpers.js";
import { saveToTemp, tempDir, useCpuBackend } from "./helpers.js";
import * as tf from "@tensorflow/tfjs";

const MODELS = { "mnist-cnn": join(ROOT, "models", "mnist-cnn", "model.json"), lenet5: join(ROOT, "models", "lenet5", "model.json") };
const IMAGES = 40;
const OPTIONS = MIXED_OPTIONS;

/** Kept sets: the first layer, a middle conv with its fused pool, the last dense (a float output), two neighbours. */
const CASES: [keyof typeof MODELS, string[]][] = [
  ["mnist-cnn", ["conv1"]], ["mnist-cnn", ["conv2"]], ["mnist-cnn", ["logits"]], ["mnist-cnn", ["fc1", "logits"]],
  ["mnist-cnn", ["flatten", "fc1"]], ["lenet5", ["conv1"]], ["lenet5", ["conv2"]], ["lenet5", ["fc1", "fc2"]], ["lenet5", ["logits"]],
];

const { pixelsOf } = useMnistDigits();

async function blobOutputs(compiled: CompiledModel): Promise<MixedValue[]> {
  const model = await Model.load(compiled.wasm);
  return Array.from({ length: IMAGES }, (_v, i) => { model.predict(pixelsOf(i)); return model.rawOutput(); });
}

describe.each(CASES)("%s with %j kept in float", (name, keep) => {
  const compiled: Partial<Record<"simd" | "scalar", CompiledModel>> = {};
  beforeAll(async () => {
    for (const target of ["simd", "scalar"] as const) compiled[target] = await compileFile(MODELS[name], { ...OPTIONS, target, keepFloat: keep });
  }, 120_000);

  it("keeps exactly those layers in float, with their float32 weights", () => {
    const graph = compiled.simd!.graph;
    expect(graph.nodes.filter((n) => n.float).map((n) => n.name)).toEqual(keep);
    for (const node of graph.nodes.filter((n) => n.float && n.op !== "reshape")) {
      expect(graph.tensors.get(node.inputs[1])!.data).toBeInstanceOf(Float32Array);
    }
  });

  it(`the SIMD and the scalar blob equal the mixed reference bit for bit on ${IMAGES} test digits`, async () => {
    const graph = compiled.simd!.graph;
    const expected = Array.from({ length: IMAGES }, (_v, i) => bits(runMixed(graph, quantizePixels(graph, pixelsOf(i), 1 / 255, 0))));
    for (const target of ["simd", "scalar"] as const) {
      const outputs = (await blobOutputs(compiled[target]!)).map(bits);
      const differing = outputs.filter((o, i) => o.join() !== expected[i].join()).length;
      expect(differing, `${target}: images whose output differs from the mixed reference`).toBe(0);
    }
  });

  it("has a float32 output exactly when its last layer is kept in float", async () => {
    const last = compiled.simd!.graph.nodes.at(-1)!;
    const { manifest } = compiled.simd!;
    expect(manifest.output.dtype).toBe(last.float ? "float32" : "int8");
    const model = await Model.load(compiled.scalar!.wasm);
    expect(model.predict(pixelsOf(0)).scores).toBeInstanceOf(Float32Array);
    expect(model.rawOutput()).toBeInstanceOf(last.float ? Float32Array : Int8Array);
  });
});

/**
 * A MobileNet-style model with what mnist-cnn lacks: a padded stem with a fused average pool, a depthwise conv (6
 * channels: a SIMD block and a tail) with ReLU6, a pointwise conv to 13 channels (not a multiple of 8) with a fused max pool.
 */
async function mobileStyleModel(): Promise<string> {
  await useCpuBackend();
  const init = (seed: number) => tf.initializers.randomNormal({ stddev: 0.4, seed });
  const m = tf.sequential({ name: "mobile_style", layers: [
    tf.layers.conv2d({ name: "stem", inputShape: [28, 28, 1], filters: 6, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: init(1), biasInitializer: init(2) }),
    tf.layers.averagePooling2d({ name: "stem_pool", poolSize: 2 }),
    tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, padding: "same", activation: "relu6", depthwiseInitializer: init(3), biasInitializer: init(4) }),
    tf.layers.conv2d({ name: "pw", filters: 13, kernelSize: 1, kernelInitializer: init(5), biasInitializer: init(6) }),
    tf.layers.maxPooling2d({ name: "pw_pool", poolSize: 2 }),
    tf.layers.flatten({ name: "flatten" }),
    tf.layers.dense({ name: "head", units: 10, kernelInitializer: init(7) }),
  ] });
  return saveToTemp(m);
}

describe.each([[["stem"]], [["dw"]], [["pw"]], [["dw", "pw"]], [["stem", "dw", "pw", "flatten", "head"]]])("a MobileNet-style model with %j kept in float", (keep) => {
  it("the SIMD and the scalar blob equal the mixed reference bit for bit", async () => {
    const path = await mobileStyleModel();
    const compiled = { simd: await compileFile(path, { ...OPTIONS, keepFloat: keep }), scalar: await compileFile(path, { ...OPTIONS, target: "scalar", keepFloat: keep }) };
    const graph = compiled.simd.graph;
    expect(graph.nodes.map((n) => (n.fused ?? [n.op]).join("+"))).toEqual(expect.arrayContaining(["conv2d+relu+avg_pool", "depthwise_conv2d+relu6", "conv2d+max_pool"]));
    expect(graph.nodes.filter((n) => n.float).map((n) => n.name)).toEqual(keep);
    const expected = Array.from({ length: IMAGES }, (_v, i) => bits(runMixed(graph, quantizePixels(graph, pixelsOf(i), 1 / 255, 0))));
    for (const target of ["simd", "scalar"] as const) {
      const outputs = (await blobOutputs(compiled[target])).map(bits);
      expect(outputs.filter((o, i) => o.join() !== expected[i].join()).length, `${target}: images whose output differs`).toBe(0);
    }
  }, 120_000);
});

describe("keep-float options", () => {
  it("with nothing kept the blob is byte-identical to a compile without the option", async () => {
    const without = await compileFile(MODELS["mnist-cnn"], OPTIONS);
    const empty = await compileFile(MODELS["mnist-cnn"], { ...OPTIONS, keepFloat: [] });
    expect(Buffer.from(empty.wasm).equals(Buffer.from(without.wasm))).toBe(true);
    expect(without.manifest.layers.every((l) => l.precision === undefined)).toBe(true);
  }, 60_000);

  it("an unknown layer name is a one-line error naming the layers", async () => {
    await expect(compileFile(MODELS["mnist-cnn"], { ...OPTIONS, keepFloat: ["conv3"] })).rejects.toThrow(
      /^--keep-float: no layer named 'conv3'; did you mean 'conv1' or 'conv2'\? \(layers: conv1, conv2, flatten, fc1, logits\)$/);
  });
});

describe("a mixed blob's manifest, kiln inspect and kiln profile", () => {
  let compiled: CompiledModel;
  let file: string;
  beforeAll(async () => {
    compiled = await compileFile(MODELS["mnist-cnn"], { ...OPTIONS, keepFloat: ["conv2", "logits"] });
    file = join(tempDir(), "mixed.wasm");
    writeFileSync(file, compiled.wasm);
  }, 60_000);

  const kiln = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, KILN_DEBUG: "", NO_COLOR: "1" } });

  it("the manifest gives every layer's precision and a float32 output", () => {
    const m = compiled.manifest;
    expect(m.layers.map((l) => `${l.name}:${l.precision}`)).toEqual([
      "conv1:int8", "conv1/dequantize:float", "conv2:float", "conv2/quantize:int8", "flatten:int8", "fc1:int8", "fc1/dequantize:float", "logits:float"]);
    expect(m.layers.find((l) => l.name === "conv2")!.kernels).toEqual(["conv_exact_f64"]);
    expect(m.output).toMatchObject({ name: "logits", dtype: "float32" });
    expect(m.output.scale).toBeUndefined();
  });

  it("kiln compile --keep-float: the kept layers in its summary and --json; bad values are one-line errors", () => {
    const out = join(tempDir(), "cli.wasm");
    const human = kiln("compile", MODELS["mnist-cnn"], "-o", out, "--keep-float", "conv2,fc1", "--holdout", "0", "--calibration-count", "100");
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toContain("(int8, simd; in float: conv2, fc1)");
    const json = kiln("compile", MODELS["mnist-cnn"], "-o", out, "--keep-float", "logits", "--holdout", "0", "--calibration-count", "100", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ keptFloat: ["logits"] });
    for (const [value, status, message] of [
      ["conv3", 1, "--keep-float: no layer named 'conv3'; did you mean 'conv1' or 'conv2'? (layers: conv1, conv2, flatten, fc1, logits)"],
      ["auto:2", 2, "the agreement target must be a number in (0, 1], e.g. auto:0.995"],
      ["conv1,,fc1", 2, "expected layer names separated by commas (as kiln inspect shows them), or auto"],
    ] as const) {
      const r = kiln("compile", MODELS["mnist-cnn"], "-o", out, "--keep-float", value);
      expect(r.status).toBe(status);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(message);
    }
  });

  it("kiln inspect names the float layers", () => {
    const r = kiln("inspect", file);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("mixed precision: conv2, logits kept in float32 (--keep-float)");
    expect(r.stdout).toMatch(/output logits \[1,10\] float32\n/);
    expect(r.stdout).toMatch(/\n2 +conv2 +conv2d\+relu\+max_pool +conv_exact_f64 .* float32\n/);
    expect(r.stdout).toMatch(/\n5 +fc1 +dense\+relu +dense_i8 .* 0\.\d+ \/ -128\n/);
  });

  it("kiln profile marks the float layers", () => {
    const r = kiln("profile", file, "--runs", "3", "--warmup", "1");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\n *2 +conv2 +conv2d\+relu\+max_pool \(float\) +conv_exact_f64 /);
    expect(r.stdout).toMatch(/\n *5 +fc1 +dense\+relu +dense_i8 /);
    const csv = kiln("profile", file, "--runs", "3", "--warmup", "1", "--csv");
    expect(csv.stdout.split("\n")[0]).toMatch(/,precision$/);
    expect(csv.stdout).toMatch(/\n2,conv2,.*,float\n/);
  });
});
