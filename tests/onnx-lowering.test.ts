// The ONNX lowering (compiler/frontends/onnx/lower*.ts): small models written with onnx-proto's encoder, read by Kiln's
// reader, lowered, checked (checkGraph) and run by the float reference interpreter before and after the float passes,
// against ONNX Runtime (max |diff| ≤ 1e-4, same argmax); a flatten before a Gemm against a hand-computed result;
// unsupported ops and attributes as one-line errors naming the node; two models compiled into blobs.
import { describe, expect, it } from "vitest";
import { compileGraph, DEFAULT_COMPILE_OPTIONS } from "../compiler/compile.js";
import { KilnError } from "../compiler/errors.js";
import { tensorOf } from "../compiler/ir.js";
import { runFloat } from "../compiler/interpreter.js";
import { quantizePixels, runInt8 } from "../compiler/int8-interpreter.js";
import { pixelCalibration } from "../compiler/quant/calibration-data.js";
import { Model } from "../runtime/model.js";
import { argmax, maxAbsDiff } from "./helpers.js";
import { randomPixels } from "./int8-harness.js";
import {
  compareWithOrt, float, kilnOutputAsOnnx, lowerFile, onnxBytes, randomValues, runOrt, toNhwc, writeOnnx,
  type Initializer, type ModelSpec, type NodeSpec,
} from "./onnx-writer.js";

const TOLERANCE = 1e-4;
let seed = 100;
const weight = (name: string, dims: number[], lo = -1, hi = 1): Initializer => ({ name, dims, data: randomValues(dims.reduce((a, b) => a * b, 1), seed++, lo, hi) });
const ints = (name: string, data: number[], dims = [data.length]): Initializer => ({ name, dims, data, type: "int64" });
const node = (op: string, inputs: string[], output: string, attrs?: NodeSpec["attrs"]): NodeSpec => ({ op, inputs, outputs: [output], name: output, attrs });
const image = (c: number, h: number, w: number): ModelSpec["input"] => ({ name: "x", dims: ["batch", c, h, w] });

/** Kiln's float reference (before and after the float passes) equals ONNX Runtime's output on two random inputs. */
async function expectSameAsOrt(spec: ModelSpec, range: [number, number] = [-1, 1]): Promise<void> {
  for (const s of [1, 2]) {
    const r = await compareWithOrt(spec, s, range);
    expect(r.kiln.length).toBe(r.ort.length);
    expect(maxAbsDiff(r.kiln, r.ort)).toBeLessThanOrEqual(TOLERANCE);
    expect(maxAbsDiff(r.optimized, r.ort)).toBeLessThanOrEqual(TOLERANCE);
    expect(argmax(r.kiln)).toBe(argmax(r.ort));
  }
}

function expectError(spec: ModelSpec, pattern: RegExp): void {
  const path = writeOnnx(spec, "bad");
  let error: unknown;
  try { lowerFile(path); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(KilnError);
  const message = (error as Error).message;
  expect(message).toMatch(pattern);
  expect(message.startsWith(path)).toBe(true);
  expect(message).not.toContain("\n");
}

/** conv(3×3, pads 1) → relu: the usual head of a test model, on x [1, c, h, w] → [1, m, h, w]. */
function convRelu(c: number, m: number, input = "x", out = "r"): { inits: Initializer[]; nodes: NodeSpec[] } {
  return {
    inits: [weight(`${out}_w`, [m, c, 3, 3]), weight(`${out}_b`, [m])],
    nodes: [node("Conv", [input, `${out}_w`, `${out}_b`], `${out}_conv`, { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }), node("Relu", [`${out}_conv`], out)],
  };
}

describe("the flatten before a Gemm/MatMul (NCHW order kept by permuting weight rows)", () => {
  // B = identity: the Gemm's output is its input vector itself, which ONNX defines as the CHW flattening of x.
  const identity = (n: number): Initializer => ({ name: "eye", dims: [n, n], data: Float32Array.from({ length: n * n }, (_v, i) => (i % (n + 1) === 0 ? 1 : 0)) });

  for (const flatten of ["Flatten", "Reshape"] as const) {
    it(`${flatten} → ${flatten === "Flatten" ? "Gemm" : "MatMul"} of a [1, 2, 2, 3] input gives the input in CHW order (hand-computed)`, () => {
      const spec: ModelSpec = {
        opset: 13, input: image(2, 2, 3), output: "y",
        initializers: [identity(12), ints("shape", [1, -1])],
        nodes: flatten === "Flatten"
          ? [node("Flatten", ["x"], "f"), node("Gemm", ["f", "eye"], "y")]
          : [node("Reshape", ["x", "shape"], "f"), node("MatMul", ["f", "eye"], "y")],
      };
      const graph = lowerFile(writeOnnx(spec));
      const nchw = Float32Array.from({ length: 12 }, (_v, i) => i + 1);
      // Kiln's input is NHWC: element (c, h, w) of x sits at (h·3 + w)·2 + c.
      const nhwc = new Float32Array(12);
      for (let c = 0; c < 2; c++) for (let p = 0; p < 6; p++) nhwc[p * 2 + c] = nchw[c * 6 + p];
      expect(Array.from(runFloat(graph, nhwc))).toEqual(Array.from(nchw));
      // The dense weights are the identity with its rows permuted: row k (NHWC element k) has its 1 in CHW column.
      const dense = graph.nodes.find((n) => n.op === "dense")!;
      const w = tensorOf(graph, dense.inputs[1]).data as Float32Array;
      expect(w[1 * 12 + 6]).toBe(1); // NHWC element 1 is (c=1, h=0, w=0), CHW index 6
      expect(w[1 * 12 + 1]).toBe(0);
    });
  }

  it("conv → relu → flatten → Gemm (transB, bias) matches ONNX Runtime", async () => {
    const head = convRelu(3, 4);
    await expectSameAsOrt({
      opset: 13, input: image(3, 5, 6), output: "y",
      initializers: [...head.inits, weight("fc", [7, 120]), weight("fcb", [7])],
      nodes: [...head.nodes, node("Flatten", ["r"], "f"), node("Gemm", ["f", "fc", "fcb"], "y", { transB: 1 })],
    });
  });

  it("two flattened feature maps concatenated, then Gemm (torch.cat([a.flatten(1), b.flatten(1)], 1))", () => {
    const head = convRelu(3, 4);
    return expectSameAsOrt({
      opset: 13, input: image(3, 5, 6), output: "y",
      initializers: [...head.inits, weight("c2", [2, 4, 3, 3]), weight("fc", [144, 6])],
      nodes: [...head.nodes, node("Conv", ["r", "c2"], "c"), node("Flatten", ["r"], "fa"), node("Flatten", ["c"], "fb"),
        node("Concat", ["fa", "fb"], "cat", { axis: 1 }), node("MatMul", ["cat", "fc"], "y")],
    });
  });

  it("a channels-last flatten (Transpose 0,2,3,1 then Reshape) needs no permutation", async () => {
    const spec: ModelSpec = {
      opset: 13, input: image(3, 4, 4), output: "y",
      initializers: [ints("shape", [1, 48]), weight("w", [48, 5])],
      nodes: [node("Transpose", ["x"], "t", { perm: [0, 2, 3, 1] }), node("Reshape", ["t", "shape"], "f"), node("MatMul", ["f", "w"], "y")],
    };
    await expectSameAsOrt(spec);
    const graph = lowerFile(writeOnnx(spec));
    expect(graph.nodes.map((n) => n.op)).toEqual(["reshape", "dense"]);
    expect(Array.from(tensorOf(graph, graph.nodes[1].inputs[1]).data!)).toEqual(Array.from(spec.initializers![1].data));
  });
});

describe("PyTorch's shape subgraph (x.view(x.size(0), -1)) folds at compile time", () => {
  for (const opset of [11, 13]) {
    it(`Shape → Gather → Unsqueeze → Concat → Reshape, opset ${opset}`, async () => {
      const head = convRelu(2, 3);
      const spec: ModelSpec = {
        opset, input: image(2, 4, 4), output: "y",
        initializers: [...head.inits, ints("zero", [0], []), ints("minus1", [-1]), ...(opset >= 13 ? [ints("axes0", [0])] : []), weight("fc", [48, 6])],
        nodes: [
          ...head.nodes,
          node("Shape", ["r"], "shape"),
          node("Gather", ["shape", "zero"], "batch", { axis: 0 }),
          opset >= 13 ? node("Unsqueeze", ["batch", "axes0"], "batch1") : node("Unsqueeze", ["batch"], "batch1", { axes: [0] }),
          node("Concat", ["batch1", "minus1"], "target", { axis: 0 }),
          node("Reshape", ["r", "target"], "flat"),
          node("MatMul", ["flat", "fc"], "y"),
        ],
      };
      await expectSameAsOrt(spec);
      expect(lowerFile(writeOnnx(spec)).nodes.map((n) => n.op)).toEqual(["conv2d", "relu", "reshape", "dense"]);
    });
  }
});

describe("ops against ONNX Runtime", () => {
  const head = convRelu(3, 4);
  /** x [1, 3, 6, 6] → conv → relu → `tail` (reading "r") → output "y". */
  const onHead = (tail: NodeSpec[], inits: Initializer[] = [], opset = 13, input = image(3, 6, 6)): ModelSpec =>
    ({ opset, input, output: "y", initializers: [...head.inits, ...inits], nodes: [...head.nodes, ...tail] });

  const cases: [string, ModelSpec][] = [
    ["Transpose to NHWC, Relu, Transpose back, Conv", onHead([
      node("Transpose", ["r"], "t", { perm: [0, 2, 3, 1] }), node("Sigmoid", ["t"], "s"), node("Transpose", ["s"], "u", { perm: [0, 3, 1, 2] }),
      node("Conv", ["u", "c2"], "y", { kernel_shape: [1, 1] })], [weight("c2", [2, 4, 1, 1])])],
    ["Mul/Add/Sub/Div by per-channel and scalar constants, constant first too", onHead([
      node("Mul", ["r", "k"], "a"), node("Add", ["a", "s"], "b"), node("Sub", ["k4", "b"], "c"), node("Div", ["c", "d"], "e"), node("Sub", ["e", "s"], "y")],
    [weight("k", [4, 1, 1]), { name: "s", dims: [], data: [0.25] }, weight("k4", [1, 4, 1, 1]), weight("d", [4, 1, 1], 0.5, 2)])],
    ["residual Add, Sub and Mul of two run-time tensors", onHead([
      node("Conv", ["r", "c2", "c2b"], "c", { pads: [1, 1, 1, 1] }), node("Add", ["r", "c"], "a"), node("Sub", ["a", "r"], "b"), node("Mul", ["b", "c"], "y")],
    [weight("c2", [4, 4, 3, 3]), weight("c2b", [4])])],
    ["BatchNormalization, Dropout (opset 13) and Identity", onHead([
      node("BatchNormalization", ["r", "g", "bb", "mean", "var"], "bn", { epsilon: float(1e-3) }), node("Dropout", ["bn"], "dr"), node("Identity", ["dr"], "y")],
    [weight("g", [4]), weight("bb", [4]), weight("mean", [4]), weight("var", [4], 0.1, 2)])],
    ["BatchNormalization on a vector (after Gemm), opset 9", {
      opset: 9, input: { name: "x", dims: [1, 10] }, output: "y",
      initializers: [weight("w", [10, 5]), weight("wb", [5]), weight("g", [5]), weight("bb", [5]), weight("mean", [5]), weight("var", [5], 0.1, 2)],
      nodes: [node("Gemm", ["x", "w", "wb"], "d"), node("BatchNormalization", ["d", "g", "bb", "mean", "var"], "y")],
    }],
    ["Pad from inputs (opset 11), then Conv", onHead([node("Pad", ["r", "pads"], "p"), node("Conv", ["p", "c2"], "y")],
      [ints("pads", [0, 0, 1, 2, 0, 0, 2, 0]), weight("c2", [2, 4, 3, 3])], 11)],
    ["Pad from attributes (opset 7), then MaxPool", onHead([node("Pad", ["r"], "p", { pads: [0, 0, 1, 0, 0, 0, 0, 1] }), node("MaxPool", ["p"], "y", { kernel_shape: [2, 2], strides: [2, 2] })], [], 7)],
    ["Pad with negative pads crops", onHead([node("Pad", ["r", "pads"], "y")], [ints("pads", [0, 0, -1, 1, 0, 0, 0, -2])], 13)],
    ["Clip with attribute bounds (opset 7)", onHead([node("Clip", ["r"], "y", { min: float(0.1), max: float(0.6) })], [], 7)],
    ["Clip(0, 6) as inputs (ReLU6, opset 11)", onHead([node("Mul", ["r", "ten"], "m"), node("Clip", ["m", "lo", "hi"], "y")],
      [{ name: "ten", dims: [], data: [10] }, { name: "lo", dims: [], data: [0] }, { name: "hi", dims: [], data: [6] }], 11)],
    ["Clip with only a max input (opset 13)", onHead([node("Clip", ["r", "", "hi"], "y")], [{ name: "hi", dims: [], data: [0.3] }])],
    ["Neg, and Sub of a constant", onHead([node("Neg", ["r"], "n"), node("Sub", ["n", "s"], "y")], [{ name: "s", dims: [], data: [0.5] }])],
    ["LeakyRelu, Sigmoid, Tanh", onHead([node("Conv", ["r", "c2"], "c", { pads: [1, 1, 1, 1] }), node("LeakyRelu", ["c"], "l", { alpha: float(0.1) }),
      node("Tanh", ["l"], "t"), node("Sigmoid", ["t"], "y")], [weight("c2", [4, 4, 3, 3])])],
    ["HardSigmoid and HardSwish (opset 14)", onHead([node("Conv", ["r", "c2"], "c"), node("HardSigmoid", ["c"], "h", { alpha: float(0.3), beta: float(0.4) }),
      node("Conv", ["h", "c3"], "c4", { pads: [1, 1, 1, 1] }), node("HardSwish", ["c4"], "y")], [weight("c2", [4, 4, 1, 1], -4, 4), weight("c3", [4, 4, 3, 3], -3, 3)], 14)],
    ["Softmax over channels of a feature map (opset 13, axis 1)", onHead([node("Softmax", ["r"], "y", { axis: 1 })])],
    ["Softmax over a whole feature map (opset 11, axis 1 flattens C, H, W)", onHead([node("Softmax", ["r"], "y", { axis: 1 })], [], 11)],
    ["MaxPool 3×3, stride 2, pads 1", onHead([node("MaxPool", ["r"], "y", { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })])],
    ["MaxPool ceil_mode on 5×5", onHead([node("MaxPool", ["r"], "y", { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 })], [], 13, image(3, 5, 5))],
    // 4×4, 2×2 stride 2, pads 1 at the end: ceil would give 3, but the third window would start in the padding.
    ["MaxPool ceil_mode whose last window would start in the padding", onHead([node("MaxPool", ["r"], "y", { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 1, 1], ceil_mode: 1 })], [], 13, image(3, 4, 4))],
    ["MaxPool auto_pad SAME_UPPER, 2×2 stride 1", onHead([node("MaxPool", ["r"], "y", { kernel_shape: [2, 2], auto_pad: "SAME_UPPER" })])],
    ["AveragePool auto_pad SAME_LOWER, 2×2 stride 2 on 5×5", onHead([node("AveragePool", ["r"], "y", { kernel_shape: [2, 2], strides: [2, 2], auto_pad: "SAME_LOWER" })], [], 13, image(3, 5, 5))],
    ["AveragePool pads 1, count_include_pad 0", onHead([node("AveragePool", ["r"], "y", { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })])],
    ["AveragePool pads 1, count_include_pad 1", onHead([node("AveragePool", ["r"], "y", { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 })])],
    // 6×6, 3×3 stride 2: ceil_mode adds an output row (pads 1 and 1) and a column (no pads); floor would give 3×2.
    ["AveragePool ceil_mode with count_include_pad 1 and 0", onHead([
      node("AveragePool", ["r"], "a", { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 0], ceil_mode: 1, count_include_pad: 1 }),
      node("AveragePool", ["r"], "b", { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 0], ceil_mode: 1 }), node("Add", ["a", "b"], "y")], [], 13, image(3, 6, 6))],
    ["GlobalAveragePool → Flatten → Gemm, GlobalMaxPool", onHead([node("GlobalAveragePool", ["r"], "g"), node("GlobalMaxPool", ["r"], "m"), node("Add", ["g", "m"], "s"),
      node("Flatten", ["s"], "f"), node("Gemm", ["f", "fc"], "y", { transB: 1 })], [weight("fc", [3, 4])])],
    ["depthwise Conv (group = channels, multiplier 2) with SAME_LOWER padding", onHead([node("Conv", ["r", "dw", "dwb"], "y", { group: 4, auto_pad: "SAME_LOWER", kernel_shape: [4, 4], strides: [2, 2] })],
      [weight("dw", [8, 1, 4, 4]), weight("dwb", [8])])],
    ["Concat of two convolutions on the channel axis", onHead([node("Conv", ["r", "c2"], "a"), node("Conv", ["r", "c3"], "b"), node("Concat", ["a", "b"], "y", { axis: 1 })],
      [weight("c2", [2, 4, 1, 1]), weight("c3", [3, 4, 1, 1])])],
    ["Squeeze (opset 11 attribute), Gemm, Unsqueeze, 1×1 Conv", onHead([node("GlobalAveragePool", ["r"], "g"), node("Squeeze", ["g"], "s", { axes: [2, 3] }),
      node("Gemm", ["s", "fc"], "d"), node("Unsqueeze", ["d"], "u", { axes: [2, 3] }), node("Conv", ["u", "c2"], "c"), node("Flatten", ["c"], "y")],
    [weight("fc", [4, 6]), weight("c2", [5, 6, 1, 1])], 11)],
    ["Squeeze and Unsqueeze with axes inputs (opset 13)", onHead([node("GlobalMaxPool", ["r"], "g"), node("Squeeze", ["g", "axes"], "s"), node("Unsqueeze", ["s", "axes"], "u"),
      node("Softmax", ["u"], "y", { axis: 1 })], [ints("axes", [2, 3])])],
    ["Gemm with transA, alpha, beta and a [1, N] C", onHead([node("GlobalAveragePool", ["r"], "g"), node("Flatten", ["g"], "f"), node("Transpose", ["f"], "t", { perm: [1, 0] }),
      node("Gemm", ["t", "w", "c"], "y", { transA: 1, alpha: float(0.5), beta: float(2) })], [weight("w", [4, 3]), weight("c", [1, 3])])],
  ];
  for (const [title, spec] of cases) it(title, () => expectSameAsOrt(spec));

  it("a vector model: Gemm → Relu → MatMul + Add → Softmax (opset 11, axis 1)", () => expectSameAsOrt({
    opset: 11, input: { name: "x", dims: ["N", 20] }, output: "y",
    initializers: [weight("w1", [16, 20]), weight("b1", [16]), weight("w2", [16, 10]), weight("b2", [10])],
    nodes: [node("Gemm", ["x", "w1", "b1"], "h", { transB: 1 }), node("Relu", ["h"], "r"), node("MatMul", ["r", "w2"], "m"), node("Add", ["m", "b2"], "a"),
      node("Softmax", ["a"], "y", { axis: 1 })],
  }));
});

describe("what Kiln does not compile is a one-line error naming the node", () => {
  const base = (nodes: NodeSpec[], inits: Initializer[] = [], opset = 13, input = image(4, 6, 6)): ModelSpec => ({ opset, input, output: "y", initializers: inits, nodes });

  it("an unsupported op names the node, op type, opset and the supported list", () => {
    expectError(base([node("Erf", ["x"], "y")]), /node 'y' has op 'Erf' \(opset 13\), which Kiln does not support; supported ops: .*Conv.*MaxPool.*on constants only: .*Gather/);
    expectError(base([{ op: "FusedConv", domain: "com.microsoft", inputs: ["x"], outputs: ["y"], name: "f" }]), /node 'f' has op 'com.microsoft::FusedConv'/);
  });
  it("a grouped convolution other than depthwise", () => expectError(base([node("Conv", ["x", "w"], "y", { group: 2 })], [weight("w", [4, 2, 3, 3])]),
    /node 'y' \(Conv, opset 13\): group 2 is not supported: Kiln runs group 1 .* and group = input channels \(4, depthwise\)/));
  it("dilated convolution", () => expectError(base([node("Conv", ["x", "w"], "y", { dilations: [2, 2] })], [weight("w", [2, 4, 3, 3])]), /dilations \[2, 2\] are not supported/));
  it("an attribute Kiln does not read", () => expectError(base([node("Relu", ["x"], "y", { fancy: 1 })]), /node 'y' \(Relu, opset 13\): attribute 'fancy' is not supported/));
  it("a transpose that would move data, read by a conv", () => expectError(base([node("Transpose", ["x"], "t", { perm: [0, 1, 3, 2] }), node("Conv", ["t", "w"], "y")],
    [weight("w", [2, 4, 3, 3])]), /node 'y' \(Conv, opset 13\): .*would need a real transpose/));
  it("a flattened feature map as the model's output", () => expectError(base([node("Flatten", ["x"], "y")]), /output 'y' \[1,144\] is a feature map reshaped in ONNX's channel-major order/));
  it("Dropout's mask read by another node", () => expectError(base([{ op: "Dropout", inputs: ["x"], outputs: ["d", "mask"], name: "drop" }, node("Add", ["d", "mask"], "y")]),
    /node 'drop' \(Dropout, opset 13\): its output #1 'mask' is read/));
  it("Pad in reflect mode", () => expectError(base([node("Pad", ["x", "pads"], "y", { mode: "reflect" })], [ints("pads", [0, 0, 1, 1, 0, 0, 1, 1])]), /mode 'reflect' is not supported/));
  it("broadcasting between two run-time tensors", () => expectError(base([node("GlobalAveragePool", ["x"], "g"), node("Mul", ["x", "g"], "y")]),
    /node 'y' \(Mul, opset 13\): operands \[1,4,6,6\] .* and \[1,4,1,1\] .* differ in shape/));
  it("Softmax over an axis Kiln does not hold innermost", () => expectError(base([node("Softmax", ["x"], "y", { axis: 2 })]), /softmax over axis 2/));
  it("a compile-time op on a run-time tensor", () => expectError(base([node("Gather", ["x", "i"], "y", { axis: 1 })], [ints("i", [0])]), /evaluates Gather only at compile time/));
  it("a batch other than 1", () => expectError(base([node("Relu", ["x"], "y")], [], 13, { name: "x", dims: [2, 4, 6, 6] }), /input 'x' has shape \[2,4,6,6\], a batch of 2/));
  it("Clip bounds computed at run time", () => expectError(base([node("Clip", ["x", "x"], "y")]), /node 'y' \(Clip, opset 13\): input 'x' is computed at run time; Kiln needs a constant there/));
  it("a constant larger than Kiln's limits, folded at compile time", () => expectError(base([node("ConstantOfShape", ["big"], "c"), node("Add", ["x", "c"], "y")], [ints("big", [65536, 65536])]),
    /node 'c' \(ConstantOfShape, opset 13\): shape \[65536, 65536\] is not a shape Kiln can hold/));
  it("a Gather index out of range, at compile time", () => expectError(base([node("Shape", ["x"], "s"), node("Gather", ["s", "i"], "d"), node("Reshape", ["x", "d"], "y")], [ints("i", [7])]),
    /node 'd' \(Gather, opset 13\): index 7 is outside \[-4, 3\]/));
  it("AveragePool with pads as large as the kernel", () => expectError(base([node("AveragePool", ["x"], "y", { kernel_shape: [2, 2], pads: [2, 0, 0, 0] })]), /pads \[2,0,0,0\] must be smaller than the kernel/));
});

describe("lowered ONNX models compile into blobs", () => {
  /** x [1, 1, 12, 12] → Conv → BatchNorm → Relu → MaxPool → Conv → Clip(0, 6) → AveragePool (ceil) → view(N, -1) → Gemm → Softmax. */
  const small: ModelSpec = {
    opset: 13, input: image(1, 12, 12), output: "y",
    initializers: [weight("c1", [4, 1, 3, 3]), weight("c1b", [4]), weight("g", [4], 0.5, 1.5), weight("bb", [4]), weight("mean", [4]), weight("var", [4], 0.5, 1),
      weight("c2", [8, 4, 3, 3]), weight("c2b", [8]), ints("zero", [0], []), ints("axes0", [0]), ints("minus1", [-1]), weight("fc", [10, 32], -0.5, 0.5), weight("fcb", [10])],
    nodes: [
      node("Conv", ["x", "c1", "c1b"], "conv1", { pads: [1, 1, 1, 1] }), node("BatchNormalization", ["conv1", "g", "bb", "mean", "var"], "bn1"), node("Relu", ["bn1"], "relu1"),
      node("MaxPool", ["relu1"], "pool1", { kernel_shape: [2, 2], strides: [2, 2] }), node("Conv", ["pool1", "c2", "c2b"], "conv2"),
      node("Clip", ["conv2", "lo", "hi"], "clip2"), node("AveragePool", ["clip2"], "pool2", { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
      node("Shape", ["pool2"], "shape"), node("Gather", ["shape", "zero"], "batch"), node("Unsqueeze", ["batch", "axes0"], "batch1"),
      node("Concat", ["batch1", "minus1"], "target", { axis: 0 }), node("Reshape", ["pool2", "target"], "flat"), node("Gemm", ["flat", "fc", "fcb"], "logits", { transB: 1 }),
      node("Softmax", ["logits"], "y", { axis: 1 }),
    ],
  };
  small.initializers!.push({ name: "lo", dims: [], data: [0] }, { name: "hi", dims: [], data: [6] });

  it("the float blob matches ONNX Runtime; the int8 blobs (simd, scalar) match Kiln's int8 reference bit for bit", async () => {
    const path = writeOnnx(small, "small");
    const bytes = onnxBytes(small);
    const floatBlob = await Model.load((await compileGraph(lowerFile(path), { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" })).wasm);
    for (const s of [1, 2, 3]) {
      const x = randomValues(144, s, 0, 1);
      const expected = await runOrt(bytes, "x", x, [1, 1, 12, 12]);
      const got = floatBlob.predict(toNhwc(x, [1, 1, 12, 12])).scores;
      expect(maxAbsDiff(got, expected.data)).toBeLessThanOrEqual(TOLERANCE);
      expect(argmax(got)).toBe(argmax(expected.data));
    }
    const pixels = randomPixels(40, 144, 9);
    const calibration = pixelCalibration(pixels, "random pixels");
    for (const target of ["simd", "scalar"] as const) {
      const compiled = await compileGraph(lowerFile(path), { ...DEFAULT_COMPILE_OPTIONS, quantize: "int8", target, calibration, calibrationCount: 40 });
      const blob = await Model.load(compiled.wasm);
      for (let i = 0; i < 4; i++) {
        const image = pixels.subarray(i * 144, (i + 1) * 144);
        blob.predict(image);
        expect(Array.from(blob.rawOutput())).toEqual(Array.from(runInt8(compiled.graph, quantizePixels(compiled.graph, image, 1 / 255, 0))));
      }
    }
  });

  it("a MobileNetV2-style block (1×1 expand, depthwise 3×3, ReLU6 as Clip, 1×1 project, residual Add, global pool): float blob vs ONNX Runtime", async () => {
    const block: ModelSpec = {
      opset: 11, input: image(8, 8, 8), output: "y",
      initializers: [weight("expand", [24, 8, 1, 1]), weight("eb", [24]), weight("dw", [24, 1, 3, 3]), weight("db", [24]), weight("project", [8, 24, 1, 1]), weight("pb", [8]),
        { name: "lo", dims: [], data: [0] }, { name: "hi", dims: [], data: [6] }, weight("fc", [8, 5]), weight("fcb", [5])],
      nodes: [
        node("Conv", ["x", "expand", "eb"], "e"), node("Clip", ["e", "lo", "hi"], "e6"),
        node("Conv", ["e6", "dw", "db"], "d", { group: 24, pads: [1, 1, 1, 1] }), node("Clip", ["d", "lo", "hi"], "d6"),
        node("Conv", ["d6", "project", "pb"], "p"), node("Add", ["x", "p"], "res"), node("GlobalAveragePool", ["res"], "gap"),
        node("Flatten", ["gap"], "f"), node("Gemm", ["f", "fc", "fcb"], "y"),
      ],
    };
    const graph = lowerFile(writeOnnx(block, "block"));
    expect(graph.nodes.map((n) => n.op)).toContain("depthwise_conv2d");
    const blob = await Model.load((await compileGraph(graph, { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" })).wasm);
    for (const s of [1, 2]) {
      const x = randomValues(512, s, -2, 2);
      const expected = await runOrt(onnxBytes(block), "x", x, [1, 8, 8, 8]);
      const got = kilnOutputAsOnnx(graph, blob.predict(toNhwc(x, [1, 8, 8, 8])).scores);
      expect(maxAbsDiff(got, expected.data)).toBeLessThanOrEqual(TOLERANCE);
      expect(argmax(got)).toBe(argmax(expected.data));
    }
  });
});
