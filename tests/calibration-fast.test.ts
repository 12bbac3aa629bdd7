// Calibration's fast float evaluator (quant/float64-runner.ts) against the float reference: same values bit for bit, same ranges, same blobs.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Graph } from "../compiler/ir.js";
import { runFloatAll } from "../compiler/interpreter.js";
import { calibrate, pixelsToInputs, type CalibrationMethod, type Range } from "../compiler/quant/calibrate.js";
import { float64Runner } from "../compiler/quant/float64-runner.js";
import { FLOAT64_KERNELS_WASM_BASE64 } from "../compiler/quant/float64-kernels-wasm.js";
import { compileFloat64Kernels, readFloat64KernelSources } from "../compiler/quant/build-float64-kernels.js";
import { compileGraph, DEFAULT_COMPILE_OPTIONS, loadModel } from "../compiler/compile.js";
import { pixelCalibration } from "../compiler/quant/calibration-data.js";
import { FLOAT_PIPELINE, runPipeline } from "../compiler/passes/pipeline.js";
import { fusePool } from "../compiler/passes/fuse-pool.js";
import { mobilenet96, randomBytes } from "../bin/bench/models.js";
import { mnistPaths, readIdx } from "../io/idx.js";
import { activation, constant, graphOf, node } from "./passes/graph-fixture.js";
import { saveToTemp, seededRandom } from "./helpers.js";

const root = join(import.meta.dirname, "..");

/**
 * Values over 2^−20 … 2^20: sums of their products cancel and round differently in another order, even after the
 * final rounding to f32, so a kernel that summed in another order (or in f32) would fail these tests.
 */
function values(n: number, rand: () => number, scale = 1): number[] {
  return Array.from({ length: n }, () => (rand() * 2 - 1) * scale * 2 ** (Math.floor(rand() * 41) - 20));
}

/**
 * Every kernel path and its edges: a 3×3 stride-2 conv with asymmetric padding on an odd 9×7×5 input and 11 outputs
 * (not a multiple of 8), depthwise with odd channels (stride 1 and 2, with and without bias), a pointwise conv, a
 * depth multiplier of 2 (through the reference), convs with a fused max pool and a padded average pool (partial
 * windows), a dense whose bias holds −0 and values as large as its sums.
 */
function edgeGraph(seed: number): Graph {
  const r = seededRandom(seed);
  return graphOf({
    inputs: ["x"], outputs: ["z"],
    tensors: {
      x: activation(1, 9, 7, 5),
      w1: constant([3, 3, 5, 11], values(495, r, 0.5)), b1: constant([11], values(11, r, 0.2)), y1: activation(1, 4, 4, 11),
      w2: constant([3, 3, 11, 1], values(99, r)), b2: constant([11], values(11, r, 0.1)), y2: activation(1, 4, 4, 11),
      w3: constant([1, 1, 11, 13], values(143, r)), y3: activation(1, 4, 4, 13),
      w4: constant([3, 3, 13, 1], values(117, r)), y4: activation(1, 2, 2, 13),
      w5: constant([2, 2, 13, 2], values(104, r)), y5: activation(1, 1, 1, 26),
      w6: constant([1, 1, 13, 9], values(117, r)), y6: activation(1, 1, 1, 9),
      y7: activation(1, 26),
      w9: constant([3, 3, 11, 5], values(495, r)), b9: constant([5], values(5, r)), y9: activation(1, 2, 2, 5),
      w8: constant([26, 7], values(182, r)), b8: constant([7], [...values(3, r, 2 ** 18), -0, ...values(3, r, 2 ** 18)]), z: activation(1, 7),
    },
    nodes: [
      node("c1", "conv2d", ["x", "w1", "b1"], ["y1"], { strides: [2, 2], pads: [1, 1, 0, 1], activation: "relu6" }),
      node("d2", "depthwise_conv2d", ["y1", "w2", "b2"], ["y2"], { strides: [1, 1], pads: [1, 1, 1, 1], activation: "relu" }),
      node("p3", "conv2d", ["y2", "w3"], ["y3"], {}),
      node("d4", "depthwise_conv2d", ["y3", "w4"], ["y4"], { strides: [2, 2], pads: [0, 0, 1, 1] }),
      node("m5", "depthwise_conv2d", ["y4", "w5"], ["y5"], {}),
      node("c6", "conv2d", ["y4", "w6"], ["y6"], { pool_kind: "max", pool_size: [2, 2], pool_strides: [2, 2], pool_pads: [0, 0, 0, 0] }),
      node("g7", "global_avg_pool", ["y5"], ["y7"]),
      node("c9", "conv2d", ["y1", "w9", "b9"], ["y9"], {
        pads: [1, 1, 1, 1], activation: "relu", pool_kind: "avg", pool_size: [3, 3], pool_strides: [2, 2], pool_pads: [1, 1, 1, 1],
      }),
      node("f8", "dense", ["y7", "w8", "b8"], ["z"], {}),
    ],
  });
}

function randomInputs(size: number, count: number, seed: number): Float32Array[] {
  const r = seededRandom(seed);
  return Array.from({ length: count }, () => Float32Array.from(values(size, r, 2)));
}

function expectSameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  const first = a.findIndex((bits, i) => bits !== e[i]);
  expect(first, `${what}: first differing value at ${first}: ${actual[first]} vs ${expected[first]}`).toBe(-1);
}

/** Ranges compared as bits (Object.is tells −0 from +0). */
function expectSameRanges(actual: Map<string, Range>, expected: Map<string, Range>): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [name, r] of expected) {
    const a = actual.get(name)!;
    expect(Object.is(a.min, r.min) && Object.is(a.max, r.max), `${name}: [${a.min}, ${a.max}] vs [${r.min}, ${r.max}]`).toBe(true);
  }
}

describe("the fast float evaluator", () => {
  it("is built from runtime/kernels/exact-f64.ts as it is now", async () => {
    const fresh = await compileFloat64Kernels(readFloat64KernelSources(root));
    expect(Buffer.from(FLOAT64_KERNELS_WASM_BASE64, "base64").equals(Buffer.from(fresh)),
      "run `node dist/compiler/quant/build-float64-kernels.js` after editing runtime/kernels/exact-f64.ts").toBe(true);
  }, 60_000);

  it("gives every tensor of the edge graph the reference's value, bit for bit", () => {
    const graph = edgeGraph(1);
    const runner = float64Runner(graph)!;
    expect(runner).toBeDefined();
    for (const [i, x] of randomInputs(9 * 7 * 5, 16, 2).entries()) {
      const expected = runFloatAll(graph, x);
      const actual = runner.run(x);
      for (const [name, v] of expected) expectSameBits(actual.get(name)!, v, `image ${i}, tensor ${name}`);
    }
  });

  it("sums in the reference's order: hand-computed sums that another order (or f32) would round differently", () => {
    const big = 2 ** 30, tiny = 2 ** -30;
    // 2^30 + 2^−30 rounds to 2^30 in f64, so each sum below depends on which terms meet first.
    const convGraph = graphOf({
      inputs: ["x"], outputs: ["c"],
      tensors: {
        x: activation(1, 1, 3, 3), wc: constant([1, 1, 3, 2], [1, 1, 1, 1, 1, 1]), bc: constant([2], [0, tiny]), c: activation(1, 1, 3, 2),
        wd: constant([1, 3, 3, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1]), d: activation(1, 1, 3, 3),
      },
      nodes: [
        node("conv", "conv2d", ["x", "wc", "bc"], ["c"]),
        node("dw", "depthwise_conv2d", ["x", "wd"], ["d"], { pads: [0, 1, 0, 1] }),
      ],
    });
    const x = Float32Array.from([big, tiny, -big, tiny, 1, 1, -big, 1, 1]);
    const denseGraph = graphOf({
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2), w: constant([2, 1], [1, 1]), b: constant([1], [tiny]), z: activation(1, 1) },
      nodes: [node("fc", "dense", ["x", "w", "b"], ["z"])],
    });
    for (const evaluator of ["fast", "reference"] as const) {
      const run = (g: Graph, input: Float32Array) => evaluator === "fast" ? float64Runner(g)!.run(input) : runFloatAll(g, input);
      const conv = run(convGraph, x);
      // Conv: ((0 + 2^30) + 2^−30) − 2^30 = 0, then + bias; depthwise at x = 1, channel 0: 2^30 + 2^−30 − 2^30 = 0.
      expect(Array.from(conv.get("c")!.subarray(0, 2)), evaluator).toEqual([0, tiny]);
      expect(conv.get("d")![3], evaluator).toBe(0);
      // Dense starts at its bias: (2^−30 + 2^30) − 2^30 = 0 (bias last would give 2^−30).
      expect(run(denseGraph, Float32Array.from([big, -big])).get("z")![0], evaluator).toBe(0);
    }
  });

  it("widens ranges exactly as the sequential scan: NaN ignored, the first of −0/+0 kept, odd lengths", () => {
    const graph = graphOf({
      inputs: ["x"], outputs: ["y"],
      tensors: { x: activation(1, 1, 1, 7), w: constant([1, 1, 7, 1], [1, 1, 1, 1, 1, 1, 1]), y: activation(1, 1, 1, 1) },
      nodes: [node("c", "conv2d", ["x", "w"], ["y"])],
    });
    const images = [
      [0.5, -0, 3, 0, NaN, 2, 1], [4, 0, -0, 1, 2, NaN, 7], [NaN, NaN, NaN, NaN, NaN, NaN, -0], [-0, -3, 2, 0, -0, 1, -3],
      [-2, -0, -1, -5, -0.5, -1, -4], [-1, -2, -3, 0, -5, -6, -0],
    ];
    for (let start = 0; start < images.length; start++) {
      const inputs = images.slice(start).map((v) => Float32Array.from(v));
      expectSameRanges(calibrate(graph, inputs, "minmax", { evaluator: "fast" }), calibrate(graph, inputs, "minmax", { evaluator: "reference" }));
    }
  });

  for (const method of ["minmax", "percentile", "mse"] as CalibrationMethod[]) {
    it(`gives the reference's ${method} ranges on the edge graph, keeping runs or running twice`, () => {
      const graph = edgeGraph(3);
      const inputs = randomInputs(9 * 7 * 5, 6, 4);
      const expected = calibrate(graph, inputs, method, { evaluator: "reference" });
      expectSameRanges(calibrate(graph, inputs, method, { evaluator: "fast" }), expected);
      expectSameRanges(calibrate(graph, inputs, method, { evaluator: "fast", keepRunsBytes: 0 }), expected);
    });
  }
});

/** Both evaluators' blobs for a model; the progress callback counts images so both really calibrated. */
async function blobsBothWays(graph: Graph, pixels: Uint8Array, method: CalibrationMethod): Promise<Uint8Array[]> {
  const blobs: Uint8Array[] = [];
  for (const evaluator of ["reference", "fast"] as const) {
    let images = 0;
    const compiled = await compileGraph(structuredClone(graph), {
      ...DEFAULT_COMPILE_OPTIONS, calibration: pixelCalibration(pixels, "test images"), calibrationCount: 40,
      calibrationMethod: method, calibrationEvaluator: evaluator, progress: (done) => { images = done; },
    });
    expect(images).toBeGreaterThan(0);
    blobs.push(compiled.wasm);
  }
  return blobs;
}

describe("calibrating with the fast evaluator", () => {
  it("gives mnist-cnn the same int8 blob, byte for byte, and the same ranges on real digits", async () => {
    const graph = loadModel(join(root, "models", "mnist-cnn", "model.json"));
    const digits = readIdx(mnistPaths().trainImages, 40).data;
    const fused = fusePool(runPipeline(graph, FLOAT_PIPELINE));
    const inputs = pixelsToInputs(fused, digits, 40, 1 / 255, 0);
    expectSameRanges(calibrate(fused, inputs, "minmax", { evaluator: "fast" }), calibrate(fused, inputs, "minmax", { evaluator: "reference" }));
    const [reference, fast] = await blobsBothWays(graph, digits, "minmax");
    expect(Buffer.from(fast).equals(Buffer.from(reference))).toBe(true);
  }, 120_000);

  it("gives a MobileNet-style model (bench's mobilenet-96) the same int8 blob, byte for byte, with percentile ranges", async () => {
    const model = mobilenet96(4321);
    const path = await saveToTemp(model);
    model.dispose();
    const graph = loadModel(path);
    const [reference, fast] = await blobsBothWays(graph, randomBytes(40 * 96 * 96 * 3, 99), "percentile");
    expect(Buffer.from(fast).equals(Buffer.from(reference))).toBe(true);
  }, 180_000);
});
