// quantize: the int8 pipeline's last pass wraps quantizeGraph around the ranges its calibration measures on the graph it receives.
import { describe, expect, it, vi } from "vitest";
import type { Graph } from "../../compiler/ir.js";
import { KilnError } from "../../compiler/errors.js";
import type { Range } from "../../compiler/quant/calibrate.js";
import { quantizeGraph } from "../../compiler/quant/quantize.js";
import { quantizePass, type Calibration } from "../../compiler/passes/quantize.js";
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
});
