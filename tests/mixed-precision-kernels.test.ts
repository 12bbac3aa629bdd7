// The kernels of layers kept in float that are not convs or dense layers, built for both targets, against the ops' float
// references (compiler/ops) bit for bit on synthetic values chosen to tell f32 from f64 arithmetic (wide exponents,
// ±0, subnormals, overflow), odd sizes and padded pool windows; hand-computed cases where the f32 kernels would differ.
import { beforeAll, describe, expect, it } from "vitest";
import { buildBlob } from "../compiler/build.js";
import { opDef } from "../compiler/ops/registry.js";
import type { AttrValue, Node } from "../compiler/ir.js";
import { seededRandom } from "./seeded-random.js";

const SOURCE = [
  `import { avg_pool_exact_f32, mean_exact_f32 } from "./kernels/exact-f64-pool";`,
  `import { clamp_exact_f32, leaky_relu_exact_f32 } from "./kernels/exact-f64-elementwise";`,
  `import { add_f32, mul_f32 } from "./kernels/elementwise-f32";`,
  `import { avg_pool_f32, max_pool_f32, unary_f32 } from "./kernels/float";`,
  `import { global_max_pool_f32, spatial_mean_f32 } from "./kernels/global-pool";`,
  `import { concat_f32 } from "./kernels/layout";`,
  "export function avgExact(x: usize, y: usize, H: i32, W: i32, C: i32, OH: i32, OW: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void { avg_pool_exact_f32(x, y, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL); }",
  "export function avgF32(x: usize, y: usize, H: i32, W: i32, C: i32, OH: i32, OW: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void { avg_pool_f32(x, y, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL); }",
  "export function maxF32(x: usize, y: usize, H: i32, W: i32, C: i32, OH: i32, OW: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void { max_pool_f32(x, y, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL); }",
  "export function meanExact(x: usize, y: usize, HW: i32, C: i32): void { mean_exact_f32(x, y, HW, C); }",
  "export function meanF32(x: usize, y: usize, HW: i32, C: i32): void { spatial_mean_f32(x, y, HW, C); }",
  "export function gmax(x: usize, y: usize, HW: i32, C: i32): void { global_max_pool_f32(x, y, HW, C); }",
  "export function clampExact(x: usize, y: usize, n: i32, bounds: usize): void { clamp_exact_f32(x, y, n, bounds); }",
  "export function leakyExact(x: usize, y: usize, n: i32, slope: usize): void { leaky_relu_exact_f32(x, y, n, slope); }",
  "export function unary(x: usize, y: usize, n: i32, kind: i32, a: f32, b: f32): void { unary_f32(x, y, n, kind, a, b); }",
  "export function add(a: usize, b: usize, y: usize, n: i32): void { add_f32(a, b, y, n); }",
  "export function mul(a: usize, b: usize, y: usize, n: i32): void { mul_f32(a, b, y, n); }",
  "export function concat(x: usize, y: usize, pixels: i32, C: i32, COut: i32, offset: i32): void { concat_f32(x, y, pixels, C, COut, offset); }",
].join("\n");

type Fn = (...args: number[]) => void;
interface Kernels { memory: WebAssembly.Memory; [name: string]: Fn | WebAssembly.Memory }
const kernels: Partial<Record<"simd" | "scalar", Kernels>> = {};

beforeAll(async () => {
  for (const target of ["simd", "scalar"] as const) {
    const built = await buildBlob({ source: SOURCE, weights: new Uint8Array(0), weightsBase: 16, memoryBase: 65536, simd: target === "simd", manifest: {} });
    kernels[target] = (await WebAssembly.instantiate(built.wasm, {})).instance.exports as unknown as Kernels;
  }
}, 60_000);

const X = 4096, X2 = 12288, Y = 20480, P = 28672;

/** f32 values whose f32 and f64 sums differ: random mantissas over 2^−30 … 2^30, signs, ±0, a subnormal, huge values. */
function values(n: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const special = [0, -0, 1e-45, -3e38, 3e38, 6, -6, 1];
  return Float32Array.from({ length: n }, (_v, i) => (i % 7 === 3 ? special[(i >> 3) % special.length]
    : (random() < 0.5 ? -1 : 1) * (1 + random()) * 2 ** Math.floor(random() * 60 - 30)));
}

const bitsOf = (v: Float32Array): number[] => Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length));
const node = (op: string, attrs: Record<string, AttrValue>): Node => ({ name: op, op, inputs: ["x", "x2"], outputs: ["y"], attrs });

/** Runs `call` on target's module with inputs written at X (and X2), returning n f32 outputs read at Y. */
function run(target: "simd" | "scalar", inputs: Float32Array[], n: number, call: (k: Kernels) => void): Float32Array {
  const k = kernels[target]!;
  const heap = new Float32Array(k.memory.buffer);
  heap.fill(NaN, Y / 4, Y / 4 + n);
  inputs.forEach((v, i) => heap.set(v, (i === 0 ? X : X2) / 4));
  call(k);
  return new Float32Array(k.memory.buffer, Y, n).slice();
}

const fn = (k: Kernels, name: string): Fn => k[name] as Fn;

/** [H, W, C, kernel, strides, pads]: odd sizes, windows past the edge (padding counted out), stride above the kernel. */
const POOLS: [number, number, number, [number, number], [number, number], [number, number, number, number]][] = [
  [7, 5, 3, [3, 3], [2, 2], [1, 1, 1, 1]], [6, 9, 5, [2, 3], [1, 2], [0, 1, 0, 1]], [13, 13, 7, [2, 2], [3, 3], [0, 0, 0, 0]], [1, 1, 2, [3, 3], [1, 1], [1, 1, 1, 1]],
];

describe.each(["simd", "scalar"] as const)("kept-float kernels (%s) against the float references", (target) => {
  it.each(POOLS)("avg_pool_exact_f32 and max_pool_f32: %i×%i×%i, window %j stride %j pads %j", (H, W, C, kernel, strides, pads) => {
    const x = values(H * W * C, H * 31 + W);
    const OH = Math.floor((H + pads[0] + pads[2] - kernel[0]) / strides[0]) + 1, OW = Math.floor((W + pads[1] + pads[3] - kernel[1]) / strides[1]) + 1;
    const args = [X, Y, H, W, C, OH, OW, ...kernel, ...strides, pads[0], pads[1]];
    for (const [op, kernelName] of [["avg_pool", "avgExact"], ["max_pool", "maxF32"]]) {
      const expected = opDef(node(op, { pool: kernel, strides, pads })).float(node(op, { pool: kernel, strides, pads }), [x], [[1, H, W, C]], [1, OH, OW, C]);
      expect(bitsOf(run(target, [x], OH * OW * C, (k) => fn(k, kernelName)(...args))), op).toEqual(bitsOf(expected));
    }
  });

  it("avg pools and means: the f32-summing kernels differ from the reference where the exact ones do not", () => {
    // 2^24 + 1 + 1: f64 keeps both ones (sum 2^24 + 2, / 3); f32 loses each (2^24 / 3).
    const x = Float32Array.of(2 ** 24, 1, 1);
    const want = Math.fround((2 ** 24 + 2) / 3);
    expect(run(target, [x], 1, (k) => fn(k, "avgExact")(X, Y, 1, 3, 1, 1, 1, 1, 3, 1, 1, 0, 0))[0]).toBe(want);
    expect(run(target, [x], 1, (k) => fn(k, "meanExact")(X, Y, 3, 1))[0]).toBe(want);
    expect(run(target, [x], 1, (k) => fn(k, "avgF32")(X, Y, 1, 3, 1, 1, 1, 1, 3, 1, 1, 0, 0))[0]).toBe(Math.fround(2 ** 24 / 3));
    expect(run(target, [x], 1, (k) => fn(k, "meanF32")(X, Y, 3, 1))[0]).toBe(Math.fround(2 ** 24 / 3));
  });

  it.each([[1, 1], [37, 5], [9, 8]])("mean_exact_f32 and global_max_pool_f32 over %i pixels × %i channels", (HW, C) => {
    const x = values(HW * C, HW + C);
    for (const [op, kernelName] of [["global_avg_pool", "meanExact"], ["global_max_pool", "gmax"]]) {
      const expected = opDef(node(op, {})).float(node(op, {}), [x], [[1, HW, 1, C]], [1, C]);
      expect(bitsOf(run(target, [x], C, (k) => fn(k, kernelName)(X, Y, HW, C))), op).toEqual(bitsOf(expected));
    }
  });

  it("max pools keep the first of equal values (−0 then +0 gives −0), as the reference does", () => {
    const x = Float32Array.of(-0, 0, -1);
    expect(Object.is(run(target, [x], 1, (k) => fn(k, "maxF32")(X, Y, 1, 3, 1, 1, 1, 1, 3, 1, 1, 0, 0))[0], -0)).toBe(true);
    expect(Object.is(run(target, [x], 1, (k) => fn(k, "gmax")(X, Y, 3, 1))[0], -0)).toBe(true);
  });

  it.each([[0, 4], [-0.1, 0.3], [-Infinity, 2.5], [1, -1]])("clamp_exact_f32 with min %f, max %f", (min, max) => {
    const x = Float32Array.of(...values(45, 7), -0, 0, NaN, 0.3, -0.1, Math.fround(0.3), Math.fround(-0.1));
    new Float64Array(kernels[target]!.memory.buffer, P, 2).set([min, max]);
    const expected = opDef(node("clamp", { min, max })).float(node("clamp", { min, max }), [x], [[x.length]], [x.length]);
    expect(bitsOf(run(target, [x], x.length, (k) => fn(k, "clampExact")(X, Y, x.length, P)))).toEqual(bitsOf(expected));
  });

  it("clamp to [0, 4] turns −0 into +0 (Math.max(0, −0)), which the f32 compare-and-select kernel does not", () => {
    new Float64Array(kernels[target]!.memory.buffer, P, 2).set([0, 4]);
    expect(Object.is(run(target, [Float32Array.of(-0)], 1, (k) => fn(k, "clampExact")(X, Y, 1, P))[0], 0)).toBe(true);
    expect(Object.is(run(target, [Float32Array.of(-0)], 1, (k) => fn(k, "unary")(X, Y, 1, 6, 0, 4))[0], -0)).toBe(true);
  });

  it.each([0.3, 0.2, 1 / 3])("leaky_relu_exact_f32 with alpha %f (not an f32)", (alpha) => {
    const x = values(61, 11);
    new Float64Array(kernels[target]!.memory.buffer, P, 1)[0] = alpha;
    const expected = opDef(node("leaky_relu", { alpha })).float(node("leaky_relu", { alpha }), [x], [[x.length]], [x.length]);
    expect(bitsOf(run(target, [x], x.length, (k) => fn(k, "leakyExact")(X, Y, x.length, P)))).toEqual(bitsOf(expected));
    // The f32 kernel multiplies by f32(alpha): a different number, so some products round differently.
    expect(bitsOf(run(target, [x], x.length, (k) => fn(k, "unary")(X, Y, x.length, 5, alpha, 0)))).not.toEqual(bitsOf(expected));
  });

  it.each([["relu", 1], ["relu6", 2]] as const)("unary_f32 is %s's reference exactly (−0 and NaN pass through)", (op, kind) => {
    const x = Float32Array.of(...values(40, 5), -0, NaN, 6, 6.000001, -1e-45);
    const expected = opDef(node(op, {})).float(node(op, {}), [x], [[x.length]], [x.length]);
    expect(bitsOf(run(target, [x], x.length, (k) => fn(k, "unary")(X, Y, x.length, kind, 0, 0)))).toEqual(bitsOf(expected));
  });

  it.each([["add", "add"], ["mul", "mul"]] as const)("%s_f32 is the reference's f32(a ∘ b in f64) exactly (SIMD blocks and a tail)", (op, kernelName) => {
    const a = values(23, 3), b = values(23, 4).reverse();
    const expected = opDef(node(op, {})).float(node(op, {}), [a, b], [[23], [23]], [23]);
    expect(bitsOf(run(target, [a, b], 23, (k) => fn(k, kernelName)(X, X2, Y, 23)))).toEqual(bitsOf(expected));
  });

  it("concat_f32 copies every value into its channel slot as the reference does", () => {
    const a = values(5 * 3, 8), b = values(5 * 2, 9);
    const expected = opDef(node("concat", {})).float(node("concat", {}), [a, b], [[1, 5, 1, 3], [1, 5, 1, 2]], [1, 5, 1, 5]);
    const k = kernels[target]!;
    new Float32Array(k.memory.buffer).set(b, X2 / 4);
    const y = run(target, [a], 25, (kk) => { fn(kk, "concat")(X, Y, 5, 3, 5, 0); fn(kk, "concat")(X2, Y, 5, 2, 5, 3); });
    expect(bitsOf(y)).toEqual(bitsOf(expected));
  });
});
