// Exports Kiln's float Graph IR (NHWC) to an ONNX model (NCHW inside, NCHW input) so ONNX Runtime can run the same net.
import onnxProto from "onnx-proto";
import type { Graph, Node, Tensor } from "../../compiler/ir.js";
import { attrInts, attrNumber, attrString, consumersOf, tensorOf } from "../../compiler/ir.js";
import { loadModel, optimize, DEFAULT_COMPILE_OPTIONS } from "../../compiler/compile.js";

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type IAttr = onnxProto.onnx.IAttributeProto;
type ITensor = onnxProto.onnx.ITensorProto;

export const ONNX_OPSET = 13;

/** How an IR tensor is laid out on the ONNX side: 4-D ones as NCHW; flat ones maybe in NCHW-flattened order. */
type Layout = { kind: "nchw" } | { kind: "flat"; perm?: Int32Array };

const ints = (name: string, values: number[]): IAttr => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
const int = (name: string, value: number): IAttr => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
const float = (name: string, value: number): IAttr => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value });

function floatTensor(name: string, dims: number[], data: Float32Array): ITensor {
  const raw = new Uint8Array(data.byteLength);
  raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

function valueInfo(name: string, dims: number[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

class Exporter {
  readonly nodes: INode[] = [];
  readonly initializers: ITensor[] = [];
  readonly layouts = new Map<string, Layout>();
  private counter = 0;

  constructor(readonly graph: Graph) {}

  fresh(base: string): string { return `${base}__${++this.counter}`; }

  constant(base: string, dims: number[], data: Float32Array): string {
    const name = this.fresh(base);
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  emit(op: string, inputs: string[], outputs: string[], attribute: IAttr[] = []): void {
    this.nodes.push({ opType: op, name: this.fresh(op), input: inputs, output: outputs, attribute });
  }

  data(name: string): Float32Array {
    const t = tensorOf(this.graph, name);
    if (!(t.data instanceof Float32Array)) throw new Error(`onnx export: constant '${name}' is not float32`);
    return t.data;
  }

  /** Emits `act` (a fused activation) on `x`, writing `out`. */
  activation(act: string, x: string, out: string): void {
    if (act === "relu") this.emit("Relu", [x], [out]);
    else if (act === "relu6") this.emit("Clip", [x, this.constant("zero", [], new Float32Array([0])), this.constant("six", [], new Float32Array([6]))], [out]);
    else if (act === "sigmoid") this.emit("Sigmoid", [x], [out]);
    else if (act === "tanh") this.emit("Tanh", [x], [out]);
    else throw new Error(`onnx export: activation '${act}' is not supported`);
  }

  /** A producer (conv/dense) whose activation attribute may be fused: writes to a temporary first if so. */
  producer(node: Node, op: string, inputs: string[], attrs: IAttr[]): void {
    if (node.attrs.pool_kind !== undefined && node.attrs.pool_kind !== "none") throw new Error(`onnx export: '${node.name}' has a fused pool; export the float graph`);
    const act = attrString(node, "activation", "linear");
    const out = node.outputs[0];
    if (act === "linear") { this.emit(op, inputs, [out], attrs); return; }
    const tmp = this.fresh(`${node.name}/pre_act`);
    this.emit(op, inputs, [tmp], attrs);
    this.activation(act, tmp, out);
  }

  conv(node: Node, depthwise: boolean): void {
    const [x, wName, bName] = node.inputs;
    const [kh, kw, cin, last] = tensorOf(this.graph, wName).shape;
    const w = this.data(wName);
    // IR: conv [kh, kw, cin, cout]; depthwise [kh, kw, cin, mult] with output channel ci·mult + m. ONNX: [cout, cin/groups, kh, kw].
    const cout = depthwise ? cin * last : last, perGroup = depthwise ? 1 : cin;
    const out = new Float32Array(cout * perGroup * kh * kw);
    for (let y = 0; y < kh; y++) for (let xk = 0; xk < kw; xk++) for (let ci = 0; ci < cin; ci++) for (let j = 0; j < last; j++) {
      const v = w[((y * kw + xk) * cin + ci) * last + j];
      if (depthwise) out[((ci * last + j) * kh + y) * kw + xk] = v;
      else out[((j * cin + ci) * kh + y) * kw + xk] = v;
    }
    const inputs = [x, this.constant(`${node.name}/W`, [cout, perGroup, kh, kw], out)];
    if (bName) inputs.push(this.constant(`${node.name}/B`, [cout], this.data(bName)));
    const [t, l, b, r] = attrInts(node, "pads", [0, 0, 0, 0]);
    this.producer(node, "Conv", inputs, [ints("kernel_shape", [kh, kw]), ints("strides", attrInts(node, "strides", [1, 1])),
      ints("pads", [t, l, b, r]), int("group", depthwise ? cin : 1), ints("dilations", [1, 1])]);
    this.layouts.set(node.outputs[0], { kind: "nchw" });
  }

  dense(node: Node): void {
    const [x, wName, bName] = node.inputs;
    const [fin, fout] = tensorOf(this.graph, wName).shape;
    let w = this.data(wName);
    const perm = (this.layouts.get(x) as { perm?: Int32Array } | undefined)?.perm;
    if (perm) {
      // The input arrives in NCHW-flattened order: row j of the ONNX matrix is row perm[j] of the NHWC one.
      const permuted = new Float32Array(w.length);
      for (let j = 0; j < fin; j++) permuted.set(w.subarray(perm[j] * fout, (perm[j] + 1) * fout), j * fout);
      w = permuted;
    }
    const inputs = [x, this.constant(`${node.name}/W`, [fin, fout], w)];
    if (bName) inputs.push(this.constant(`${node.name}/B`, [fout], this.data(bName)));
    this.producer(node, "Gemm", inputs, []);
    this.layouts.set(node.outputs[0], { kind: "flat" });
  }

  /** Flatten of a 4-D tensor: if only dense layers read it, they absorb the NHWC→NCHW order; else transpose first. */
  reshape(node: Node): void {
    const [x] = node.inputs, out = node.outputs[0];
    const xs = tensorOf(this.graph, x).shape, ys = tensorOf(this.graph, out).shape;
    if (xs.length === 4 && ys.length === 2) {
      const [, h, w, c] = xs;
      const readers = consumersOf(this.graph, out);
      if (readers.length > 0 && readers.every((n) => n.op === "dense") && !this.graph.outputs.includes(out)) {
        const perm = new Int32Array(h * w * c);
        for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) perm[ch * h * w + p] = p * c + ch;
        this.emit("Flatten", [x], [out], [int("axis", 1)]);
        this.layouts.set(out, { kind: "flat", perm });
        return;
      }
      const t = this.fresh(`${node.name}/nhwc`);
      this.emit("Transpose", [x], [t], [ints("perm", [0, 2, 3, 1])]);
      this.emit("Flatten", [t], [out], [int("axis", 1)]);
    } else if (xs.length === 2 && ys.length === 2) {
      this.emit("Identity", [x], [out]);
      this.layouts.set(out, this.layouts.get(x) ?? { kind: "flat" });
      return;
    } else {
      throw new Error(`onnx export: reshape [${xs}] → [${ys}] is not supported`);
    }
    this.layouts.set(out, { kind: "flat" });
  }

  pool(node: Node, op: "MaxPool" | "AveragePool"): void {
    const attrs = [ints("kernel_shape", attrInts(node, "pool")), ints("strides", attrInts(node, "strides")), ints("pads", attrInts(node, "pads", [0, 0, 0, 0]))];
    if (op === "AveragePool") attrs.push(int("count_include_pad", 0));
    this.emit(op, [node.inputs[0]], [node.outputs[0]], attrs);
    this.layouts.set(node.outputs[0], { kind: "nchw" });
  }

  global(node: Node, op: "GlobalAveragePool" | "GlobalMaxPool"): void {
    const out = node.outputs[0];
    if (node.attrs.keepdims === true) { this.emit(op, [node.inputs[0]], [out]); this.layouts.set(out, { kind: "nchw" }); return; }
    const t = this.fresh(`${node.name}/pooled`);
    this.emit(op, [node.inputs[0]], [t]);
    this.emit("Flatten", [t], [out], [int("axis", 1)]);
    this.layouts.set(out, { kind: "flat" });
  }

  node(node: Node): void {
    const [x] = node.inputs, out = node.outputs[0];
    const same = (): void => { this.layouts.set(out, this.layouts.get(x) ?? { kind: "nchw" }); };
    switch (node.op) {
      case "conv2d": return this.conv(node, false);
      case "depthwise_conv2d": return this.conv(node, true);
      case "dense": return this.dense(node);
      case "reshape": return this.reshape(node);
      case "max_pool": return this.pool(node, "MaxPool");
      case "avg_pool": return this.pool(node, "AveragePool");
      case "global_avg_pool": return this.global(node, "GlobalAveragePool");
      case "global_max_pool": return this.global(node, "GlobalMaxPool");
      case "relu": case "relu6": case "sigmoid": case "tanh": this.activation(node.op, x, out); return same();
      case "leaky_relu": this.emit("LeakyRelu", [x], [out], [float("alpha", attrNumber(node, "alpha"))]); return same();
      case "softmax": this.emit("Softmax", [x], [out], [int("axis", -1)]); return same();
      case "add": case "mul": {
        const layouts = node.inputs.map((n) => this.layouts.get(n));
        if (layouts.some((l) => l && "perm" in l && l.perm)) throw new Error(`onnx export: '${node.name}' reads a permuted flat tensor`);
        this.emit(node.op === "add" ? "Add" : "Mul", node.inputs, [out]);
        return same();
      }
      default: throw new Error(`onnx export: op '${node.op}' (node '${node.name}') is not supported`);
    }
  }
}

export interface ExportedOnnx {
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
  /** The ONNX input shape, NCHW. */
  inputShape: number[];
  nodeCount: number;
}

/** Exports a float graph (after Kiln's float passes) to ONNX: NCHW input, the graph's own output. */
export function exportOnnx(graph: Graph): ExportedOnnx {
  if (graph.inputs.length !== 1 || graph.outputs.length !== 1) throw new Error("onnx export: one input and one output only");
  const input: Tensor = tensorOf(graph, graph.inputs[0]);
  if (input.shape.length !== 4) throw new Error(`onnx export: input [${input.shape}] is not an image`);
  const [, h, w, c] = input.shape;
  const ex = new Exporter(graph);
  ex.layouts.set(input.name, { kind: "nchw" });
  for (const node of graph.nodes) ex.node(node);
  const output = tensorOf(graph, graph.outputs[0]);
  let outName = output.name;
  const outLayout = ex.layouts.get(outName);
  if (output.shape.length === 4) {
    outName = `${output.name}__nhwc`;
    ex.emit("Transpose", [output.name], [outName], [ints("perm", [0, 2, 3, 1])]);
  } else if (outLayout && "perm" in outLayout && outLayout.perm) {
    throw new Error("onnx export: the output is a permuted flat tensor");
  }
  const model = onnx.ModelProto.create({
    irVersion: 8, producerName: "kiln-bench", producerVersion: "1",
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    graph: {
      name: graph.name, node: ex.nodes, initializer: ex.initializers,
      input: [valueInfo(input.name, [1, c, h, w])], output: [valueInfo(outName, output.shape)],
    },
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), inputName: input.name, outputName: outName, inputShape: [1, c, h, w], nodeCount: ex.nodes.length };
}

/** model.json → Kiln's float graph after the float passes (BatchNorm folded, activations fused) → ONNX. */
export function exportOnnxFile(modelJson: string): ExportedOnnx {
  return exportOnnx(optimize(loadModel(modelJson), { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" }));
}
