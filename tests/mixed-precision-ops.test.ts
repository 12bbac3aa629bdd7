// quantize/dequantize (the steps at the edges of layers kept in float): hand-computed cases for the reference and for
// the kernels (runtime/kernels/precision.ts) built for both targets; ties, saturation, NaN and zero points.
import { beforeAll, describe, expect, it } from "vitest";
import { dequantizeValues } from "../compiler/ops/dequantize.js";
import { quantizeFloat, quantizeParams } from "../compiler/ops/quantize.js";
import { buildBlob } from "../compiler/build.js";

/** x, scale, zero point → the int8 worked out by hand: x/scale rounded half to even, + zp, clamped to −128…127. */
const QUANTIZE_CASES: [number, number, number, number][] = [
  [1.25, 0.5, 0, 2], // 2.5 → 2 (tie to even)
  [1.75, 0.5, 0, 4], // 3.5 → 4 (tie to even)
  [-0.25, 0.5, 0, 0], // −0.5 → −0 → 0
  [-0.75, 0.5, 0, -2], // −1.5 → −2
  [1.25, 0.5, -3, -1], // 2 − 3
  [0, 0.1, 17, 17], // zero is exact: the zero point
  [1000, 0.5, 5, 127], // saturates high
  [-1000, 0.5, 5, -128], // saturates low
  [Infinity, 1, 0, 127],
  [-Infinity, 1, 0, -128],
  [NaN, 1, -7, -7], // NaN gives the zero point
  [63.5, 0.5, -128, -1], // 127 − 128
];

/** q, scale, zero point → the float32 worked out by hand: (q − zp)·scale rounded once to float32. */
const DEQUANTIZE_CASES: [number, number, number, number][] = [
  [-128, 0.1, -3, -12.5], // −125 · f32(0.1) = −12.5000001862… → −12.5 in f32
  [127, 0.5, -128, 127.5],
  [-128, 0.5, -128, 0],
  [5, 0.25, 5, 0],
  [0, 2, 3, -6],
];

describe("quantize / dequantize references", () => {
  it.each(QUANTIZE_CASES)("quantize(%f) with scale %f, zero point %i is %i", (x, scale, zp, q) => {
    const { multiplier } = quantizeParams(scale, zp);
    expect(quantizeFloat(x, multiplier, zp)).toBe(q);
  });

  it.each(DEQUANTIZE_CASES)("dequantize(%i) with scale %f, zero point %i is %f", (q, scale, zp, x) => {
    expect(dequantizeValues([q], scale, zp)[0]).toBe(x);
  });
});

/** The two kernels behind exports of a tiny module built as blobs are (Kiln's build, no manifest checks involved). */
const SOURCE = [
  `import { quantize_f32_i8, dequantize_i8_f32 } from "./kernels/precision";`,
  "export function q(x: usize, y: usize, n: i32, m: f32, zp: i32): void { quantize_f32_i8(x, y, n, m, zp); }",
  "export function dq(x: usize, y: usize, n: i32, s: f32, zp: i32): void { dequantize_i8_f32(x, y, n, s, zp); }",
].join("\n");

interface Kernels { memory: WebAssembly.Memory; q(x: number, y: number, n: number, m: number, zp: number): void; dq(x: number, y: number, n: number, s: number, zp: number): void }
const kernels: Partial<Record<"simd" | "scalar", Kernels>> = {};
/** Values per call: one SIMD block of 16 and a scalar tail of 5. */
const COPIES = 21;

beforeAll(async () => {
  for (const target of ["simd", "scalar"] as const) {
    const built = await buildBlob({ source: SOURCE, weights: new Uint8Array(0), weightsBase: 16, memoryBase: 65536, simd: target === "simd", manifest: {} });
    const { instance } = await WebAssembly.instantiate(built.wasm, {});
    kernels[target] = instance.exports as unknown as Kernels;
  }
}, 60_000);

describe.each(["simd", "scalar"] as const)("quantize / dequantize kernels (%s)", (target) => {
  it("quantize_f32_i8 gives the hand-computed values", () => {
    const k = kernels[target]!;
    for (const [x, scale, zp, q] of QUANTIZE_CASES) {
      new Float32Array(k.memory.buffer, 1024, COPIES).fill(x);
      k.q(1024, 2048, COPIES, quantizeParams(scale, zp).multiplier, zp);
      expect(Array.from(new Int8Array(k.memory.buffer, 2048, COPIES)), `x = ${x}, scale ${scale}, zp ${zp}`).toEqual(Array(COPIES).fill(q));
    }
  });

  it("dequantize_i8_f32 gives the hand-computed values", () => {
    const k = kernels[target]!;
    for (const [q, scale, zp, x] of DEQUANTIZE_CASES) {
      new Int8Array(k.memory.buffer, 1024, COPIES).fill(q);
      k.dq(1024, 2048, COPIES, Math.fround(scale), zp);
      expect(Array.from(new Float32Array(k.memory.buffer, 2048, COPIES)), `q = ${q}, scale ${scale}, zp ${zp}`).toEqual(Array(COPIES).fill(x));
    }
  });
});
