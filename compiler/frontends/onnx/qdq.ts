// Pre-quantized ONNX (QDQ): QuantizeLinear/DequantizeLinear pairs stripped into the quantization they name.
//
// A QDQ model spells int8 as float ops between Q→DQ pairs: x → Q(s, zp) → DQ(s, zp) → Conv(…, DQ(W_int8, s_w, 0)).
// Kiln keeps the float graph without the pairs (so the lowering sees an ordinary float model) and records what the
// pairs said: each activation tensor's scale and zero point, each producer weight's int8 values' scales. The quantizer
// then uses those instead of calibrating (compiler/quant/given.ts). A pattern that Kiln cannot map exactly is an error
// naming the node: nothing falls back to float or to Kiln's own calibration.
import { fileText, KilnError, quoteName } from "../../errors.js";
import type { Graph } from "../../ir.js";
import type { AffineQuant } from "../../quant/arithmetic.js";
import type { GivenQuant } from "../../quant/given.js";
import type { OnnxModel, OnnxNode, OnnxTensor } from "./model.js";

/** What the Q/DQ pairs of a model said, by ONNX tensor name. */
export interface QdqParams {
  /** Activation tensors (the float tensor a QuantizeLinear read) → int8 scale and zero point (uint8 ones shifted by −128). */
  activations: Map<string, AffineQuant>;
  /** Producer weights (the float initializer that replaced a DequantizeLinear) → one scale per output channel, or one for all. */
  weights: Map<string, number[]>;
}

/** Where a weight's output channels are, for each op that reads int8 weights through a DequantizeLinear. */
function outputChannelAxis(consumer: OnnxNode, rank: number): number | undefined {
  if (consumer.opType === "Conv") return 0;
  if (consumer.opType === "Gemm") return consumer.attrs.get("transB") === 1 ? 0 : 1;
  if (consumer.opType === "MatMul") return rank - 1;
  return undefined;
}

/** One scale per element along `axis` (or one for the whole tensor) and the matching zero points, checked. */
interface QuantArgs { scales: Float32Array; zeroPoints: ArrayLike<number>; zpType: "int8" | "uint8" | "int32"; axis: number | undefined }

class QdqStripper {
  private readonly producers = new Map<string, OnnxNode>();
  private readonly consumers = new Map<string, OnnxNode[]>();
  readonly params: QdqParams = { activations: new Map(), weights: new Map() };
  readonly initializers: Map<string, OnnxTensor>;
  /** Tensor renames: a DequantizeLinear's output → the float tensor its QuantizeLinear read. */
  readonly renames = new Map<string, string>();

  constructor(readonly model: OnnxModel) {
    this.initializers = new Map(model.initializers);
    for (const node of model.nodes) {
      for (const o of node.outputs) this.producers.set(o, node);
      for (const i of node.inputs) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), node]);
    }
  }

  fail(node: OnnxNode, problem: string): never {
    throw new KilnError(`${this.model.path}: node ${quoteName(node.name)} (${fileText(node.opType)}, opset ${this.model.opset}): ${problem}`);
  }

  /** The scale and zero-point inputs of a Q or DQ node: constants, scales finite and > 0, per tensor or along `axis`. */
  quantArgs(node: OnnxNode, rank: number): QuantArgs {
    const [, scaleName, zpName] = node.inputs;
    const scale = this.initializers.get(scaleName);
    if (!scale || scale.dtype !== "float32") this.fail(node, "its scale must be a float constant (an initializer)");
    const scales = scale.data as Float32Array;
    if (scales.some((s) => !(Number.isFinite(s) && s > 0))) this.fail(node, "its scale must be finite and greater than 0");
    let zeroPoints: ArrayLike<number> = new Uint8Array(scales.length);
    let zpType: QuantArgs["zpType"] = "uint8";
    if (zpName) {
      const zp = this.initializers.get(zpName);
      if (!zp || zp.data.length !== scales.length) this.fail(node, "its zero point must be a constant with one value per scale");
      if (zp.dtype !== "int8" && zp.dtype !== "uint8" && zp.dtype !== "int32") this.fail(node, `zero point of type ${zp.dtype}; Kiln maps int8 and uint8 quantization`);
      zeroPoints = zp.data as ArrayLike<number>;
      zpType = zp.dtype;
    }
    const blockSize = node.attrs.get("block_size");
    if (blockSize !== undefined && blockSize !== 0) this.fail(node, "blocked quantization (block_size) is not supported; Kiln maps per-tensor and per-channel scales");
    if (scales.length === 1 && scale.dims.length <= 1) return { scales, zeroPoints, zpType, axis: undefined };
    const attr = node.attrs.get("axis");
    const axisRaw = typeof attr === "number" ? attr : 1;
    const axis = axisRaw < 0 ? axisRaw + rank : axisRaw;
    if (scale.dims.length !== 1 || !(axis >= 0 && axis < rank)) this.fail(node, "per-axis scales must be a 1-D constant along an axis of the input");
    return { scales, zeroPoints, zpType, axis };
  }

  /** DQ of an int8 weight or int32 bias constant: the float constant q·s in its place, and the weight's scales recorded. */
  dequantizeConstant(dq: OnnxNode, q: OnnxTensor): void {
    const args = this.quantArgs(dq, q.dims.length);
    if (q.dtype === "uint8") this.fail(dq, `weights ${quoteName(q.name)} are uint8 (asymmetric); Kiln's int8 weights are symmetric int8 with zero point 0 — quantize the weights as symmetric int8`);
    if (q.dtype !== "int8" && q.dtype !== "int32") this.fail(dq, `constant ${quoteName(q.name)} of type ${q.dtype}; Kiln dequantizes int8 weights and int32 biases`);
    if (Array.from(args.zeroPoints).some((z) => z !== 0)) {
      this.fail(dq, `weights ${quoteName(q.name)} have a nonzero zero point (asymmetric); Kiln's int8 weights are symmetric (zero point 0) — quantize the weights as symmetric int8`);
    }
    const values = q.data as Int8Array | Int32Array;
    if (q.dtype === "int8" && values.some((v) => v === -128)) {
      this.fail(dq, `weights ${quoteName(q.name)} use the value −128; Kiln's symmetric int8 weights lie in [−127, 127] — quantize with a symmetric range`);
    }
    const inner = args.axis === undefined ? 1 : q.dims.slice(args.axis + 1).reduce((a, b) => a * b, 1);
    const channels = args.axis === undefined ? 1 : q.dims[args.axis];
    const data = Float32Array.from(values, (v, i) => v * args.scales[Math.floor(i / inner) % channels]);
    const out = dq.outputs[0];
    this.initializers.set(out, { name: out, dims: [...q.dims], dtype: "float32", data });
    if (q.dtype !== "int8") return;
    for (const consumer of this.consumers.get(out) ?? []) {
      const axis = consumer.inputs[1] === out ? outputChannelAxis(consumer, q.dims.length) : undefined;
      // Anywhere else Kiln would requantize the constant its own way: close to the model, but not its arithmetic.
      if (axis === undefined) {
        this.fail(dq, `int8 constant ${quoteName(q.name)} feeds ${fileText(consumer.opType)} node ${quoteName(consumer.name)} other than as the weights of a Conv, Gemm or MatMul; Kiln keeps a model's int8 constants exactly only there`);
      }
      if (args.axis !== undefined && args.axis !== axis) {
        this.fail(dq, `weights ${quoteName(q.name)} have scales along axis ${args.axis}, but ${fileText(consumer.opType)} node ${quoteName(consumer.name)} has its output channels on axis ${axis}; Kiln needs per-output-channel (or per-tensor) weight scales`);
      }
      this.params.weights.set(out, Array.from(args.scales));
    }
  }

  /** A Q→DQ pair on an activation: the DQ's readers read the Q's input instead, which gets the pair's quantization. */
  stripPair(dq: OnnxNode, q: OnnxNode): void {
    const qArgs = this.quantArgs(q, 0), dqArgs = this.quantArgs(dq, 0);
    if (qArgs.axis !== undefined || dqArgs.axis !== undefined) this.fail(q, "per-axis quantization of an activation; Kiln quantizes activations per tensor");
    if (qArgs.zpType === "int32") this.fail(q, "int32 activations; Kiln maps int8 and uint8 activations");
    if (qArgs.scales[0] !== dqArgs.scales[0] || qArgs.zeroPoints[0] !== dqArgs.zeroPoints[0] || qArgs.zpType !== dqArgs.zpType) {
      this.fail(dq, `dequantizes with other parameters than its QuantizeLinear ${quoteName(q.name)} quantized with; Kiln maps a Q→DQ pair only when both say the same`);
    }
    // uint8 q ∈ [0, 255] with zero point z is exactly int8 q − 128 with zero point z − 128: same reals, same rounding.
    const quant: AffineQuant = { scale: qArgs.scales[0], zeroPoint: qArgs.zeroPoints[0] - (qArgs.zpType === "uint8" ? 128 : 0) };
    const x = this.resolve(q.inputs[0]);
    const before = this.params.activations.get(x);
    if (before && (before.scale !== quant.scale || before.zeroPoint !== quant.zeroPoint)) {
      this.fail(q, `tensor ${quoteName(x)} is quantized twice with different parameters; Kiln gives each tensor one scale and zero point`);
    }
    this.params.activations.set(x, quant);
    this.renames.set(dq.outputs[0], x);
  }

  resolve(name: string): string {
    return this.renames.get(name) ?? name;
  }

  run(): OnnxModel {
    const removed = new Set<OnnxNode>();
    for (const node of this.model.nodes) {
      if (!isQdqNode(node)) continue;
      if ((node.inputs.length < 2 || node.inputs.length > 3 || !node.inputs[0] || !node.inputs[1] || !node.outputs[0])) {
        this.fail(node, "needs an input, a scale and an optional zero point, and one output");
      }
      if (node.opType === "QuantizeLinear") {
        if (this.initializers.has(node.inputs[0])) this.fail(node, "quantizes a constant inside the graph; Kiln reads weights that are stored quantized (DequantizeLinear of an int8 initializer)");
        const readers = this.consumers.get(node.outputs[0]) ?? [];
        const odd = readers.find((r) => !isQdqNode(r) || r.opType !== "DequantizeLinear");
        if (odd) this.fail(node, `its output feeds ${fileText(odd.opType)} node ${quoteName(odd.name)}; Kiln maps QuantizeLinear only when DequantizeLinear reads it`);
        if (this.model.outputs.some((o) => o.name === node.outputs[0])) {
          this.fail(node, "its quantized output is a graph output; Kiln maps QuantizeLinear only when DequantizeLinear reads it (end the graph with the DequantizeLinear)");
        }
        removed.add(node);
      } else if (node.opType === "DequantizeLinear") {
        const source = node.inputs[0];
        const constant = this.model.initializers.get(source);
        const q = this.producers.get(source);
        if (constant) this.dequantizeConstant(node, constant);
        else if (q && isQdqNode(q) && q.opType === "QuantizeLinear") this.stripPair(node, q);
        else this.fail(node, `reads ${quoteName(source)}, which is neither a quantized constant nor a QuantizeLinear output; Kiln's models take float input and quantize it with a Q→DQ pair`);
        removed.add(node);
      }
    }
    const nodes = this.model.nodes.filter((n) => !removed.has(n)).map((n) => ({ ...n, inputs: n.inputs.map((i) => this.resolve(i)) }));
    // Initializers that only the removed nodes read (int8 weights, scales, zero points) go; the float weights stay.
    const used = new Set(nodes.flatMap((n) => n.inputs));
    const initializers = new Map([...this.initializers].filter(([name]) => used.has(name)));
    const outputs = this.model.outputs.map((o) => ({ ...o, name: this.resolve(o.name) }));
    this.checkSingleRounding(nodes);
    return { ...this.model, nodes, initializers, outputs };
  }

  /**
   * Kiln pools in its input's scale and requantizes a conv or dense once, with a following ReLU or Clip (and pool)
   * folded in. A model that quantizes such an op's input and output differently rounds twice, which Kiln would not
   * reproduce: refused, naming the op.
   */
  checkSingleRounding(nodes: OnnxNode[]): void {
    const readers = new Map<string, number>();
    for (const n of nodes) for (const i of n.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
    const producers = new Map(nodes.flatMap((n) => n.outputs.map((o): [string, OnnxNode] => [o, n])));
    for (const node of nodes) {
      const pool = node.opType === "MaxPool" || node.opType === "AveragePool";
      if (!pool && node.opType !== "Relu" && node.opType !== "Clip") continue;
      const input = this.params.activations.get(node.inputs[0]), output = this.params.activations.get(node.outputs[0]);
      if (!input || !output || (input.scale === output.scale && input.zeroPoint === output.zeroPoint)) continue;
      const producer = producers.get(node.inputs[0])?.opType ?? "";
      const folded = ["Conv", "Gemm", "MatMul"].includes(producer) && readers.get(node.inputs[0]) === 1;
      if (pool || folded) {
        this.fail(node, `its input is quantized with scale ${input.scale} and int8 zero point ${input.zeroPoint}, its output with scale ${output.scale} and int8 zero point ${output.zeroPoint}; ` +
          `Kiln ${pool ? "pools in its input's quantization" : `folds it into the ${fileText(producer)} before it and rounds once`} — quantize both the same way`);
      }
    }
  }
}

/** A QuantizeLinear or DequantizeLinear of the default domain (other domains' are left to the lowering, which refuses them). */
function isQdqNode(n: OnnxNode): boolean {
  return (n.domain === "" || n.domain === "ai.onnx") && (n.opType === "QuantizeLinear" || n.opType === "DequantizeLinear");
}

/** Whether a model is pre-quantized (has any QuantizeLinear or DequantizeLinear node). */
export function isQdqModel(model: OnnxModel): boolean {
  return model.nodes.some(isQdqNode);
}

/**
 * The float model without its Q/DQ pairs, and what they said; `qdq` is undefined for a model with none. Output names
 * that a DequantizeLinear wrote become the float tensors the pair wrapped.
 */
export function stripQdq(model: OnnxModel): { model: OnnxModel; qdq?: QdqParams } {
  if (!isQdqModel(model)) return { model };
  const stripper = new QdqStripper(model);
  const stripped = stripper.run();
  return { model: stripped, qdq: stripper.params };
}

/** What the lowering tells about names: the Kiln tensor holding each ONNX run-time tensor, and each weight's Kiln constant. */
export interface LoweredNames {
  tensorNames: Map<string, string>;
  weightNames: Map<string, string>;
}

/**
 * Hands the pairs' quantization to the quantizer (graph.meta.givenQuant), by Kiln tensor name. An activation the
 * lowering did not keep as a Kiln tensor (folded away) needs no scale; the quantizer refuses any tensor left without one.
 */
export function attachQdq(graph: Graph, qdq: QdqParams, names: LoweredNames): void {
  const activations = new Map<string, AffineQuant>();
  for (const [onnxName, q] of qdq.activations) {
    const kiln = names.tensorNames.get(onnxName);
    if (kiln !== undefined) activations.set(kiln, q);
  }
  const weights = new Map<string, number[]>();
  for (const [onnxName, scales] of qdq.weights) {
    const kiln = names.weightNames.get(onnxName);
    if (kiln !== undefined) weights.set(kiln, scales);
  }
  const given: GivenQuant = { source: "the model's QuantizeLinear/DequantizeLinear scales and zero points", activations, weights };
  graph.meta.givenQuant = given;
}
