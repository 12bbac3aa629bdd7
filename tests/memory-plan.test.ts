// Unit tests for the static memory planner (greedyBySize, lowerBound) and activation lifetimes (activationBuffers).
import { describe, expect, it } from "vitest";
import { greedyBySize, lowerBound, type BufferRequest, type MemoryPlan } from "../compiler/memory-plan.js";
import { activationBuffers } from "../compiler/lifetimes.js";
import { GraphBuilder } from "../compiler/frontends/builder.js";
import { seededRandom } from "./seeded-random.js";

const buf = (id: string, size: number, firstUse: number, lastUse: number): BufferRequest => ({ id, size, firstUse, lastUse });
const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
const liveTogether = (a: BufferRequest, b: BufferRequest): boolean => a.firstUse <= b.lastUse && b.firstUse <= a.lastUse;

/** Independent reference: the most aligned bytes live at any one step. */
function referenceLowerBound(buffers: BufferRequest[], alignment: number): number {
  let best = 0;
  const steps = new Set(buffers.flatMap((b) => [b.firstUse, b.lastUse]));
  for (const step of steps) {
    const live = buffers.filter((b) => b.firstUse <= step && step <= b.lastUse).reduce((s, b) => s + alignUp(b.size, alignment), 0);
    best = Math.max(best, live);
  }
  return best;
}

/** Every invariant a valid plan must satisfy. Returns a description of the first violation, or "" if none. */
function violations(buffers: BufferRequest[], alignment: number, plan: MemoryPlan): string {
  for (const b of buffers) {
    const off = plan.offsets.get(b.id);
    if (off === undefined) return `${b.id} has no offset`;
    if (off < 0 || off % alignment !== 0) return `${b.id} at ${off} is not a multiple of ${alignment}`;
    if (off + b.size > plan.arenaBytes) return `${b.id} [${off}, ${off + b.size}) runs past the arena (${plan.arenaBytes})`;
  }
  for (let i = 0; i < buffers.length; i++) {
    for (let j = i + 1; j < buffers.length; j++) {
      const a = buffers[i], b = buffers[j];
      if (!liveTogether(a, b)) continue;
      const oa = plan.offsets.get(a.id)!, ob = plan.offsets.get(b.id)!;
      if (oa < ob + b.size && ob < oa + a.size) return `${a.id}@${oa}+${a.size} overlaps ${b.id}@${ob}+${b.size} while both are live`;
    }
  }
  if (plan.arenaBytes < plan.lowerBound) return `arena ${plan.arenaBytes} is below the lower bound ${plan.lowerBound}`;
  return "";
}

describe("greedyBySize", () => {
  it("gives an empty plan for no buffers", () => {
    const plan = greedyBySize([], 16);
    expect(plan.arenaBytes).toBe(0);
    expect(plan.lowerBound).toBe(0);
    expect(plan.offsets.size).toBe(0);
  });

  it("reuses a's memory for c in a chain a → b → c", () => {
    // node 0 reads a and writes b; node 1 reads b and writes c. a and c are never live together.
    const buffers = [buf("a", 10, 0, 0), buf("b", 6, 0, 1), buf("c", 10, 1, 1)];
    const plan = greedyBySize(buffers, 8);
    // Aligned sizes 16, 8, 16: a and c share [0, 16), b sits at [16, 24).
    expect(plan.offsets.get("a")).toBe(0);
    expect(plan.offsets.get("c")).toBe(0);
    expect(plan.offsets.get("b")).toBe(16);
    expect(plan.arenaBytes).toBe(24);
    expect(plan.lowerBound).toBe(24);
  });

  it("places a buffer in memory freed by one whose lifetime ended", () => {
    // A [0,1] 40 B, B [1,2] 30 B, C [0,0] 20 B. B and C never coexist, so both can sit right above A.
    const buffers = [buf("A", 40, 0, 1), buf("B", 30, 1, 2), buf("C", 20, 0, 0)];
    const plan = greedyBySize(buffers, 1);
    expect(plan.offsets.get("A")).toBe(0);
    expect(plan.offsets.get("B")).toBe(40);
    expect(plan.offsets.get("C")).toBe(40);
    // Peak is at step 1: A + B = 70.
    expect(plan.arenaBytes).toBe(70);
    expect(plan.lowerBound).toBe(70);
  });

  it("stacks buffers that are all live at once and reaches the lower bound", () => {
    const buffers = [buf("x", 32, 0, 2), buf("y", 16, 1, 3), buf("z", 5, 2, 2)];
    const plan = greedyBySize(buffers, 8);
    // All three live at step 2: 32 + 16 + align(5, 8) = 56.
    expect(plan.lowerBound).toBe(56);
    expect(plan.arenaBytes).toBe(56);
    expect(violations(buffers, 8, plan)).toBe("");
  });

  it("keeps every offset a multiple of the alignment even for odd sizes", () => {
    const buffers = [buf("p", 3, 0, 5), buf("q", 7, 0, 5), buf("r", 1, 0, 5), buf("s", 13, 0, 5)];
    for (const alignment of [1, 2, 4, 16, 64]) {
      const plan = greedyBySize(buffers, alignment);
      for (const [id, off] of plan.offsets) expect(off % alignment, `${id} with alignment ${alignment}`).toBe(0);
      expect(plan.arenaBytes).toBe(buffers.reduce((s, b) => s + alignUp(b.size, alignment), 0));
    }
  });

  it("(checker sanity) the invariant checker rejects an overlapping plan", () => {
    const buffers = [buf("a", 8, 0, 1), buf("b", 8, 1, 2)];
    const bad: MemoryPlan = { offsets: new Map([["a", 0], ["b", 4]]), arenaBytes: 12, lowerBound: 16 };
    expect(violations(buffers, 4, bad)).toMatch(/overlaps/);
  });

  it("produces valid plans for 200 random instances", () => {
    const rand = seededRandom(0x6b696c6e);
    const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    for (let trial = 0; trial < 200; trial++) {
      const alignment = [1, 4, 8, 16][int(0, 3)];
      const steps = int(1, 12);
      const buffers: BufferRequest[] = [];
      for (let i = 0, n = int(1, 14); i < n; i++) {
        const first = int(0, steps - 1);
        // Some sizes repeat on purpose so the sort's tie-breaks get exercised.
        const size = rand() < 0.3 ? 64 : int(1, 2000);
        buffers.push(buf(`t${i}`, size, first, Math.min(steps - 1, first + int(0, 4))));
      }
      const plan = greedyBySize(buffers, alignment);
      const context = `trial ${trial}: ${JSON.stringify(buffers)} alignment ${alignment}`;
      expect(violations(buffers, alignment, plan), context).toBe("");
      expect(plan.lowerBound, context).toBe(referenceLowerBound(buffers, alignment));
      expect(plan.arenaBytes, context).toBeGreaterThanOrEqual(referenceLowerBound(buffers, alignment));
      // Never worse than giving every buffer its own slot.
      expect(plan.arenaBytes, context).toBeLessThanOrEqual(buffers.reduce((s, b) => s + alignUp(b.size, alignment), 0));
    }
  });
});

describe("lowerBound", () => {
  it("is 0 for no buffers", () => {
    expect(lowerBound([])).toBe(0);
    expect(lowerBound([], 16)).toBe(0);
  });

  it("is the largest sum of sizes live at one step, with sizes rounded up to the alignment", () => {
    const buffers = [buf("a", 5, 0, 1), buf("b", 5, 1, 2), buf("c", 100, 3, 3)];
    expect(lowerBound(buffers)).toBe(100);
    const small = [buf("a", 5, 0, 1), buf("b", 5, 1, 2)];
    expect(lowerBound(small)).toBe(10);
    expect(lowerBound(small, 4)).toBe(16);
  });
});

describe("activationBuffers", () => {
  it("gives one float32 buffer per activation with node-index lifetimes", () => {
    const b = new GraphBuilder("tiny");
    const x = b.input("x", [1, 4, 4, 2]);
    const r = b.node("relu", "r", [x]);
    const flat = b.node("reshape", "flat", [r], { shape: [1, -1] });
    const w = b.constant("w", [32, 3], new Float32Array(96));
    const bias = b.constant("bias", [3], new Float32Array(3));
    const d = b.node("dense", "d", [flat, w, bias]);
    b.graph.outputs.push(d);
    const byId = new Map(activationBuffers(b.graph).map((req) => [req.id, req]));
    // Constants (weights) are not activations.
    expect([...byId.keys()].sort()).toEqual(["d", "flat", "r", "x"]);
    // The graph input stays live to the end, so run() can be repeated on the same input.
    expect(byId.get("x")).toEqual({ id: "x", size: 4 * 4 * 2 * 4, firstUse: 0, lastUse: 2 });
    expect(byId.get("r")).toEqual({ id: "r", size: 32 * 4, firstUse: 0, lastUse: 1 });
    expect(byId.get("flat")).toEqual({ id: "flat", size: 32 * 4, firstUse: 1, lastUse: 2 });
    expect(byId.get("d")).toEqual({ id: "d", size: 3 * 4, firstUse: 2, lastUse: 2 });
  });

  it("keeps the input live through every step and a graph output live until the last step", () => {
    const b = new GraphBuilder("lifetimes");
    const k = b.constant("k", [1, 6], new Float32Array(6));
    b.node("relu", "k_relu", [k]); // step 0 does not touch the input
    const x = b.input("x", [1, 6]);
    const early = b.node("relu", "early", [x]); // step 1: first read of x
    const mid = b.node("relu", "mid", [early]); // step 2: last read of early
    b.node("relu", "late", [mid]); // step 3
    b.graph.outputs.push(early);
    const byId = new Map(activationBuffers(b.graph).map((req) => [req.id, req]));
    expect(byId.get("x")).toMatchObject({ size: 24, firstUse: 0, lastUse: 3 });
    expect(byId.get("early")).toMatchObject({ size: 24, firstUse: 1, lastUse: 3 });
    expect(byId.get("k_relu")).toMatchObject({ firstUse: 0, lastUse: 0 });
    expect(byId.has("k")).toBe(false);
  });

  it("feeds the planner: a relu chain reuses intermediate memory but never the input's", () => {
    const b = new GraphBuilder("chain");
    const x = b.input("x", [1, 8]);
    const r1 = b.node("relu", "r1", [x]);
    const r2 = b.node("relu", "r2", [r1]);
    const r3 = b.node("relu", "r3", [r2]);
    b.graph.outputs.push(r3);
    const buffers = activationBuffers(b.graph);
    const plan = greedyBySize(buffers, 16);
    // x [0,2], r1 [0,1], r2 [1,2], r3 [2,2], 32 bytes each: r3 can take r1's place, so 96 bytes suffice.
    expect(plan.arenaBytes).toBe(96);
    expect(plan.offsets.get("r3")).toBe(plan.offsets.get("r1"));
    const others = ["r1", "r2", "r3"].map((id) => plan.offsets.get(id));
    expect(others).not.toContain(plan.offsets.get("x"));
    expect(violations(buffers, 16, plan)).toBe("");
  });
});
