// Test utility: writes a TF.js LayersModel as the GraphModel JSON + weights that tfjs-converter would produce.
import * as tf from "@tensorflow/tfjs";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TfAttr, TfNode } from "../compiler/frontends/tf-attrs.js";

const base64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** Attr values in the protobuf-JSON form the converter writes (int64 as strings, strings as base64). */
export const attr = {
  i: (n: number): TfAttr => ({ i: String(n) }),
  f: (x: number): TfAttr => ({ f: x }),
  s: (v: string): TfAttr => ({ s: base64(v) }),
  b: (v: boolean): TfAttr => ({ b: v }),
  type: (t: string): TfAttr => ({ type: t }),
  ints: (xs: number[]): TfAttr => ({ list: { i: xs.map(String) } }),
  strs: (xs: string[]): TfAttr => ({ list: { s: xs.map(base64) } }),
  shape: (dims: number[]): TfAttr => ({ shape: { dim: dims.map((d) => ({ size: String(d) })) } }),
};

const F32 = attr.type("DT_FLOAT");

interface Weight { name: string; shape: number[]; data: Float32Array | Int32Array }

export interface SaveOptions {
  /** Store float weights as uint8 with a scale and min, like `tensorflowjs_converter --quantize_uint8`. */
  quantizeUint8?: boolean;
}

/** Collects GraphDef nodes and Const weights, then saves them as model.json + one shard. */
export class GraphModelWriter {
  readonly nodes: TfNode[] = [];
  readonly weights: Weight[] = [];

  op(name: string, op: string, input: string[], attrs: Record<string, TfAttr> = {}): string {
    this.nodes.push({ name, op, input, attr: attrs });
    return name;
  }

  /** A Const node whose value lives in the weights manifest under the node's name, as the converter does it. */
  constant(name: string, shape: number[], data: Float32Array | Int32Array): string {
    const dtype = data instanceof Float32Array ? "DT_FLOAT" : "DT_INT32";
    const tensorShape = { dim: shape.map((d) => ({ size: String(d) })) };
    this.weights.push({ name, shape, data });
    return this.op(name, "Const", [], { value: { tensor: { dtype, tensorShape } }, dtype: attr.type(dtype) });
  }

  ints(name: string, values: number[], shape = [values.length]): string {
    return this.constant(name, shape, Int32Array.from(values));
  }

  floats(name: string, values: number[], shape = [values.length]): string {
    return this.constant(name, shape, Float32Array.from(values));
  }

  private encode(options: SaveOptions): { specs: tf.io.WeightsManifestEntry[]; bytes: Uint8Array } {
    const parts: Uint8Array[] = [];
    const specs = this.weights.map(({ name, shape, data }): tf.io.WeightsManifestEntry => {
      const dtype = data instanceof Float32Array ? "float32" : "int32";
      if (options.quantizeUint8 && data instanceof Float32Array) {
        const min = Math.min(...data), max = Math.max(...data);
        const scale = (max - min) / 255;
        parts.push(Uint8Array.from(data, (v) => (scale === 0 ? 0 : Math.round((v - min) / scale))));
        return { name, shape, dtype, quantization: { dtype: "uint8", scale, min } };
      }
      parts.push(new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
      return { name, shape, dtype };
    });
    return { specs, bytes: Uint8Array.from(Buffer.concat(parts)) };
  }

  private topology(): object {
    return { node: this.nodes, library: {}, versions: { producer: 1286 } };
  }

  /** Writes model.json and its shard into `dir`; returns the model.json path. */
  save(dir: string, options: SaveOptions = {}): string {
    mkdirSync(dir, { recursive: true });
    const { specs, bytes } = this.encode(options);
    const json = {
      format: "graph-model", generatedBy: "kiln tests", convertedBy: "tests/graph-model-writer.ts",
      modelTopology: this.topology(), weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights: specs }],
    };
    writeFileSync(join(dir, "model.json"), JSON.stringify(json));
    writeFileSync(join(dir, "group1-shard1of1.bin"), bytes);
    return join(dir, "model.json");
  }

  /** The same model for `tf.loadGraphModel(tf.io.fromMemory(...))`, the independent check of this writer. */
  artifacts(options: SaveOptions = {}): tf.io.ModelArtifacts {
    const { specs, bytes } = this.encode(options);
    return { format: "graph-model", modelTopology: this.topology(), weightSpecs: specs, weightData: bytes.buffer as ArrayBuffer };
  }
}

export interface ConvertOptions {
  /** Flatten as a Reshape by a Const (what the converter folds to), or by the dynamic-batch Shape→StridedSlice→Pack chain. */
  flatten?: "const" | "shape-chain";
  /** Store Dense kernels transposed, read with `transpose_b`. */
  transposeDense?: boolean;
  /** Inserts nodes between the input and the first layer (preprocessing); returns the tensor the layers read. */
  before?: (w: GraphModelWriter, input: string) => string;
}

type Config = Record<string, unknown>;
type LayerWriter = (w: GraphModelWriter, layer: tf.layers.Layer, inputs: string[], options: ConvertOptions) => string;

function weightsOf(w: GraphModelWriter, layer: tf.layers.Layer): Record<string, string> {
  const values = layer.getWeights();
  return Object.fromEntries(layer.weights.map((v, i) => {
    const short = v.name.split("/").pop()!.replace(/:0$/, "");
    return [short, w.constant(`${layer.name}/${short}`, values[i].shape, values[i].dataSync() as Float32Array)];
  }));
}

const ACTIVATION_OPS: Record<string, string> = { relu: "Relu", relu6: "Relu6", sigmoid: "Sigmoid", tanh: "Tanh", softmax: "Softmax" };

function activate(w: GraphModelWriter, name: string, x: string, activation: unknown): string {
  if (activation === undefined || activation === null || activation === "linear") return x;
  const op = ACTIVATION_OPS[String(activation)];
  if (!op) throw new Error(`graph-model writer: activation ${String(activation)} is not handled`);
  return w.op(`${name}/${op}`, op, [x], { T: F32 });
}

const pair = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : [Number(v), Number(v)]);
const nhwcWindow = (v: unknown): TfAttr => { const [h, wd] = pair(v); return attr.ints([1, h, wd, 1]); };
const padding = (c: Config): TfAttr => attr.s(String(c.padding).toUpperCase());

/** Conv2D/DepthwiseConv2D: the fused form with BiasAdd (+ Relu/Relu6) when there is a bias, as grappler's remapper emits. */
function convolution(plain: string, fused: string, kernelName: string): LayerWriter {
  return (w, layer, [x]) => {
    const c = layer.getConfig() as Config;
    const weights = weightsOf(w, layer);
    const act = String(c.activation ?? "linear");
    const attrs: Record<string, TfAttr> = {
      T: F32, strides: nhwcWindow(c.strides), padding: padding(c), data_format: attr.s("NHWC"),
      dilations: attr.ints([1, 1, 1, 1]), explicit_paddings: attr.ints([]),
    };
    if (!weights.bias) return activate(w, layer.name, w.op(`${layer.name}/${plain}`, plain, [x, weights[kernelName]], attrs), act);
    const fusedAct = act === "relu" || act === "relu6" ? [ACTIVATION_OPS[act]] : [];
    const y = w.op(`${layer.name}/${fused}`, fused, [x, weights[kernelName], weights.bias],
      { ...attrs, fused_ops: attr.strs(["BiasAdd", ...fusedAct]), num_args: attr.i(1), epsilon: attr.f(0) });
    return fusedAct.length ? y : activate(w, layer.name, y, act);
  };
}

const dense: LayerWriter = (w, layer, [x], options) => {
  const c = layer.getConfig() as Config;
  const [kernel, bias] = layer.getWeights();
  const stored = options.transposeDense ? (tf.transpose(kernel) as tf.Tensor) : kernel;
  const k = w.constant(`${layer.name}/kernel`, stored.shape, stored.dataSync() as Float32Array);
  const act = String(c.activation ?? "linear");
  const fusedAct = act === "relu" || act === "relu6" ? [ACTIVATION_OPS[act]] : [];
  const inputs = [x, k, ...(bias ? [w.constant(`${layer.name}/bias`, bias.shape, bias.dataSync() as Float32Array)] : [])];
  const y = w.op(`${layer.name}/MatMul`, "_FusedMatMul", inputs, {
    T: F32, transpose_a: attr.b(false), transpose_b: attr.b(options.transposeDense === true),
    fused_ops: attr.strs([...(bias ? ["BiasAdd"] : []), ...fusedAct]), num_args: attr.i(bias ? 1 : 0), epsilon: attr.f(0),
  });
  return fusedAct.length ? y : activate(w, layer.name, y, act);
};

function pooling(op: string): LayerWriter {
  return (w, layer, [x]) => {
    const c = layer.getConfig() as Config;
    return w.op(`${layer.name}/${op}`, op, [x], { T: F32, ksize: nhwcWindow(c.poolSize), strides: nhwcWindow(c.strides ?? c.poolSize), padding: padding(c), data_format: attr.s("NHWC") });
  };
}

const flatten: LayerWriter = (w, layer, [x], options) => {
  const n = layer.outputShape[1] as number;
  if (options.flatten !== "shape-chain") return w.op(`${layer.name}/Reshape`, "Reshape", [x, w.ints(`${layer.name}/Const`, [-1, n])], { T: F32, Tshape: attr.type("DT_INT32") });
  // Keras' Flatten with a dynamic batch: reshape(x, stack([shape(x)[0], -1])).
  const shape = w.op(`${layer.name}/Shape`, "Shape", [x], { T: F32, out_type: attr.type("DT_INT32") });
  const batch = w.op(`${layer.name}/strided_slice`, "StridedSlice",
    [shape, w.ints(`${layer.name}/strided_slice/stack`, [0]), w.ints(`${layer.name}/strided_slice/stack_1`, [1]), w.ints(`${layer.name}/strided_slice/stack_2`, [1])],
    { T: attr.type("DT_INT32"), Index: attr.type("DT_INT32"), begin_mask: attr.i(0), end_mask: attr.i(0), ellipsis_mask: attr.i(0), new_axis_mask: attr.i(0), shrink_axis_mask: attr.i(1) });
  const target = w.op(`${layer.name}/Reshape/shape`, "Pack", [batch, w.ints(`${layer.name}/Reshape/shape/1`, [-1], [])], { T: attr.type("DT_INT32"), N: attr.i(2), axis: attr.i(0) });
  return w.op(`${layer.name}/Reshape`, "Reshape", [x, target], { T: F32, Tshape: attr.type("DT_INT32") });
};

const batchNormalization: LayerWriter = (w, layer, [x]) => {
  const c = layer.getConfig() as Config;
  const weights = weightsOf(w, layer);
  const channels = (layer.outputShape as number[]).at(-1)!;
  const gamma = weights.gamma ?? w.floats(`${layer.name}/ones`, new Array(channels).fill(1));
  const beta = weights.beta ?? w.floats(`${layer.name}/zeros`, new Array(channels).fill(0));
  return w.op(`${layer.name}/FusedBatchNormV3`, "FusedBatchNormV3", [x, gamma, beta, weights.moving_mean, weights.moving_variance],
    { T: F32, U: F32, epsilon: attr.f(Number(c.epsilon)), data_format: attr.s("NHWC"), is_training: attr.b(false) });
};

const LAYER_WRITERS: Record<string, LayerWriter> = {
  Conv2D: convolution("Conv2D", "_FusedConv2D", "kernel"),
  DepthwiseConv2D: convolution("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "depthwise_kernel"),
  Dense: dense,
  MaxPooling2D: pooling("MaxPool"),
  AveragePooling2D: pooling("AvgPool"),
  GlobalAveragePooling2D: (w, layer, [x]) => w.op(`${layer.name}/Mean`, "Mean", [x, w.ints(`${layer.name}/Mean/reduction_indices`, [1, 2])], { T: F32, Tidx: attr.type("DT_INT32"), keep_dims: attr.b(false) }),
  Flatten: flatten,
  Reshape: (w, layer, [x]) => w.op(`${layer.name}/Reshape`, "Reshape", [x, w.ints(`${layer.name}/shape`, [-1, ...((layer.getConfig() as Config).targetShape as number[])])], { T: F32 }),
  ZeroPadding2D: (w, layer, [x]) => {
    const [[t, b], [l, r]] = (layer.getConfig() as Config).padding as number[][];
    return w.op(`${layer.name}/Pad`, "Pad", [x, w.ints(`${layer.name}/paddings`, [0, 0, t, b, l, r, 0, 0], [4, 2])], { T: F32, Tpaddings: attr.type("DT_INT32") });
  },
  BatchNormalization: batchNormalization,
  Add: (w, layer, inputs) => inputs.slice(1).reduce((acc, x, i) => w.op(`${layer.name}/add${i ? `_${i}` : ""}`, "AddV2", [acc, x], { T: F32 }), inputs[0]),
  Concatenate: (w, layer, inputs) => w.op(`${layer.name}/concat`, "ConcatV2", [...inputs, w.ints(`${layer.name}/concat/axis`, [-1], [])], { T: F32, N: attr.i(inputs.length), Tidx: attr.type("DT_INT32") }),
  ReLU: (w, layer, [x]) => activate(w, layer.name, x, (layer.getConfig() as Config).maxValue === 6 ? "relu6" : "relu"),
  LeakyReLU: (w, layer, [x]) => w.op(`${layer.name}/LeakyRelu`, "LeakyRelu", [x], { T: F32, alpha: attr.f(Number((layer.getConfig() as Config).alpha)) }),
  Activation: (w, layer, [x]) => activate(w, layer.name, x, (layer.getConfig() as Config).activation),
  Softmax: (w, layer, [x]) => activate(w, layer.name, x, "softmax"),
  Dropout: (w, layer, [x]) => w.op(`${layer.name}/Identity`, "Identity", [x], { T: F32 }),
};

/** The GraphModel the converter would write for `model` (one input, one output; layers in topological order). */
export function convertLayersModel(model: tf.LayersModel, options: ConvertOptions = {}): GraphModelWriter {
  const w = new GraphModelWriter();
  const outputOf = new Map<string, string>();
  const input = model.inputs[0];
  const x = w.op(input.sourceLayer.name, "Placeholder", [], { dtype: F32, shape: attr.shape(input.shape.map((d) => d ?? -1)) });
  outputOf.set(input.sourceLayer.name, options.before ? options.before(w, x) : x);
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    const write = LAYER_WRITERS[layer.getClassName()];
    if (!write) throw new Error(`graph-model writer: layer class ${layer.getClassName()} is not handled`);
    const inputs = layer.inboundNodes[0].inboundLayers.map((l) => {
      const t = outputOf.get(l.name);
      if (!t) throw new Error(`graph-model writer: layer '${layer.name}' reads '${l.name}' before it is written`);
      return t;
    });
    outputOf.set(layer.name, write(w, layer, inputs, options));
  }
  // The converter ends the graph with an Identity named after the signature output.
  w.op("Identity", "Identity", [outputOf.get(model.outputs[0].sourceLayer.name)!], { T: F32 });
  return w;
}
