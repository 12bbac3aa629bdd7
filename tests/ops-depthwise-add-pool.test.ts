// depthwise_conv2d, add and global_avg_pool beyond their op cases: random depthwise layers, int8 arithmetic, fusion, refusals.
import * as tf from "@tensorflow/tfjs";
import { readFileSync, writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../compiler/compile.js";
import { runFloat } from "../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../compiler/passes/pipeline.js";
import { compileAndLoad, maxAbsDiff, saveToTemp, seededRandom, useCpuBackend } from "./helpers.js";
import { quantizePixels, runMixedAll } from "../compiler/int8-interpreter.js";
import { randomPixels, runInt8Everywhere } from "./int8-harness.js";
import { apply, buildCase, depthwiseInit, init, mobileNetBlock, sequential } from "./op-cases.js";

const TOLERANCE = 1e-4;

beforeAll(useCpuBackend);

/** Random depthwise layers: channel counts around the 8-wide SIMD block, every depth multiplier up to 4, stride 2, padding. */
const RANDOM_DEPTHWISE = Array.from({ length: 8 }, (_v, i) => {
  const rand = seededRandom(2000 + i);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const kernel = pick([1, 3, 5]), stride = pick([1, 2]), padding = pick(["same", "valid"] as const);
  const c = pick([1, 3, 4, 7, 8, 9, 16, 17]), dm = pick([1, 2, 3, 4]), activation = pick(["linear", "relu", "relu6"] as const);
  const shape: [number, number, number] = [kernel + Math.floor(rand() * 7), kernel + Math.floor(rand() * 7), c];
  const label = `${shape.join("×")} depthwise ${kernel}×${kernel}/${stride} ${padding} dm ${dm} ${activation}`;
  const build = () => sequential(shape, [tf.layers.depthwiseConv2d({ kernelSize: kernel, strides: stride, padding, depthMultiplier: dm, activation, ...depthwiseInit(i) })]);
  return { label, shape, build };
});

describe.each(RANDOM_DEPTHWISE)("random $label", (rc) => {
  it("int8: simd = scalar = int8 reference", async () => {
    const model = rc.build();
    const run = await runInt8Everywhere(model, await saveToTemp(model), rc.shape, 16, 6);
    run.reference.forEach((ref, i) => {
      expect(Array.from(run.simd[i])).toEqual(Array.from(ref));
      expect(Array.from(run.scalar[i])).toEqual(Array.from(ref));
    });
  });
});

describe("int8 arithmetic of add and global_avg_pool", () => {
  it("each output is within half a step of the exact real result of its int8 inputs", async () => {
    const block = mobileNetBlock(), model = buildCase(block);
    const run = await runInt8Everywhere(model, await saveToTemp(model), block.inputShape, 16, 4);
    const graph = run.compiled.simd.graph;
    const quant = (name: string) => ({ s: graph.tensors.get(name)!.quant!.scale[0], z: graph.tensors.get(name)!.quant!.zeroPoint[0] });
    const size = block.inputShape.reduce((a, b) => a * b, 1);
    const pixels = randomPixels(4, size, 99);
    for (let i = 0; i < 4; i++) {
      const values = runMixedAll(graph, quantizePixels(graph, pixels.subarray(i * size, (i + 1) * size), 1 / 255, 0));
      const real = (name: string, j: number) => (values.get(name)![j] - quant(name).z) * quant(name).s;
      const addNode = graph.nodes.find((n) => n.op === "add")!, gap = graph.nodes.find((n) => n.op === "global_avg_pool")!;
      const [a, b] = addNode.inputs, sum = addNode.outputs[0];
      values.get(sum)!.forEach((_q, j) => expect(Math.abs(real(sum, j) - (real(a, j) + real(b, j)))).toBeLessThanOrEqual(0.501 * quant(sum).s));
      const [, h, w, c] = graph.tensors.get(gap.inputs[0])!.shape;
      for (let ch = 0; ch < c; ch++) {
        let mean = 0;
        for (let p = 0; p < h * w; p++) mean += real(gap.inputs[0], p * c + ch) / (h * w);
        expect(Math.abs(real(gap.outputs[0], ch) - mean)).toBeLessThanOrEqual(0.501 * quant(gap.outputs[0]).s);
      }
    }
  });
});

describe("fusion and lowering", () => {
  it("relu6 fuses into depthwise_conv2d; add and global_avg_pool stay separate nodes", async () => {
    const graph = runPipeline(loadModel(await saveToTemp(buildCase(mobileNetBlock(), 1))), FLOAT_PIPELINE, { check: true });
    const depthwise = graph.nodes.find((n) => n.op === "depthwise_conv2d")!;
    expect(depthwise.fused).toEqual(["depthwise_conv2d", "relu6"]);
    expect(depthwise.attrs.activation).toBe("relu6");
    expect(graph.nodes.map((n) => n.op)).toEqual(["conv2d", "depthwise_conv2d", "conv2d", "add", "global_avg_pool", "dense", "softmax"]);
  });

  it("GlobalAveragePooling2D with keepdims (Keras 3) gives [1, 1, 1, C]", async () => {
    const model = sequential([5, 6, 3], [tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 2, ...init(3) })]);
    const modelJson = await saveToTemp(model);
    // TF.js cannot say keepdims; add it and a Flatten to the saved topology as Keras 3 would write them.
    const json = JSON.parse(readFileSync(modelJson, "utf8"));
    const layers = json.modelTopology.config.layers as { class_name: string; config: Record<string, unknown> }[];
    const gap = layers.findIndex((l) => l.class_name === "GlobalAveragePooling2D");
    layers[gap].config.keepdims = true;
    layers.splice(gap + 1, 0, { class_name: "Flatten", config: { name: "flatten_keepdims" } });
    writeFileSync(modelJson, JSON.stringify(json));
    const graph = loadModel(modelJson);
    expect(graph.tensors.get(graph.nodes.find((n) => n.op === "global_avg_pool")!.outputs[0])!.shape).toEqual([1, 1, 1, 3]);
    const x = tf.randomNormal([1, 5, 6, 3], 0, 1, "float32", 9);
    const want = (model.predict(x) as tf.Tensor).dataSync();
    expect(maxAbsDiff(runFloat(graph, x.dataSync() as Float32Array), want)).toBeLessThanOrEqual(TOLERANCE);
    const blob = await compileAndLoad(modelJson, { quantize: "none" });
    expect(maxAbsDiff(blob.predict(x.dataSync() as Float32Array).scores, want)).toBeLessThanOrEqual(TOLERANCE);
  });

  it("Add of three tensors is refused with the layer's name", async () => {
    const input = tf.input({ shape: [4, 4, 2] });
    const a = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, ...init(1) }), input);
    const b = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, ...init(2) }), input);
    const sum = apply(tf.layers.add({ name: "add_three" }), [input, a, b]);
    const modelJson = await saveToTemp(tf.model({ inputs: input, outputs: sum }));
    expect(() => loadModel(modelJson)).toThrow(/layer 'add_three' \(Add\) has 3 inputs/);
  });

  it("Add of different shapes (which TF.js would broadcast) is refused with the layer's name", async () => {
    const input = tf.input({ shape: [4, 4, 2] });
    const a = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, ...init(1) }), input);
    const b = apply(tf.layers.conv2d({ filters: 1, kernelSize: 1, ...init(2) }), input);
    const modelJson = await saveToTemp(tf.model({ inputs: input, outputs: apply(tf.layers.add({ name: "add_mixed" }), [a, b]) }));
    expect(() => loadModel(modelJson)).toThrow(/layer 'add_mixed' \(Add\) adds tensors of shapes \[1,4,4,2\] and \[1,4,4,1\]/);
  });
});
