// merge-elementwise-chains: two affines, two bounds or two reshapes in a row become one node; anything else stays.
import { describe, expect, it } from "vitest";
import { FLT_MAX } from "../../compiler/ir.js";
import { mergeElementwiseChains } from "../../compiler/passes/merge-elementwise-chains.js";
import { activation, constant, expectRewrite, expectSameOutputs, expectUnchanged, graphOf, node, without, type GraphSpec } from "./graph-fixture.js";

/** x → first → y → second → z, the chain every case starts from. */
function chain(first: [string, Record<string, number>], second: [string, Record<string, number>]): GraphSpec {
  return {
    inputs: ["x"], outputs: ["z"],
    tensors: { x: activation(1, 2, 2, 3), y: activation(1, 2, 2, 3), z: activation(1, 2, 2, 3) },
    nodes: [node("a", first[0], ["x"], ["y"], first[1]), node("b", second[0], ["y"], ["z"], second[1])],
  };
}

/** The chain merged: node a, with `op` and `attrs`, writes z. */
function merged(op: string, attrs: Record<string, number>): GraphSpec {
  return { inputs: ["x"], outputs: ["z"], tensors: { x: activation(1, 2, 2, 3), z: activation(1, 2, 2, 3) }, nodes: [node("a", op, ["x"], ["z"], attrs)] };
}

describe("merge-elementwise-chains", () => {
  it("merges two batch norms into one with scale s1·s2 and shift t1·s2 + t2, in new constants", () => {
    const tensors = {
      x: activation(1, 2, 2, 2), s1: constant([2], [2, 0.5]), t1: constant([2], [1, -1]), y: activation(1, 2, 2, 2),
      s2: constant([2], [3, 4]), t2: constant([2], [0.5, 1]), z: activation(1, 2, 2, 2),
    };
    const before: GraphSpec = {
      inputs: ["x"], outputs: ["z"], tensors,
      nodes: [node("a", "batch_norm", ["x", "s1", "t1"], ["y"]), node("b", "batch_norm", ["y", "s2", "t2"], ["z"])],
    };
    const after = expectRewrite(mergeElementwiseChains, before, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: tensors.x, z: tensors.z, "a/scale": constant([2], [6, 2]), "a/shift": constant([2], [3.5, -3]) },
      nodes: [node("a", "batch_norm", ["x", "a/scale", "a/shift"], ["z"])],
    });
    expectSameOutputs(graphOf(before), after);
  });

  it("leaves a constant that another node still reads as it was", () => {
    // s and t2 feed b and also d: the merged scale and shift must be new constants, not s and t2 rewritten.
    const tensors = {
      x: activation(1, 2), s1: constant([2], [2, 2]), t1: constant([2], [0, 1]), y: activation(1, 2), s: constant([2], [3, 5]),
      t2: constant([2], [1, 1]), z: activation(1, 2), u: activation(1, 2), w: activation(1, 2),
    };
    const before: GraphSpec = {
      inputs: ["x"], outputs: ["w"], tensors,
      nodes: [node("a", "batch_norm", ["x", "s1", "t1"], ["y"]), node("b", "batch_norm", ["y", "s", "t2"], ["z"]),
        node("c", "relu", ["z"], ["u"]), node("d", "batch_norm", ["u", "s", "t2"], ["w"])],
    };
    const after = expectRewrite(mergeElementwiseChains, before, {
      inputs: ["x"], outputs: ["w"],
      tensors: { ...without(tensors, "s1", "t1", "y"), "a/scale": constant([2], [6, 10]), "a/shift": constant([2], [1, 6]) },
      nodes: [node("a", "batch_norm", ["x", "a/scale", "a/shift"], ["z"]), node("c", "relu", ["z"], ["u"]), node("d", "batch_norm", ["u", "s", "t2"], ["w"])],
    });
    expectSameOutputs(graphOf(before), after);
  });

  it("merges two reshapes into one with the second's target", () => {
    expectRewrite(mergeElementwiseChains, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2, 2, 3), y: activation(1, 12), z: activation(1, 3, 4) },
      nodes: [node("a", "reshape", ["x"], ["y"], { shape: [1, 12] }), node("b", "reshape", ["y"], ["z"], { shape: [1, 3, -1] })],
    }, {
      inputs: ["x"], outputs: ["z"],
      tensors: { x: activation(1, 2, 2, 3), z: activation(1, 3, 4) },
      nodes: [node("a", "reshape", ["x"], ["z"], { shape: [1, 3, -1] })],
    });
  });

  it("intersects two bounds, naming the result relu, relu6 or clamp", () => {
    expectRewrite(mergeElementwiseChains, chain(["relu", {}], ["relu6", {}]), merged("relu6", {}));
    expectRewrite(mergeElementwiseChains, chain(["clamp", { min: -1, max: 3 }], ["relu", {}]), merged("clamp", { min: 0, max: 3 }));
    expectRewrite(mergeElementwiseChains, chain(["clamp", { min: 0, max: FLT_MAX }], ["clamp", { min: -5, max: 6 }]), merged("relu6", {}));
    expectRewrite(mergeElementwiseChains, chain(["clamp", { min: -FLT_MAX, max: 9 }], ["clamp", { min: 0, max: FLT_MAX }]), merged("clamp", { min: 0, max: 9 }));
    expectRewrite(mergeElementwiseChains, chain(["relu6", {}], ["clamp", { min: -2, max: FLT_MAX }]), merged("relu6", {}));
  });

  it("merges a chain of three into its first node", () => {
    const t = activation(1, 2, 2, 3);
    const before: GraphSpec = {
      inputs: ["x"], outputs: ["w"], tensors: { x: t, y: t, z: t, w: t },
      nodes: [node("a", "relu", ["x"], ["y"]), node("b", "relu6", ["y"], ["z"]), node("c", "clamp", ["z"], ["w"], { min: 1, max: 2 })],
    };
    const after = expectRewrite(mergeElementwiseChains, before, { inputs: ["x"], outputs: ["w"], tensors: { x: t, w: t }, nodes: [node("a", "clamp", ["x"], ["w"], { min: 1, max: 2 })] });
    expectSameOutputs(graphOf(before), after);
  });

  it("leaves disjoint bounds (the result would be a constant) and ops that do not chain", () => {
    expectUnchanged(mergeElementwiseChains, chain(["clamp", { min: 0, max: 1 }], ["clamp", { min: 2, max: 3 }]));
    expectUnchanged(mergeElementwiseChains, chain(["relu", {}], ["sigmoid", {}]));
    const activationThenReshape = chain(["relu6", {}], ["reshape", { shape: [1, 12] }]);
    expectUnchanged(mergeElementwiseChains, { ...activationThenReshape, tensors: { ...activationThenReshape.tensors, z: activation(1, 12) } });
  });

  it("leaves a chain whose middle tensor has a second reader or is the graph's output", () => {
    const t = activation(1, 2, 2, 3);
    expectUnchanged(mergeElementwiseChains, {
      inputs: ["x"], outputs: ["z"], tensors: { x: t, y: t, z: t, w: t },
      nodes: [node("a", "relu", ["x"], ["y"]), node("b", "relu6", ["y"], ["w"]), node("c", "relu", ["y"], ["z"])],
    });
    expectUnchanged(mergeElementwiseChains, { ...chain(["relu", {}], ["relu6", {}]), outputs: ["y"] });
  });
});
