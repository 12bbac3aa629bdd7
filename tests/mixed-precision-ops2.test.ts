// Mixed precision beyond convs and dense layers: avg/max pools, global pools, add, mul, concat, relu, clamp and
// leaky_relu kept in float. Their kernels against the ops' float references on synthetic edge cases (both targets), and
// graphs with each kept (in the middle, int8 on both sides, and last) bit for bit against the mixed reference on MNIST.
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { compileFile, type CompileOptions } from "../compiler/compile.js";
import { bits, MIXED_OPTIONS, useMnistDigits } from "./mixed-harness.js";
import { quantizePixels, runMixed } from "../compiler/int8-interpreter.js";
import { keepFloatProblem } from "../compiler/quant/keep-float.js";
import { layerScore } from "../compiler/quant/error-report.js";
import { Model } from "../runtime/model.js";
import { saveToTemp, useCpuBackend } from "./helpers.js";

const IMAGES = 30;
const OPTIONS = MIXED_OPTIONS;

const { pixelsOf } = useMnistDigits();

const init = (seed: number) => tf.initializers.randomNormal({ stddev: 0.5, seed });

/**
 * 28×28×1 → stem (3×3 valid, 5 channels, ReLU6: 26×26, not fused with the pool) → pool_a (avg 3×3 stride 2 SAME: 13×13,
 * edge windows count only in-bounds cells) → dw (depthwise 3×3) → add(pool_a, dw) → cap (ReLU(max 4): clamp) and leaky
 * (LeakyReLU 0.3) → mul(cap, leaky) (−0 wherever cap is 0 and leaky negative) → pool_m (max 3×3 stride 2 SAME: 7×7) →
 * gap and gmp → concat → head (dense 10).
 */
async function poolsModel(): Promise<string> {
  await useCpuBackend();
  const input = tf.input({ shape: [28, 28, 1] });
  const stem = tf.layers.conv2d({ name: "stem", filters: 5, kernelSize: 3, activation: "relu6", kernelInitializer: init(1), biasInitializer: init(2) }).apply(input) as tf.SymbolicTensor;
  const poolA = tf.layers.averagePooling2d({ name: "pool_a", poolSize: 3, strides: 2, padding: "same" }).apply(stem) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, padding: "same", depthwiseInitializer: init(3), biasInitializer: init(4) }).apply(poolA) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: "add" }).apply([poolA, dw]) as tf.SymbolicTensor;
  const cap = tf.layers.reLU({ name: "cap", maxValue: 4 }).apply(sum) as tf.SymbolicTensor;
  const leaky = tf.layers.leakyReLU({ name: "leaky", alpha: 0.3 }).apply(sum) as tf.SymbolicTensor;
  const product = tf.layers.multiply({ name: "mul" }).apply([cap, leaky]) as tf.SymbolicTensor;
  const poolM = tf.layers.maxPooling2d({ name: "pool_m", poolSize: 3, strides: 2, padding: "same" }).apply(product) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: "gap" }).apply(poolM) as tf.SymbolicTensor;
  const gmp = tf.layers.globalMaxPooling2d({ name: "gmp" }).apply(poolM) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: "concat" }).apply([gap, gmp]) as tf.SymbolicTensor;
  const head = tf.layers.dense({ name: "head", units: 10, kernelInitializer: init(5) }).apply(joined) as tf.SymbolicTensor;
  return saveToTemp(tf.model({ name: "pools", inputs: input, outputs: head }));
}

/** stem → dw → add(stem, dw) as the last layer (a float output when kept). */
async function addLastModel(): Promise<string> {
  await useCpuBackend();
  const input = tf.input({ shape: [28, 28, 1] });
  const stem = tf.layers.conv2d({ name: "stem", filters: 3, kernelSize: 3, strides: 2, activation: "relu", kernelInitializer: init(6), biasInitializer: init(7) }).apply(input) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, padding: "same", depthwiseInitializer: init(8) }).apply(stem) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: "add" }).apply([stem, dw]) as tf.SymbolicTensor;
  return saveToTemp(tf.model({ name: "add_last", inputs: input, outputs: sum }));
}

/** stem (ReLU6) → an avg pool 2×2 stride 3 with VALID padding on 13×13 (odd, windows skip cells) as the last layer. */
async function avgPoolLastModel(): Promise<string> {
  await useCpuBackend();
  const m = tf.sequential({ name: "avg_last", layers: [
    tf.layers.conv2d({ name: "stem", inputShape: [28, 28, 1], filters: 7, kernelSize: 4, strides: 2, activation: "relu6", kernelInitializer: init(9), biasInitializer: init(10) }),
    tf.layers.averagePooling2d({ name: "pool", poolSize: 2, strides: 3 }),
  ] });
  return saveToTemp(m);
}

const MODELS = { pools: poolsModel, addLast: addLastModel, avgPoolLast: avgPoolLastModel };
const paths: Partial<Record<keyof typeof MODELS, string>> = {};
const pathOf = async (name: keyof typeof MODELS): Promise<string> => (paths[name] ??= await MODELS[name]());

const CASES: [keyof typeof MODELS, string[]][] = [
  ["pools", ["pool_a"]], ["pools", ["add"]], ["pools", ["cap"]], ["pools", ["leaky"]], ["pools", ["mul"]], ["pools", ["pool_m"]],
  ["pools", ["gap"]], ["pools", ["gmp"]], ["pools", ["concat"]], ["pools", ["cap", "leaky", "mul", "pool_m", "gap", "gmp", "concat"]],
  ["pools", ["stem", "pool_a", "dw", "add", "cap", "leaky", "mul", "pool_m", "gap", "gmp", "concat", "head"]],
  ["addLast", ["add"]], ["addLast", ["dw", "add"]], ["avgPoolLast", ["pool"]],
];

describe.each(CASES)("the %s model with %j kept in float", (name, keep) => {
  it("the SIMD and the scalar blob equal the mixed reference bit for bit on MNIST digits", async () => {
    const path = await pathOf(name);
    const compiled = { simd: await compileFile(path, { ...OPTIONS, keepFloat: keep }), scalar: await compileFile(path, { ...OPTIONS, target: "scalar", keepFloat: keep }) };
    const graph = compiled.simd.graph;
    expect(graph.nodes.filter((n) => n.float).map((n) => n.name)).toEqual(keep);
    if (name === "pools") {
      // Each op stands alone (nothing fused into a conv), so the kept layer runs its own kernel.
      expect(graph.nodes.map((n) => `${n.name}:${(n.fused ?? [n.op]).join("+")}`)).toEqual(expect.arrayContaining([
        "pool_a:avg_pool", "add:add", "cap:clamp", "leaky:leaky_relu", "mul:mul", "pool_m:max_pool", "gap:global_avg_pool", "gmp:global_max_pool", "concat:concat"]));
    }
    for (const node of graph.nodes.filter((n) => n.float)) expect(keepFloatProblem(graph, node)).toBeUndefined();
    const last = graph.nodes.at(-1)!;
    expect(compiled.simd.manifest.output.dtype).toBe(last.float ? "float32" : "int8");
    const expected = Array.from({ length: IMAGES }, (_v, i) => runMixed(graph, quantizePixels(graph, pixelsOf(i), 1 / 255, 0)));
    for (const target of ["simd", "scalar"] as const) {
      const model = await Model.load(compiled[target].wasm);
      const outputs = Array.from({ length: IMAGES }, (_v, i) => { model.predict(pixelsOf(i)); return bits(model.rawOutput()); });
      expect(outputs.filter((o, i) => o.join() !== bits(expected[i]).join()).length, `${target}: images whose output differs`).toBe(0);
    }
  }, 120_000);
});

describe("--keep-float auto", () => {
  it("takes the report's worst layer whatever its op, now that every op of the model can be kept", async () => {
    const path = await pathOf("pools");
    const options: CompileOptions = { ...OPTIONS, holdout: "auto" };
    const plain = await compileFile(path, options);
    const report = plain.manifest.quantization!.report!;
    const scores = new Map(report.layers.map((l) => [l.name, layerScore(l)]));
    const worst = report.worst.find((n) => Number.isFinite(scores.get(n)))!;
    const auto = await compileFile(path, { ...options, keepFloat: { auto: true, target: 1.01, maxLayers: 1 } });
    expect(auto.graph.meta.keptFloat).toEqual([worst]);
    expect(auto.graph.nodes.filter((n) => n.float).map((n) => `${n.name}:${n.op}`)).toEqual([`${worst}:${auto.graph.nodes.find((n) => n.name === worst)!.op}`]);
    // Here it is the mul (its −0s and products of two rounded factors), which auto used to pass over.
    expect(["conv2d", "dense", "depthwise_conv2d", "reshape"]).not.toContain(auto.graph.nodes.find((n) => n.name === worst)!.op);
  }, 120_000);
});
