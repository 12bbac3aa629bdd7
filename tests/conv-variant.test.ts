// The kernel-variant table for conv-like layers: which int8 kernel each layer gets per target, and what it reserves.
import { describe, expect, it } from "vitest";
import type { AttrValue, Graph, Node } from "../compiler/ir.js";
import { convLikeInt8Codegen, selectConvKernel, type Target } from "../compiler/codegen/conv-variant.js";
import { join } from "node:path";
import { compileFile, DEFAULT_COMPILE_OPTIONS } from "../compiler/compile.js";
import { calibrationImages } from "../bin/calibration.js";
import { ROOT } from "./device-helpers.js";

/** One layer reading x [1, h, w, c] (or [1, n] for dense) with weights of shape `w`; only shapes matter to the table. */
function layer(op: string, x: number[], w: number[], attrs: Record<string, AttrValue> = {}): { node: Node; graph: Graph } {
  const node: Node = { name: "layer", op, inputs: ["x", "w"], outputs: ["y"], attrs };
  const tensors = new Map([
    ["x", { name: "x", shape: x, dtype: "int8" as const }],
    ["w", { name: "w", shape: w, dtype: "int8" as const }],
    ["y", { name: "y", shape: [1, 1, 1, w[w.length - 1]], dtype: "int8" as const }],
  ]);
  return { node, graph: { name: "g", inputs: ["x"], outputs: ["y"], tensors, nodes: [node], meta: {} } };
}

const maxPool2 = { pool_kind: "max", pool_size: [2, 2], pool_strides: [2, 2], pool_pads: [0, 0, 0, 0] };
const avgPool2 = { ...maxPool2, pool_kind: "avg" };

const CASES: { label: string; layer: () => { node: Node; graph: Graph }; simd: string; scalar: string }[] = [
  { label: "dense", layer: () => layer("dense", [1, 20], [20, 7]), simd: "dense_i8", scalar: "dense_scalar_i8" },
  { label: "depthwise 3×3 dm 2", layer: () => layer("depthwise_conv2d", [1, 8, 8, 4], [3, 3, 4, 2]), simd: "depthwise_i8", scalar: "depthwise_i8" },
  { label: "depthwise 3×3 dm 1", layer: () => layer("depthwise_conv2d", [1, 8, 8, 4], [3, 3, 4, 1]), simd: "depthwise3x3_i8", scalar: "depthwise_scalar_i8" },
  { label: "depthwise 3×3/2 dm 1", layer: () => layer("depthwise_conv2d", [1, 9, 9, 5], [3, 3, 5, 1], { strides: [2, 2] }), simd: "depthwise3x3_i8", scalar: "depthwise_scalar_i8" },
  { label: "depthwise 3×3 strides 1×2", layer: () => layer("depthwise_conv2d", [1, 8, 8, 4], [3, 3, 4, 1], { strides: [1, 2] }), simd: "depthwise_i8", scalar: "depthwise_scalar_i8" },
  { label: "depthwise 5×5 dm 1", layer: () => layer("depthwise_conv2d", [1, 8, 8, 4], [5, 5, 4, 1]), simd: "depthwise_i8", scalar: "depthwise_scalar_i8" },
  { label: "conv 3×3/1 on 4 channels", layer: () => layer("conv2d", [1, 8, 8, 4], [3, 3, 4, 8]), simd: "conv_wino_i8", scalar: "conv_scalar_i8" },
  { label: "conv 3×3/1 + max pool 2×2/2", layer: () => layer("conv2d", [1, 8, 8, 8], [3, 3, 8, 8], maxPool2), simd: "conv_wino_i8", scalar: "conv_scalar_i8" },
  { label: "conv 3×3/1 + avg pool (not one Winograd tile)", layer: () => layer("conv2d", [1, 8, 8, 8], [3, 3, 8, 8], avgPool2), simd: "conv_i8", scalar: "conv_scalar_i8" },
  { label: "conv 3×3/2", layer: () => layer("conv2d", [1, 8, 8, 8], [3, 3, 8, 8], { strides: [2, 2] }), simd: "conv_i8", scalar: "conv_scalar_i8" },
  { label: "conv 3×3/2 on 3 channels (a stem)", layer: () => layer("conv2d", [1, 8, 8, 3], [3, 3, 3, 16], { strides: [2, 2], pads: [0, 0, 1, 1] }), simd: "conv_stem_i8", scalar: "conv_scalar_i8" },
  { label: "conv 3×3/2 on 3 channels + max pool", layer: () => layer("conv2d", [1, 8, 8, 3], [3, 3, 3, 16], { strides: [2, 2], ...maxPool2 }), simd: "conv_i8", scalar: "conv_scalar_i8" },
  { label: "conv 3×3/1 on 3 channels", layer: () => layer("conv2d", [1, 8, 8, 3], [3, 3, 3, 16]), simd: "conv_i8", scalar: "conv_scalar_i8" },
  { label: "conv 3×3/1 on 1025 channels (beyond Winograd's exact range)", layer: () => layer("conv2d", [1, 4, 4, 1025], [3, 3, 1025, 4]), simd: "conv_i8", scalar: "conv_scalar_i8" },
  // 9 × 14,679 = 132,111 taps: past the 2^31 / (128 × 127) = 132,104 at which conv_scalar_i8's pair sums stay exact.
  { label: "conv 3×3/1 on 14,679 channels (beyond the pair sums' exact range)", layer: () => layer("conv2d", [1, 4, 4, 14679], [3, 3, 14679, 4]), simd: "conv_i8", scalar: "conv_i8" },
  { label: "conv 3×3/1 on 14,678 channels (the pair sums' last exact size)", layer: () => layer("conv2d", [1, 4, 4, 14678], [3, 3, 14678, 4]), simd: "conv_i8", scalar: "conv_scalar_i8" },
  { label: "conv 3×3 on 1 channel (short rows)", layer: () => layer("conv2d", [1, 8, 8, 1], [3, 3, 1, 8]), simd: "conv_small_i8", scalar: "conv_scalar_i8" },
  { label: "conv 1×1 on 8 channels", layer: () => layer("conv2d", [1, 6, 6, 8], [1, 1, 8, 16]), simd: "conv_pw_i8", scalar: "conv_scalar_i8" },
  { label: "conv 1×1 on 5 channels (short rows)", layer: () => layer("conv2d", [1, 6, 6, 5], [1, 1, 5, 16]), simd: "conv_small_i8", scalar: "conv_scalar_i8" },
  { label: "conv 1×1 padded", layer: () => layer("conv2d", [1, 6, 6, 8], [1, 1, 8, 16], { pads: [1, 1, 1, 1] }), simd: "conv_i8", scalar: "conv_scalar_i8" },
  { label: "conv 1×1 + max pool", layer: () => layer("conv2d", [1, 6, 6, 8], [1, 1, 8, 16], maxPool2), simd: "conv_i8", scalar: "conv_scalar_i8" },
];

describe.each(CASES)("$label", ({ layer: make, simd, scalar }) => {
  it.each([["simd", simd], ["scalar", scalar]] as [Target, string][])("%s → %s", (target, kernel) => {
    const { node, graph } = make();
    expect(selectConvKernel(node, graph, target).kernel).toBe(kernel);
  });
});

describe("the table behind the codegen hooks", () => {
  it("reads the target from graph.meta, as codegen sets it", () => {
    const { node, graph } = layer("conv2d", [1, 8, 8, 4], [3, 3, 4, 8]);
    expect(selectConvKernel(node, graph).kernel).toBe("conv_scalar_i8");
    graph.meta.target = "simd";
    expect(selectConvKernel(node, graph).kernel).toBe("conv_wino_i8");
  });

  it("reserves a persistent buffer for Winograd layers only, and scratch for padded copies and pair bands", () => {
    const wino = layer("conv2d", [1, 8, 8, 4], [3, 3, 4, 8], { pads: [1, 1, 1, 1] });
    wino.graph.meta.target = "simd";
    expect(convLikeInt8Codegen.persistentInt8(wino.node, wino.graph)).toBeGreaterThan(0);
    wino.graph.meta.target = "scalar";
    expect(convLikeInt8Codegen.persistentInt8(wino.node, wino.graph)).toBe(0);
    // conv_scalar_i8 pads as it widens: a row buffer (a padded row of 10 × 4 inputs, 4 partners' zeros past it and 3
    // bytes of overshoot: 47, rounded to 16), then a band of 3 + 1 pair rows (two output rows, stride 1) and 4 spare pairs.
    expect(convLikeInt8Codegen.scratchInt8(wino.node, wino.graph)).toBe(48 + 8 * (4 * 40 + 4));
    // Without padding: the same for rows of 8 × 4 inputs.
    const unpadded = layer("conv2d", [1, 8, 8, 4], [3, 3, 4, 8]);
    expect(convLikeInt8Codegen.scratchInt8(unpadded.node, unpadded.graph)).toBe(48 + 8 * (4 * 32 + 4));
    // Not the whole image: a 64-row input needs the same band as an 8-row one.
    const tall = layer("conv2d", [1, 64, 8, 4], [3, 3, 4, 8]);
    expect(convLikeInt8Codegen.scratchInt8(tall.node, tall.graph)).toBe(48 + 8 * (4 * 32 + 4));
    // A fused 3×3/2 pool over a 3×3/2 conv: a window's 3 conv rows read (3 − 1) × 2 + 3 = 7 input rows of 16 × 8.
    const pool3 = { pool_kind: "max", pool_size: [3, 3], pool_strides: [2, 2], pool_pads: [0, 0, 0, 0] };
    const pooled = layer("conv2d", [1, 16, 16, 8], [3, 3, 8, 8], { strides: [2, 2], ...pool3 });
    expect(convLikeInt8Codegen.scratchInt8(pooled.node, pooled.graph)).toBe(160 + 8 * (7 * 128 + 4));
    // A one-row output (3 input rows): the band is the 3 rows of its window.
    const oneRow = layer("conv2d", [1, 3, 9, 2], [3, 3, 2, 8]);
    expect(convLikeInt8Codegen.scratchInt8(oneRow.node, oneRow.graph)).toBe(32 + 8 * (3 * 18 + 4));
    // depthwise_scalar_i8: one output row at a time, so a band of 3 rows (of 10 × 4 padded inputs).
    const dw = layer("depthwise_conv2d", [1, 8, 8, 4], [3, 3, 4, 1], { pads: [1, 1, 1, 1] });
    expect(convLikeInt8Codegen.scratchInt8(dw.node, dw.graph)).toBe(48 + 8 * (3 * 40 + 4));
    // conv_i8 (what simd builds use for such a layer with avg pool) needs nothing.
    const direct = layer("conv2d", [1, 8, 8, 8], [3, 3, 8, 8], avgPool2);
    direct.graph.meta.target = "simd";
    expect(convLikeInt8Codegen.scratchInt8(direct.node, direct.graph)).toBe(0);
  });

  it("refuses a layer no kernel computes", () => {
    const { node, graph } = layer("max_pool", [1, 4, 4, 1], [1]);
    expect(() => selectConvKernel(node, graph, "simd")).toThrow(/no int8 kernel/);
  });
});

describe("the manifest names each layer's kernels", () => {
  const models = ["mnist-cnn", "lenet5"];
  it.each(models.flatMap((m) => [[m, "simd"], [m, "scalar"]] as [string, Target][]))("%s, %s: the table's choice, as the generated source calls it", async (model, target) => {
    const compiled = await compileFile(join(ROOT, "models", model, "model.json"), { ...DEFAULT_COMPILE_OPTIONS, target, calibration: calibrationImages(), calibrationCount: 32 });
    const layers = compiled.manifest.layers;
    expect(layers.length).toBe(compiled.graph.nodes.length);
    compiled.graph.nodes.forEach((node, i) => {
      // Read from the generated function itself, independently of how the compiler listed them.
      const body = new RegExp(`function layer_${i}\\(\\): void \\{([^}]*)\\}`).exec(compiled.source)?.[1] ?? "";
      const called = [...body.matchAll(/(?<![.\w])([a-z_0-9]+)\(/g)].map((m) => m[1]);
      expect(layers[i].kernels).toEqual(called);
      if (["conv2d", "depthwise_conv2d", "dense"].includes(node.op)) expect(layers[i].kernels).toContain(selectConvKernel(node, compiled.graph, target).kernel);
    });
    expect(layers.some((l) => (l.kernels ?? []).length > 0)).toBe(true);
  }, 120_000);
});
