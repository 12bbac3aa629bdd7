// fuse-pool (int8 pipeline): a max or avg pool that alone reads a conv's output becomes the conv's fused pool.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/compile.js";
import { runFloat } from "../../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../../compiler/passes/pipeline.js";
import { fusePool } from "../../compiler/passes/fuse-pool.js";
import { checkGraph } from "../../compiler/shapes.js";
import { maxAbsDiff, saveToTemp, useCpuBackend } from "../helpers.js";
import { activation, constant, expectRewrite, expectSameOutputs, expectUnchanged, graphOf, node, ops, type GraphSpec } from "./graph-fixture.js";

beforeAll(useCpuBackend);

const weights = { w: constant([1, 1, 1, 2], [1, -2]), b: constant([2], [0.5, -0.5]) };

/** x[1,4,4,1] → conv 1×1 (activation) → y[1,4,4,2] → pool → z. */
function convThenPool(convActivation: string, pool: string, poolAttrs: Record<string, number[]>, out: number[]): GraphSpec {
  return {
    inputs: ["x"], outputs: ["z"],
    tensors: { x: activation(1, 4, 4, 1), ...weights, y: activation(1, 4, 4, 2), z: activation(...out) },
    nodes: [node("conv", "conv2d", ["x", "w", "b"], ["y"], { strides: [1, 1], pads: [0, 0, 0, 0], activation: convActivation },
      convActivation === "linear" ? undefined : ["conv2d", convActivation]),
      node("pool", pool, ["y"], ["z"], poolAttrs)],
  };
}

describe("fuse-pool", () => {
  it("gives the conv a max pool: pool_kind, size, strides and pads, and the conv writes the pool's output", () => {
    const before = convThenPool("relu", "max_pool", { pool: [2, 2], strides: [2, 2] }, [1, 2, 2, 2]);
    const after = expectRewrite(fusePool, before, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 4, 4, 1), ...weights, z: activation(1, 2, 2, 2) },
      nodes: [node("conv", "conv2d", ["x", "w", "b"], ["z"], {
        strides: [1, 1], pads: [0, 0, 0, 0], activation: "relu", pool_kind: "max", pool_size: [2, 2], pool_strides: [2, 2], pool_pads: [0, 0, 0, 0],
      }, ["conv2d", "relu", "max_pool"])],
    });
    expectSameOutputs(graphOf(before), after);
  });

  it("gives a linear conv an avg pool with its padding", () => {
    const before = convThenPool("linear", "avg_pool", { pool: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, [1, 2, 2, 2]);
    const after = expectRewrite(fusePool, before, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 4, 4, 1), ...weights, z: activation(1, 2, 2, 2) },
      nodes: [node("conv", "conv2d", ["x", "w", "b"], ["z"], {
        strides: [1, 1], pads: [0, 0, 0, 0], activation: "linear", pool_kind: "avg", pool_size: [3, 3], pool_strides: [2, 2], pool_pads: [1, 1, 1, 1],
      }, ["conv2d", "avg_pool"])],
    });
    expectSameOutputs(graphOf(before), after);
  });

  it("leaves an avg pool after relu6 (averaging would not commute with the int8 clamp)", () => {
    expectUnchanged(fusePool, convThenPool("relu6", "avg_pool", { pool: [2, 2], strides: [2, 2] }, [1, 2, 2, 2]));
  });

  it("leaves a pool whose input has a second reader, is the output, or comes from a conv that already pools", () => {
    const spec = convThenPool("relu", "max_pool", { pool: [2, 2], strides: [2, 2] }, [1, 2, 2, 2]);
    expectUnchanged(fusePool, {
      ...spec, outputs: ["s"],
      tensors: { ...spec.tensors, y2: activation(1, 2, 2, 2), s: activation(1, 2, 2, 4) },
      nodes: [...spec.nodes, node("pool2", "avg_pool", ["y"], ["y2"], { pool: [2, 2], strides: [2, 2] }), node("cat", "concat", ["z", "y2"], ["s"])],
    });
    expectUnchanged(fusePool, { ...spec, outputs: ["y"] });
    const pooled = { strides: [1, 1], pads: [0, 0, 0, 0], pool_kind: "max", pool_size: [2, 2], pool_strides: [1, 1], pool_pads: [0, 0, 0, 0] };
    expectUnchanged(fusePool, {
      ...spec, tensors: { ...spec.tensors, y: activation(1, 3, 3, 2) },
      nodes: [node("conv", "conv2d", ["x", "w", "b"], ["y"], pooled), node("pool", "max_pool", ["y"], ["z"], { pool: [2, 2], strides: [1, 1] })],
    });
  });

  it("fuses Keras max and avg pools into the conv before them, with TF.js's float outputs", async () => {
    for (const pool of [tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: "same" })]) {
      const model = tf.sequential();
      model.add(tf.layers.conv2d({ inputShape: [9, 9, 2], filters: 5, kernelSize: 3, activation: "relu" }));
      model.add(pool);
      const fused = fusePool(runPipeline(loadModel(await saveToTemp(model)), FLOAT_PIPELINE, { check: true }));
      checkGraph(fused);
      expect(ops(fused)).toEqual([`conv2d+relu+${pool.getClassName() === "MaxPooling2D" ? "max_pool" : "avg_pool"}`]);
      const x = tf.randomNormal([1, 9, 9, 2], 0, 1, "float32", 11);
      expect(maxAbsDiff(runFloat(fused, x.dataSync() as Float32Array), (model.predict(x) as tf.Tensor).dataSync())).toBeLessThanOrEqual(1e-4);
    }
  });
});
