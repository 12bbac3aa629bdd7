// GraphModel frontend: converter-style model.json files against TF.js, the float blob and the int8 blobs.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { compileFile, DEFAULT_COMPILE_OPTIONS, loadModel } from "../compiler/compile.js";
import { runFloat } from "../compiler/interpreter.js";
import { FLOAT_PIPELINE, runPipeline } from "../compiler/passes/pipeline.js";
import { mergeElementwiseChains } from "../compiler/passes/merge-elementwise-chains.js";
import { checkGraph } from "../compiler/shapes.js";
import { foldConstant } from "../compiler/frontends/const-fold.js";
import type { ConstValue } from "../compiler/frontends/tf-attrs.js";
import { Model } from "../runtime/model.js";
import { attr, convertLayersModel, GraphModelWriter, type ConvertOptions } from "./graph-model-writer.js";
import { maxAbsDiff, tempDir, useCpuBackend } from "./helpers.js";
import { runInt8Everywhere } from "./int8-harness.js";

const TOLERANCE = 1e-4;

beforeAll(useCpuBackend);

const init = (seed: number) => ({
  kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.4, seed }),
  biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.4, seed: seed + 1 }),
});

const sequential = (inputShape: number[], layers: tf.layers.Layer[]): tf.LayersModel => tf.sequential({ layers: [tf.layers.inputLayer({ inputShape }), ...layers] });

interface GraphCase {
  name: string;
  inputShape: number[];
  build(): tf.LayersModel;
  options?: ConvertOptions;
  /** The TF.js twin of `options.before`, applied to the input before the LayersModel predicts. */
  pre?: (x: tf.Tensor) => tf.Tensor;
  /** Core ops the lowered graph must contain, and TF ops that must have been folded away. */
  ops: string[];
}

const MEAN = [0.1, -0.2, 0.3], SCALE = [1.5, 0.5, 2];

const CASES: GraphCase[] = [
  { name: "mnist-like CNN (conv relu, max pool, conv, flatten, dense relu, dense softmax)", inputShape: [28, 28, 1], ops: ["conv2d", "max_pool", "reshape", "dense", "relu", "softmax"],
    build: () => sequential([28, 28, 1], [tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: "relu", ...init(1) }), tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 12, kernelSize: 3, activation: "relu", ...init(2) }), tf.layers.flatten(),
      tf.layers.dense({ units: 24, activation: "relu", ...init(3) }), tf.layers.dense({ units: 10, activation: "softmax", ...init(4) })]) },
  { name: "SAME convs with stride 2 on odd sizes, even kernel, no-bias conv with sigmoid", inputShape: [7, 9, 3], ops: ["conv2d", "sigmoid"],
    build: () => sequential([7, 9, 3], [tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: "same", ...init(5) }),
      tf.layers.conv2d({ filters: 4, kernelSize: 4, strides: [2, 1], padding: "same", ...init(6) }),
      tf.layers.conv2d({ filters: 3, kernelSize: 1, useBias: false, activation: "sigmoid", ...init(7) })]) },
  { name: "depthwise-separable block: relu6, Pad, residual AddV2, Mean, MatMul", inputShape: [10, 10, 3], ops: ["depthwise_conv2d", "pad", "add", "global_avg_pool", "dense", "relu6"],
    build: () => {
      const input = tf.input({ shape: [10, 10, 3] });
      const a = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: "same", activation: "relu6", ...init(8) }).apply(input) as tf.SymbolicTensor;
      const p = tf.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]] }).apply(a) as tf.SymbolicTensor;
      const { kernelInitializer: depthwiseInitializer, biasInitializer } = init(9);
      const d = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, activation: "relu6", depthwiseInitializer, biasInitializer }).apply(p) as tf.SymbolicTensor;
      const c = tf.layers.conv2d({ filters: 8, kernelSize: 1, ...init(11) }).apply(d) as tf.SymbolicTensor;
      const sum = tf.layers.add().apply([a, c]) as tf.SymbolicTensor;
      const g = tf.layers.globalAveragePooling2d({}).apply(sum) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 5, activation: "softmax", ...init(12) }).apply(g) as tf.SymbolicTensor });
    } },
  { name: "Flatten as a Shape→StridedSlice→Pack→Reshape chain, Dense with transpose_b", inputShape: [6, 6, 2], ops: ["conv2d", "reshape", "dense"],
    options: { flatten: "shape-chain", transposeDense: true },
    build: () => sequential([6, 6, 2], [tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: "relu", ...init(13) }), tf.layers.flatten(), tf.layers.dense({ units: 6, ...init(14) })]) },
  { name: "FusedBatchNormV3 after a conv without bias", inputShape: [8, 8, 3], ops: ["conv2d", "batch_norm", "max_pool", "dense"],
    build: () => {
      const model = sequential([8, 8, 3], [tf.layers.conv2d({ filters: 6, kernelSize: 3, useBias: false, ...init(15) }), tf.layers.batchNormalization({ epsilon: 0.01 }),
        tf.layers.activation({ activation: "relu" }), tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 4, ...init(16) })]);
      const bn = model.layers.find((l) => l.getClassName() === "BatchNormalization")!;
      bn.setWeights([0, 1, 2, 3].map((k) => tf.randomUniform([6], k === 3 ? 0.5 : -1, k === 3 ? 2 : 1, "float32", 20 + k)));
      return model;
    } },
  { name: "Maximum/Minimum, Sub, Mul, RealDiv and Add by constants before a conv", inputShape: [6, 6, 3], ops: ["clamp", "batch_norm", "conv2d"],
    options: { before: (w, x) => {
      let y = w.op("pre/Maximum", "Maximum", [x, w.floats("pre/lo", [-0.8], [])]);
      y = w.op("pre/Minimum", "Minimum", [y, w.floats("pre/hi", [0.9], [])]);
      y = w.op("pre/sub", "Sub", [y, w.floats("pre/mean", MEAN)]);
      y = w.op("pre/mul", "Mul", [y, w.floats("pre/scale", SCALE, [1, 1, 1, 3])]);
      y = w.op("pre/truediv", "RealDiv", [y, w.floats("pre/two", [2], [])]);
      return w.op("pre/add", "AddV2", [w.floats("pre/quarter", [0.25], []), y]);
    } },
    pre: (x) => x.clipByValue(-0.8, 0.9).sub(tf.tensor1d(MEAN)).mul(tf.tensor1d(SCALE)).div(2).add(0.25),
    build: () => sequential([6, 6, 3], [tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: "relu", ...init(17) }), tf.layers.flatten(), tf.layers.dense({ units: 3, ...init(18) })]) },
  { name: "ConcatV2 on channels, LeakyRelu, AvgPool", inputShape: [6, 6, 2], ops: ["concat", "leaky_relu", "avg_pool"],
    build: () => {
      const input = tf.input({ shape: [6, 6, 2] });
      const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu", ...init(19) }).apply(input) as tf.SymbolicTensor;
      const b = tf.layers.leakyReLU({ alpha: 0.1 }).apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same", ...init(20) }).apply(input)) as tf.SymbolicTensor;
      const c = tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor;
      const f = tf.layers.flatten().apply(tf.layers.averagePooling2d({ poolSize: 2 }).apply(c)) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, ...init(21) }).apply(f) as tf.SymbolicTensor });
    } },
];

const predict = (model: { predict(x: tf.Tensor): unknown }, x: tf.Tensor): Float32Array => (model.predict(x) as tf.Tensor).dataSync() as Float32Array;

describe.each(CASES)("$name", (c) => {
  let model: tf.LayersModel;
  let writer: GraphModelWriter;
  let modelJson: string;
  let inputs: Float32Array[];
  let expected: Float32Array[];
  const shaped = (x: Float32Array): tf.Tensor => tf.tensor(x, [1, ...c.inputShape]);

  beforeAll(() => {
    model = c.build();
    writer = convertLayersModel(model, c.options);
    modelJson = writer.save(tempDir("kiln-graph-"));
    inputs = [0, 1].map((seed) => tf.randomNormal([1, ...c.inputShape], 0, 1, "float32", seed).dataSync() as Float32Array);
    expected = inputs.map((x) => predict(model, c.pre ? c.pre(shaped(x)) : shaped(x)));
  });

  it("tf.loadGraphModel runs the written graph like the LayersModel (checks the writer)", async () => {
    const graphModel = await tf.loadGraphModel(tf.io.fromMemory(writer.artifacts()));
    inputs.forEach((x, i) => expect(maxAbsDiff(predict(graphModel, shaped(x)), expected[i])).toBeLessThanOrEqual(TOLERANCE));
  });

  it("lowers to the expected core ops and the reference interpreter matches TF.js", () => {
    const graph = loadModel(modelJson);
    checkGraph(graph);
    const ops = new Set(graph.nodes.map((n) => n.op));
    for (const op of c.ops) expect(ops, `lowered ops: ${[...ops].join(", ")}`).toContain(op);
    const optimized = runPipeline(graph, FLOAT_PIPELINE, { check: true });
    inputs.forEach((x, i) => {
      expect(maxAbsDiff(runFloat(graph, x), expected[i])).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(runFloat(optimized, x), expected[i])).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it("float blob matches TF.js", async () => {
    const blob = await Model.load((await compileFile(modelJson, { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" })).wasm);
    inputs.forEach((x, i) => expect(maxAbsDiff(blob.predict(x).scores, expected[i])).toBeLessThanOrEqual(TOLERANCE));
  });

  it("int8: simd and scalar blobs equal the int8 reference bit for bit", async () => {
    const reference = c.pre ? { predict: (x: tf.Tensor) => model.predict(c.pre!(x)) } as unknown as tf.LayersModel : model;
    const run = await runInt8Everywhere(reference, modelJson, c.inputShape, 24, 6);
    run.reference.forEach((ref, i) => {
      expect(Array.from(run.simd[i])).toEqual(Array.from(ref));
      expect(Array.from(run.scalar[i])).toEqual(Array.from(ref));
    });
    // A sanity bound, not a precision claim: int8 stays within a few output steps per layer of float.
    run.float.forEach((f, i) => expect(maxAbsDiff(run.dequantized[i], f)).toBeLessThanOrEqual(12 * run.outputScale));
  });
});

describe("converter-quantized weights", () => {
  it("uint8 weights (--quantize_uint8) dequantize exactly as tf.loadGraphModel does", async () => {
    const writer = convertLayersModel(CASES[0].build());
    const modelJson = writer.save(tempDir("kiln-graph-"), { quantizeUint8: true });
    const graphModel = await tf.loadGraphModel(tf.io.fromMemory(writer.artifacts({ quantizeUint8: true })));
    const graph = loadModel(modelJson);
    for (const seed of [3, 4]) {
      const x = tf.randomNormal([1, 28, 28, 1], 0, 1, "float32", seed);
      expect(maxAbsDiff(runFloat(graph, x.dataSync() as Float32Array), predict(graphModel, x))).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});

const F32 = attr.type("DT_FLOAT");
const I32 = attr.type("DT_INT32");
const CONV_ATTRS = { T: F32, data_format: attr.s("NHWC"), dilations: attr.ints([1, 1, 1, 1]), strides: attr.ints([1, 1, 1, 1]) };
const randomData = (shape: number[], seed: number): Float32Array => tf.randomNormal(shape, 0, 0.5, "float32", seed).dataSync() as Float32Array;
const placeholder = (w: GraphModelWriter, shape: number[]): string => w.op("x", "Placeholder", [], { dtype: F32, shape: attr.shape([-1, ...shape]) });

describe("hand-written graphs", () => {
  it("folds a weight-preprocessing subgraph (Transpose, Mul, Cast) and reads EXPLICIT padding", async () => {
    const w = new GraphModelWriter();
    const x = placeholder(w, [5, 6, 2]);
    // The filter is stored [out, in, kh, kw] and rearranged to HWIO in the graph, then scaled.
    const filter = w.op("filter/transpose", "Transpose", [w.constant("filter/raw", [3, 2, 3, 3], randomData([3, 2, 3, 3], 30)), w.ints("filter/perm", [2, 3, 1, 0])], { T: F32, Tperm: I32 });
    const scaled = w.op("filter/mul", "Mul", [filter, w.floats("filter/half", [0.5], [])], { T: F32 });
    const conv = w.op("conv", "Conv2D", [x, scaled], { ...CONV_ATTRS, strides: attr.ints([1, 2, 1, 1]), padding: attr.s("EXPLICIT"), explicit_paddings: attr.ints([0, 0, 1, 3, 2, 0, 0, 0]) });
    const bias = w.op("bias/cast", "Cast", [w.ints("bias/raw", [1, -2, 3])], { SrcT: I32, DstT: F32 });
    w.op("Identity", "Relu6", [w.op("bias_add", "BiasAdd", [conv, bias], { T: F32, data_format: attr.s("NHWC") })], { T: F32 });
    const modelJson = w.save(tempDir("kiln-graph-"));
    const graph = loadModel(modelJson);
    expect(graph.nodes.map((n) => n.op)).toEqual(["conv2d", "batch_norm", "relu6"]);
    expect(runPipeline(graph, FLOAT_PIPELINE).nodes.map((n) => n.op)).toEqual(["conv2d"]);
    const graphModel = await tf.loadGraphModel(tf.io.fromMemory(w.artifacts()));
    const blob = await Model.load((await compileFile(modelJson, { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" })).wasm);
    for (const seed of [5, 6]) {
      const input = tf.randomNormal([1, 5, 6, 2], 0, 1, "float32", seed);
      const want = predict(graphModel, input);
      expect(maxAbsDiff(runFloat(graph, input.dataSync() as Float32Array), want)).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(blob.predict(input.dataSync() as Float32Array).scores, want)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("reads inline Const tensors (intVal, tensorContent) and lowers Mean keep_dims, Squeeze, ExpandDims", () => {
    const w = new GraphModelWriter();
    const x = placeholder(w, [4, 4, 3]);
    const weights = randomData([3, 2], 31);
    const inline = (name: string, dtype: string, dims: number[], values: object) =>
      w.op(name, "Const", [], { value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) }, ...values } }, dtype: attr.type(dtype) });
    const mean = w.op("mean", "Mean", [x, inline("axes", "DT_INT32", [2], { intVal: [1, 2] })], { T: F32, keep_dims: attr.b(true) });
    const squeezed = w.op("squeeze", "Squeeze", [mean], { T: F32, squeeze_dims: attr.ints([1, 2]) });
    const expanded = w.op("expand", "ExpandDims", [squeezed, inline("axis", "DT_INT32", [], { intVal: [-1] })], { T: F32 });
    const flat = w.op("flat", "Reshape", [expanded, inline("shape", "DT_INT32", [2], { intVal: [1, -1] })], { T: F32 });
    const content = Buffer.from(weights.buffer).toString("base64");
    w.op("Identity", "Softmax", [w.op("matmul", "MatMul", [flat, inline("w", "DT_FLOAT", [3, 2], { tensorContent: content })], { T: F32 })], { T: F32 });
    const graph = loadModel(w.save(tempDir("kiln-graph-")));
    expect(graph.nodes.map((n) => n.op)).toEqual(["global_avg_pool", "reshape", "reshape", "reshape", "dense", "softmax"]);
    // Squeeze, ExpandDims and Reshape merge into one reshape (the pipeline's first pass).
    expect(mergeElementwiseChains(graph).nodes.map((n) => n.op)).toEqual(["global_avg_pool", "reshape", "dense", "softmax"]);
    const input = tf.randomNormal([1, 4, 4, 3], 0, 1, "float32", 7);
    const want = tf.softmax(tf.matMul(input.mean([1, 2]), tf.tensor2d(weights, [3, 2]))).dataSync();
    expect(maxAbsDiff(runFloat(graph, input.dataSync() as Float32Array), want)).toBeLessThanOrEqual(TOLERANCE);
  });

  it("fused FusedBatchNorm+Relu conv and BiasAdd+LeakyRelu depthwise match TF.js ops, float and int8", async () => {
    const w = new GraphModelWriter();
    const x = placeholder(w, [6, 6, 2]);
    const dw = randomData([3, 3, 2, 2], 32), dwBias = randomData([4], 33), k = randomData([1, 1, 4, 3], 34);
    const [gamma, beta, mu] = [35, 36, 37].map((s) => randomData([3], s));
    const variance = tf.randomUniform([3], 0.5, 2, "float32", 38).dataSync() as Float32Array;
    const d = w.op("dw", "FusedDepthwiseConv2dNative", [x, w.constant("dw/w", [3, 3, 2, 2], dw), w.constant("dw/b", [4], dwBias)],
      { ...CONV_ATTRS, padding: attr.s("SAME"), fused_ops: attr.strs(["BiasAdd", "LeakyRelu"]), num_args: attr.i(1), leakyrelu_alpha: attr.f(0.3) });
    w.op("Identity", "_FusedConv2D", [d, w.constant("pw/w", [1, 1, 4, 3], k), ...[gamma, beta, mu, variance].map((v, i) => w.constant(`pw/bn${i}`, [3], v))],
      { ...CONV_ATTRS, padding: attr.s("VALID"), fused_ops: attr.strs(["FusedBatchNorm", "Relu"]), num_args: attr.i(4), epsilon: attr.f(0.001) });
    const modelJson = w.save(tempDir("kiln-graph-"));
    const reference = (input: tf.Tensor): tf.Tensor => {
      const y = tf.leakyRelu(tf.add(tf.depthwiseConv2d(input as tf.Tensor4D, tf.tensor4d(dw, [3, 3, 2, 2]), 1, "same"), tf.tensor1d(dwBias)), 0.3);
      return tf.relu(tf.batchNorm(tf.conv2d(y as tf.Tensor4D, tf.tensor4d(k, [1, 1, 4, 3]), 1, "valid"), mu, variance, beta, gamma, 0.001));
    };
    const graph = loadModel(modelJson);
    const input = tf.randomNormal([1, 6, 6, 2], 0, 1, "float32", 8);
    expect(maxAbsDiff(runFloat(graph, input.dataSync() as Float32Array), reference(input).dataSync())).toBeLessThanOrEqual(TOLERANCE);
    const run = await runInt8Everywhere({ predict: reference } as unknown as tf.LayersModel, modelJson, [6, 6, 2], 24, 4);
    run.reference.forEach((ref, i) => {
      expect(Array.from(run.simd[i])).toEqual(Array.from(ref));
      expect(Array.from(run.scalar[i])).toEqual(Array.from(ref));
    });
  });
});

describe("errors name the file, the node and its op", () => {
  const build = (edit: (w: GraphModelWriter, conv: string) => void, convAttrs: Record<string, unknown> = {}): string => {
    const w = new GraphModelWriter();
    const x = placeholder(w, [6, 6, 2]);
    const conv = w.op("block/conv", "Conv2D", [x, w.constant("block/w", [3, 3, 2, 2], randomData([3, 3, 2, 2], 40))], { ...CONV_ATTRS, padding: attr.s("SAME"), ...convAttrs } as never);
    edit(w, conv);
    return w.save(tempDir("kiln-graph-"));
  };

  it("an unknown op, with the supported op list", () => {
    const path = build((w, conv) => w.op("Identity", "Identity", [w.op("block/gelu/Erf", "Erf", [conv], { T: F32 })]));
    expect(() => loadModel(path)).toThrow(/model\.json: node 'block\/gelu\/Erf' has op Erf, which Kiln does not support; supported ops: .*_FusedConv2D/);
  });

  it("NCHW data_format and dilations other than 1", () => {
    const nchw = build((w, conv) => w.op("Identity", "Identity", [conv]), { data_format: attr.s("NCHW") });
    expect(() => loadModel(nchw)).toThrow(/model\.json: node 'block\/conv' \(Conv2D\): data_format NCHW is not supported; Kiln needs NHWC/);
    const dilated = build((w, conv) => w.op("Identity", "Identity", [conv]), { dilations: attr.ints([1, 2, 2, 1]) });
    expect(() => loadModel(dilated)).toThrow(/node 'block\/conv' \(Conv2D\): dilations other than 1/);
  });

  it("a compile-time-only op on a run-time tensor, a weight missing from the manifest, a graph with two outputs", () => {
    const transposed = build((w, conv) => w.op("Identity", "Transpose", [conv, w.ints("perm", [0, 3, 1, 2])]));
    expect(() => loadModel(transposed)).toThrow(/node 'Identity' \(Transpose\): Kiln evaluates this op only at compile time/);
    const unweighted = build((w, conv) => { w.weights.splice(0, 1); w.op("Identity", "Identity", [conv]); });
    expect(() => loadModel(unweighted)).toThrow(/node 'block\/w' \(Const\): no value: it is neither in the weights manifest nor inline/);
    const two = build((w, conv) => { w.op("out1", "Relu", [conv]); w.op("out2", "Sigmoid", [conv]); });
    expect(() => loadModel(two)).toThrow(/exactly one output; this graph has 2 \(out1, out2\)/);
    // A converter signature names the output; the other branch is then never lowered.
    writeFileSync(two, JSON.stringify({ ...JSON.parse(readFileSync(two, "utf8")), signature: { outputs: { y: { name: "out2:0" } } } }));
    expect(loadModel(two).nodes.map((n) => n.op)).toEqual(["conv2d", "sigmoid"]);
  });
});

describe("constant folding agrees with TF.js ops", () => {
  const constOf = (t: tf.Tensor): ConstValue => ({ dtype: t.dtype === "int32" ? "int32" : "float32", shape: t.shape, data: t.dataSync() as Float32Array | Int32Array });
  const fold = (op: string, inputs: tf.Tensor[], attrs = {}): number[] => {
    const c = foldConstant({ name: op, op, attr: attrs }, inputs.map(constOf));
    if (!c) throw new Error(`${op} did not fold`);
    return [...c.shape, -999, ...Array.from(c.data)];
  };
  const flat = (t: tf.Tensor): number[] => [...t.shape, -999, ...Array.from(t.dataSync())];
  const x = tf.range(0, 24, 1, "int32").reshape([2, 3, 4]);
  const ints = (v: number[]): tf.Tensor => tf.tensor1d(v, "int32");

  it("StridedSlice with negative strides, masks and shrink", () => {
    const cases: [number[], number[], number[], number, number, number][] = [
      [[0, 1, -1], [2, 3, 0], [1, 1, -1], 0, 0, 0], [[1], [2], [1], 0, 0, 1], [[0, -1], [0, 0], [1, -2], 1, 3, 0], [[0, 0, 1], [1, 2, 4], [1, 1, 2], 0, 4, 1],
    ];
    for (const [b, e, s, bm, em, sm] of cases) {
      // TF.js's cpu stridedSlice mishandles shrink_axis_mask with non-unit strides; shrinking is slicing one index, then squeezing.
      const shrunk = [0, 1, 2].filter((d) => sm & (1 << d));
      const want = tf.stridedSlice(x, b, e, s, bm, em);
      expect(fold("StridedSlice", [x, ints(b), ints(e), ints(s)], { begin_mask: attr.i(bm), end_mask: attr.i(em), shrink_axis_mask: attr.i(sm) }))
        .toEqual(flat(shrunk.length ? want.squeeze(shrunk) : want));
    }
  });

  it("Transpose, Pack, ConcatV2, broadcasting arithmetic, Cast", () => {
    const a = tf.tensor2d([[1.5, -2], [3, 4.25], [-5, 6]]), b = tf.tensor2d([[0.5, 1]]);
    expect(fold("Transpose", [x, ints([2, 0, 1])])).toEqual(flat(tf.transpose(x, [2, 0, 1])));
    expect(fold("Pack", [a, a.neg()], { axis: attr.i(1) })).toEqual(flat(tf.stack([a, a.neg()], 1)));
    expect(fold("ConcatV2", [a, a, tf.scalar(-1, "int32")])).toEqual(flat(tf.concat([a, a], -1)));
    expect(fold("Mul", [a, b])).toEqual(flat(tf.mul(a, b)));
    expect(fold("Sub", [tf.tensor2d([[1], [2]]), tf.tensor2d([[1, 2, 3]])])).toEqual(flat(tf.sub(tf.tensor2d([[1], [2]]), tf.tensor2d([[1, 2, 3]]))));
    expect(fold("Cast", [a], { DstT: I32 })).toEqual(flat(tf.cast(a, "int32")));
  });
});
