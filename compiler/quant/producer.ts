// The quantize hook of conv-like producers: per-channel int8 weights, int32 bias, f32 multipliers, activation clamp.
import { attrString, sizeOf, tensorOf, type Node } from "../ir.js";
import { activationBounds, quantizeWeightsPerChannel } from "./arithmetic.js";
import type { QuantizeContext } from "./context.js";

/**
 * Weights get one symmetric scale per output channel. Output channels run over the weight axes from `channelAxis` on:
 * the last axis for conv2d ([kh, kw, cin, oc]) and dense ([n, m]); axes 2 and 3 together for depthwise weights
 * ([kh, kw, cin, dm]: output channel ci·dm + m), recorded as axis 2. The bias scale is input scale × weight scale.
 */
export function quantizeProducer(node: Node, ctx: QuantizeContext, channelAxis?: number): void {
  const { graph } = ctx;
  const out = ctx.calibrateOutput(node);
  const input = ctx.quantOf(node.inputs[0]);
  const w = tensorOf(graph, node.inputs[1]);
  const axis = channelAxis ?? w.shape.length - 1;
  const channels = sizeOf(w.shape.slice(axis));
  // A pre-quantized model's int8 weights and scales are used as they are; otherwise symmetric per output channel.
  const { data, scales } = ctx.givenWeights(node, node.inputs[1], w.data as Float32Array, channels)
    ?? quantizeWeightsPerChannel(w.data as Float32Array, channels);
  const wName = `${node.inputs[1]}#int8`;
  graph.tensors.set(wName, { name: wName, shape: w.shape, dtype: "int8", data, quant: { scale: scales, zeroPoint: scales.map(() => 0), axis } });
  node.inputs[1] = wName;
  if (node.inputs[2]) {
    const b = tensorOf(graph, node.inputs[2]);
    const bName = `${node.inputs[2]}#int32`;
    const bias = Int32Array.from(b.data as Float32Array, (v, c) => Math.round(v / (input.scale * scales[c])));
    graph.tensors.set(bName, { name: bName, shape: b.shape, dtype: "int32", data: bias, quant: { scale: scales.map((s) => input.scale * s), zeroPoint: scales.map(() => 0), axis: 0 } });
    node.inputs[2] = bName;
  }
  const { lo, hi } = activationBounds(attrString(node, "activation", "linear"), out);
  node.int8 = {
    kind: "producer", inputZp: input.zeroPoint, outputZp: out.zeroPoint,
    multipliers: scales.map((s) => Math.fround((input.scale * s) / out.scale)), clampLo: lo, clampHi: hi,
  };
}
