// The ONNX lowering: a decoded OnnxModel → Kiln's float IR (NHWC, batch 1), node by node in topological order.
//
// Constants (initializers, and whatever the shape subgraphs compute from them and from static shapes) are folded at
// compile time; run-time tensors carry their ONNX shape and how Kiln's NHWC memory holds them (lower-values.ts), so
// NCHW is converted at the edges: the input, conv weights, and the first Gemm/MatMul after a flatten.
import { basename } from "node:path";
import type { AttrValue, Graph } from "../../ir.js";
import { fileText, fileTextList, KilnError, quoteName } from "../../errors.js";
import { own } from "../../limits.js";
import { GraphBuilder } from "../builder.js";
import type { OnnxModel, OnnxNode, OnnxValueInfo } from "./model.js";
import type { LowerContext, OnnxLowering } from "./lower-context.js";
import { CONST_FOLDS, fromOnnxTensor, type ConstFold } from "./lower-const.js";
import { CONV_LOWERINGS } from "./lower-conv.js";
import { ELEMENTWISE_LOWERINGS } from "./lower-elementwise.js";
import { POOL_LOWERINGS } from "./lower-pool.js";
import { SHAPE_LOWERINGS } from "./lower-shape.js";
import { describeLayout, identityAxes, isNchw, kilnShape, NCHW_AXES, type TensorValue, type Value } from "./lower-values.js";

/** Ops on run-time tensors, by ONNX op type (default domain). */
export const ONNX_LOWERINGS: Record<string, OnnxLowering> = { ...SHAPE_LOWERINGS, ...CONV_LOWERINGS, ...POOL_LOWERINGS, ...ELEMENTWISE_LOWERINGS };

/** Every op type Kiln reads, for messages and the README. */
export const SUPPORTED_ONNX_OPS: readonly string[] = [...new Set([...Object.keys(ONNX_LOWERINGS), ...Object.keys(CONST_FOLDS)])].sort();

/** Ops Kiln evaluates only at compile time, on constants and static shapes (the exporters' shape subgraphs). */
export const COMPILE_TIME_ONNX_OPS: readonly string[] = Object.keys(CONST_FOLDS).filter((op) => !own(ONNX_LOWERINGS, op)).sort();

export interface LoweredOnnx {
  graph: Graph;
  /** ONNX run-time tensor name → the Kiln tensor that holds it (for pre-quantized models' activation scales). */
  tensorNames: Map<string, string>;
  /** ONNX weight tensor name (a Conv's, Gemm's or MatMul's weights or bias) → the Kiln constant made from it. */
  weightNames: Map<string, string>;
}

export function lowerOnnx(model: OnnxModel): Graph {
  return lowerOnnxModel(model).graph;
}

const nodeLabel = (node: OnnxNode): string => node.name || node.outputs[0] || node.opType;

function supportedList(): string {
  const runtime = SUPPORTED_ONNX_OPS.filter((op) => !COMPILE_TIME_ONNX_OPS.includes(op));
  return `${runtime.join(", ")}; on constants only: ${COMPILE_TIME_ONNX_OPS.join(", ")}`;
}

/** The model's one input as a Kiln input: float32, batch 1, a [1, C, H, W] image (held NHWC) or a [1, …] tensor. */
function graphInput(model: OnnxModel, b: GraphBuilder): TensorValue {
  if (model.inputs.length !== 1) {
    throw new KilnError(`${model.path}: Kiln compiles models with exactly one input; this one has ${model.inputs.length}${model.inputs.length ? ` (${fileTextList(model.inputs.map((i) => i.name))})` : ""}`);
  }
  const info: OnnxValueInfo = model.inputs[0];
  const where = `${model.path}: input ${quoteName(info.name)}`;
  if (info.dtype !== "float32") throw new KilnError(`${where} is ${fileText(info.dtype)}; Kiln reads float32 inputs`);
  const dims = info.dims;
  if (!dims.every((d): d is number => typeof d === "number" && Number.isSafeInteger(d) && d >= 1)) {
    throw new KilnError(`${where} has unknown sizes [${dims.map((d) => fileText(String(d)))}]; re-export it with a fixed shape`);
  }
  if (dims.length < 2 || dims.length > 4) throw new KilnError(`${where} has shape [${dims}]; Kiln reads [1, C, H, W] images and [1, N] vectors`);
  if (dims[0] !== 1) throw new KilnError(`${where} has shape [${dims}], a batch of ${dims[0]}; Kiln compiles batch 1 (export with batch 1 or a symbolic batch dimension)`);
  const value: TensorValue = { kind: "tensor", name: "", shape: [...dims], layout: { axes: dims.length === 4 ? [...NCHW_AXES] : identityAxes(dims.length) } };
  try {
    value.name = b.input(b.unique(info.name || "input"), kilnShape(value));
  } catch (e) {
    throw new KilnError(`${where}: ${(e as Error).message}`);
  }
  return value;
}

/** The nodes the output depends on, in the model's (topological) order: nodes nobody reads are not lowered. */
function liveNodes(model: OnnxModel, output: string): OnnxNode[] {
  const producer = new Map<string, number>();
  model.nodes.forEach((n, i) => n.outputs.forEach((o) => { if (o) producer.set(o, i); }));
  const live = new Uint8Array(model.nodes.length);
  const stack = [output];
  const seen = new Set<string>();
  while (stack.length) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const i = producer.get(name);
    if (i === undefined || live[i]) continue;
    live[i] = 1;
    for (const input of model.nodes[i].inputs) if (input) stack.push(input);
  }
  return model.nodes.filter((_n, i) => live[i]);
}

function checkAttrs(node: OnnxNode, allowed: readonly string[]): void {
  for (const key of node.attrs.keys()) {
    if (!allowed.includes(key)) throw new Error(`attribute ${quoteName(key)} is not supported (Kiln reads ${allowed.length ? allowed.join(", ") : "no attributes"} here)`);
  }
}

export function lowerOnnxModel(model: OnnxModel): LoweredOnnx {
  const path = model.path;
  const b = new GraphBuilder(basename(path).replace(/\.onnx$/i, "") || "onnx-model", { source: path, format: "onnx", opset: model.opset, producer: model.producer });
  const tensorNames = new Map<string, string>(), weightNames = new Map<string, string>();
  const values = new Map<string, Value>();
  for (const [name, t] of model.initializers) values.set(name, fromOnnxTensor(t));
  const input = graphInput(model, b);
  values.set(model.inputs[0].name, input);
  tensorNames.set(model.inputs[0].name, input.name);
  if (model.outputs.length !== 1) {
    throw new KilnError(`${path}: Kiln compiles models with exactly one output; this one has ${model.outputs.length}${model.outputs.length ? ` (${fileTextList(model.outputs.map((o) => o.name))})` : ""}`);
  }
  const output = model.outputs[0].name;
  const nodes = liveNodes(model, output);
  const read = new Set<string>([output, ...nodes.flatMap((n) => n.inputs)]);

  for (const node of nodes) {
    const label = nodeLabel(node);
    const where = `${path}: node ${quoteName(label)} (${fileText(node.opType)}, opset ${model.opset})`;
    const inputs = node.inputs.map((name) => {
      if (name === "") return undefined;
      const v = values.get(name);
      if (!v) throw new KilnError(`${where}: reads ${quoteName(name)}, which no earlier node, initializer or input provides`);
      return v;
    });
    const defaultDomain = node.domain === "" || node.domain === "ai.onnx";
    const fold: ConstFold | undefined = defaultDomain ? own(CONST_FOLDS, node.opType) : undefined;
    const lowering: OnnxLowering | undefined = defaultDomain ? own(ONNX_LOWERINGS, node.opType) : undefined;
    const constantInputs = inputs.every((v) => v === undefined || v.kind === "const");
    // Shape only needs its input's static shape; every other foldable op folds when all its inputs are constants.
    const useFold = fold !== undefined && (constantInputs || (!lowering && node.opType === "Shape"));
    if (!useFold && !lowering) {
      const op = defaultDomain ? node.opType : `${node.domain}::${node.opType}`;
      if (fold) throw new KilnError(`${where}: Kiln evaluates ${fileText(node.opType)} only at compile time (on constants and shapes), but an input is computed at run time`);
      throw new KilnError(`${path}: node ${quoteName(label)} has op ${quoteName(op)} (opset ${model.opset}), which Kiln does not support; supported ops: ${supportedList()}`);
    }
    const base = label;
    const ctx: LowerContext = {
      builder: b,
      node,
      opset: model.opset,
      optional: (i) => inputs[i],
      tensor(i) {
        const v = inputs[i];
        if (!v) throw new Error(`needs an input #${i}`);
        if (v.kind !== "tensor") throw new Error(`input ${quoteName(node.inputs[i])} is a constant; Kiln needs a run-time tensor there`);
        return v;
      },
      constant(i) {
        const v = inputs[i];
        if (!v) throw new Error(`needs an input #${i}`);
        if (v.kind !== "const") throw new Error(`input ${quoteName(node.inputs[i])} is computed at run time; Kiln needs a constant there`);
        return v;
      },
      optionalConstant: (i) => (inputs[i] ? ctx.constant(i) : undefined),
      emit(op: string, ins: string[], attrs: Record<string, AttrValue> = {}, suffix?: string) {
        return b.node(op, b.unique(suffix ? `${base}/${suffix}` : base), ins, attrs);
      },
      weight(suffix, shape, data, from) {
        const name = b.constant(b.unique(`${base}/${suffix}`), shape, data);
        if (from) weightNames.set(from, name);
        return name;
      },
    };
    let value: Value;
    try {
      if (useFold) {
        checkAttrs(node, fold.attrs);
        value = fold.fold(ctx);
      } else {
        checkAttrs(node, lowering!.attrs);
        value = lowering!.lower(ctx);
      }
      node.outputs.forEach((o, i) => {
        if (i > 0 && o && read.has(o)) throw new Error(`its output #${i} ${quoteName(o)} is read by another node; Kiln computes only the first output of ${fileText(node.opType)}`);
      });
    } catch (e) {
      if (e instanceof KilnError) throw e;
      const internal = e instanceof Error && e.constructor !== Error ? "internal: " : "";
      throw new KilnError(`${where}: ${internal}${fileText(String((e as Error)?.message ?? e), 400)}`);
    }
    if (!node.outputs[0]) continue;
    values.set(node.outputs[0], value);
    if (value.kind === "tensor") tensorNames.set(node.outputs[0], value.name);
  }

  const out = values.get(output);
  if (!out) throw new KilnError(`${path}: the output ${quoteName(output)} is produced by no node`);
  if (out.kind === "const") throw new KilnError(`${path}: the output ${quoteName(output)} is a constant (it does not depend on the input); there is nothing to compile`);
  if ("order" in out.layout) {
    throw new KilnError(`${path}: the output ${quoteName(output)} [${out.shape}] is a feature map reshaped in ONNX's channel-major order; Kiln holds feature maps ` +
      "channels-last (NHWC) and reorders them only into a following Gemm/MatMul's weights. End the model with a Gemm/MatMul after the flatten, or flatten channels-last (x.permute(0, 2, 3, 1).flatten(1))");
  }
  let result = out.name;
  if (result === input.name) result = b.node("identity", b.unique(`${output || "output"}`), [result]);
  b.graph.outputs.push(result);
  b.graph.meta.onnx = {
    input: { name: model.inputs[0].name, shape: input.shape, layout: isNchw(input) ? "NCHW (Kiln reads NHWC)" : "as is" },
    output: { name: output, shape: out.shape, layout: isNchw(out) ? "NCHW (Kiln writes NHWC)" : describeLayout(out) },
  };
  return { graph: b.graph, tensorNames, weightNames };
}
