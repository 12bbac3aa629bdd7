// quantize: the int8 pipeline's last pass wraps quantizeGraph around the ranges its calibration measures on the graph it receives.
import { describe, expect, it, vi } from "vitest";
import type { Graph } from "../../compiler/ir.js";
import { KilnError } from "../../compiler/errors.js";
import type { Range } from "../../compiler/quant/calibrate.js";
import { quantizeGraph } from "../../compiler/quant/quantize.js";
import { quantizePass, type Calibration } from "../../compiler/passes/quantize.js";
import type { GivenQuant } from "../../compiler/quant/given.js";
import { activation, constant, graphOf, node, plain } from "./graph-fixture.js";

const mapping = { pixelScale: 1 / 255, pixelOffset: 0 };

function denseGraph(): Graph {
  return graphOf({
    inputs: ["x"], outputs: ["z"],
    tensors: { x: activation(1, 2), w: constant([2, 3], [1, -2, 0.5, 3, 0, -1]), b: constant([3], [0.25, 0, -0.25]), z: activation(1, 3) },
    nodes: [node("d", "dense", ["x", "w", "b"], ["z"], { activation: "relu" }, ["dense", "relu"])],
  });
}

const ranges = new Map<string, Range>([["x", { min: 0, max: 1 }], ["z", { min: 0, max: 4.5 }]]);
const calibration: Calibration = { ranges, images: "3 test images", method: "minmax" };

describe("quantize", () => {
  it("is named quantize, calibrates the graph it receives once, and gives quantizeGraph's graph with the calibration recorded", () => {
    const graph = denseGraph();
    const snapshot = structuredClone(plain(graph));
    const calibrate = vi.fn((_g: Graph) => calibration);
    const pass = quantizePass({ ...mapping, calibrate });
    expect(pass.name).toBe("quantize");
    const quantized = pass.run(graph);
    expect(calibrate).toHaveBeenCalledTimes(1);
    expect(calibrate.mock.calls[0][0]).toBe(graph);
    const expected = quantizeGraph(graph, ranges, mapping);
    expected.meta.calibration = { images: "3 test images", method: "minmax" };
    expect(plain(quantized)).toEqual(plain(expected));
    expect(quantized.tensors.get("z")?.quant).toBeDefined();
    expect(plain(graph)).toEqual(snapshot);
  });

  it("refuses an op without an int8 kernel before calibrating (calibration is the slow part)", () => {
    const graph = graphOf({ inputs: ["x"], outputs: ["z"], tensors: { x: activation(1, 2), z: activation(1, 2) }, nodes: [node("keep", "identity", ["x"], ["z"])] });
    const calibrate = vi.fn((_g: Graph) => calibration);
    const run = () => quantizePass({ ...mapping, calibrate }).run(graph);
    expect(run).toThrow(KilnError);
    expect(run).toThrow("node 'keep' (op identity) has no int8 kernel; compile with --quantize none to keep the model in float");
    expect(calibrate).not.toHaveBeenCalled();
  });

  it("a pre-quantized graph (meta.givenQuant) is not calibrated: its own scales, zero points and int8 weights are used", () => {
    // w = q × scale per output channel (the last axis): q = [[2, -4, 2], [6, 0, -4]] with scales [0.5, 0.5, 0.25] gives exactly the float weights.
    const graph = denseGraph();
    const given: GivenQuant = {
      source: "the test's numbers",
      activations: new Map([["x", { scale: 1 / 255, zeroPoint: -128 }], ["z", { scale: 0.02, zeroPoint: -100 }]]),
      weights: new Map([["w", [0.5, 0.5, 0.25]]]),
    };
    graph.meta.givenQuant = given;
    const calibrate = vi.fn((_g: Graph) => calibration);
    const lines: string[] = [];
    const quantized = quantizePass({ ...mapping, calibrate, log: (l) => lines.push(l) }).run(graph);
    expect(calibrate).not.toHaveBeenCalled();
    expect(lines).toEqual(["pre-quantized model: using the test's numbers, no calibration"]);
    expect(quantized.meta.calibration).toEqual({ images: "none (the test's numbers)", method: "qdq" });
    expect(quantized.meta.inputExact).toBe(true);
    expect(quantized.tensors.get("z")?.quant).toEqual({ scale: [0.02], zeroPoint: [-100] });
    const w = quantized.tensors.get(quantized.nodes[0].inputs[1])!;
    expect(Array.from(w.data as Int8Array)).toEqual([2, -4, 2, 6, 0, -4]);
    expect(w.quant?.scale).toEqual([0.5, 0.5, 0.25]);
    // Bias int32 = b / (input scale × weight scale): 0.25 / (0.5/255) = 127.5 → 128, 0, −0.25 / (0.25/255) = −255.
    expect(Array.from(quantized.tensors.get(quantized.nodes[0].inputs[2])!.data as Int32Array)).toEqual([128, 0, -255]);
  });

  it("a pre-quantized graph refuses a tensor without the model's scale, and weights that are not its int8 values times its scales", () => {
    const bare = denseGraph();
    bare.meta.givenQuant = { source: "s", activations: new Map([["x", { scale: 1 / 255, zeroPoint: -128 }]]), weights: new Map([["w", [0.5, 0.5, 0.25]]]) } satisfies GivenQuant;
    const calibrate = vi.fn((_g: Graph) => calibration);
    expect(() => quantizePass({ ...mapping, calibrate }).run(bare)).toThrow(/^node 'd' \(dense\): the pre-quantized model gives no scale for its output 'z'/);
    const off = denseGraph();
    off.meta.givenQuant = {
      source: "s", activations: new Map([["x", { scale: 1 / 255, zeroPoint: -128 }], ["z", { scale: 0.02, zeroPoint: -100 }]]), weights: new Map([["w", [0.3, 0.5, 0.25]]]),
    } satisfies GivenQuant;
    expect(() => quantizePass({ ...mapping, calibrate }).run(off)).toThrow(/^node 'd': its float weights are not the model's int8 weights times their scales/);
    expect(calibrate).not.toHaveBeenCalled();
  });
});
