// The textbook loops of conv2d and dense are the spec: the fast float references equal them bit for bit on fixed and
// random cases (odd sizes, asymmetric padding, strides, fused pools), which calibration relies on.
import { describe, expect, it } from "vitest";
import type { Node } from "../compiler/ir.js";
import { conv2d } from "../compiler/ops/conv2d.js";
import { dense } from "../compiler/ops/dense.js";
import { applyActivation } from "../compiler/ops/op.js";
import { seededRandom } from "./seeded-random.js";

/** Deterministic values with many exact zeros, as ReLU outputs have; `special` adds −0, ∞ and NaN. */
function values(n: number, seed: number, special = false): Float32Array {
  let s = seed;
  const next = (): number => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: n }, () => {
    const r = next();
    if (special && r < 0.02) return [-0, Infinity, -Infinity, NaN][Math.floor(next() * 4)];
    return r < 0.4 ? 0 : next() * 4 - 2;
  });
}

/** The plain definition: per output, Σ over in-bounds taps in (ky, kx, i) order from +0, then + bias, then act. */
function naiveConv(x: Float32Array, w: Float32Array, b: Float32Array, [h, wd, c]: number[], [kh, kw, oc]: number[],
  [sh, sw]: number[], [pt, pl]: number[], [oh, ow]: number[], act: string): Float64Array {
  const grid = new Float64Array(oh * ow * oc);
  for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let o = 0; o < oc; o++) {
    let acc = 0;
    for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const iy = oy * sh + ky - pt, ix = ox * sw + kx - pl;
      if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
      for (let i = 0; i < c; i++) acc += x[(iy * wd + ix) * c + i] * w[((ky * kw + kx) * c + i) * oc + o];
    }
    grid[(oy * ow + ox) * oc + o] = applyActivation(acc + b[o], act);
  }
  return grid;
}

interface PoolSpec { kind: "max" | "avg"; k: [number, number]; s: [number, number]; p: [number, number, number, number] }

/** Max, or sum / count, over each pool window's in-bounds positions in row-major order; no pool: 0 + v. */
function naivePool(grid: Float64Array, [oh, ow, oc]: number[], pool?: PoolSpec): Float32Array {
  if (!pool) return Float32Array.from(grid, (v) => 0 + v);
  const [ph, pw] = [Math.floor((oh + pool.p[0] + pool.p[2] - pool.k[0]) / pool.s[0]) + 1, Math.floor((ow + pool.p[1] + pool.p[3] - pool.k[1]) / pool.s[1]) + 1];
  const y = new Float32Array(ph * pw * oc);
  for (let py = 0; py < ph; py++) for (let px = 0; px < pw; px++) for (let o = 0; o < oc; o++) {
    let r = pool.kind === "max" ? -Infinity : 0, n = 0;
    for (let ky = 0; ky < pool.k[0]; ky++) for (let kx = 0; kx < pool.k[1]; kx++) {
      const cy = py * pool.s[0] + ky - pool.p[0], cx = px * pool.s[1] + kx - pool.p[1];
      if (cy < 0 || cy >= oh || cx < 0 || cx >= ow) continue;
      const v = grid[(cy * ow + cx) * oc + o];
      r = pool.kind === "max" ? Math.max(r, v) : r + v;
      n++;
    }
    y[(py * pw + px) * oc + o] = pool.kind === "max" ? r : r / n;
  }
  return y;
}

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

interface ConvCase {
  name: string;
  x: [number, number, number];
  k: [number, number, number];
  s: [number, number];
  p: [number, number, number, number];
  act: string;
  pool?: PoolSpec;
  special?: boolean;
  /** Seed of the input values (weights and biases take the next two). */
  seed?: number;
}

const FIXED_CONVS: ConvCase[] = [
  { name: "3×3 same, 1→16, relu, max pool 2×2/2", x: [12, 12, 1], k: [3, 3, 16], s: [1, 1], p: [1, 1, 1, 1], act: "relu", pool: { kind: "max", k: [2, 2], s: [2, 2], p: [0, 0, 0, 0] } },
  { name: "3×3 valid stride 2, 5→11, linear", x: [11, 9, 5], k: [3, 3, 11], s: [2, 2], p: [0, 0, 0, 0], act: "linear" },
  { name: "5×3 padded, 3→9, relu6, avg pool 3×3/2 padded", x: [10, 8, 3], k: [5, 3, 9], s: [1, 1], p: [2, 1, 2, 1], act: "relu6", pool: { kind: "avg", k: [3, 3], s: [2, 2], p: [1, 1, 1, 1] } },
  { name: "with −0, ∞ and NaN among inputs, weights and biases", x: [7, 7, 4], k: [3, 3, 8], s: [1, 1], p: [1, 1, 1, 1], act: "linear", special: true },
];

/** Random convs: odd sizes and channel counts, non-square kernels, strides up to 3, asymmetric padding, fused pools. */
const RANDOM_CONVS: ConvCase[] = Array.from({ length: 24 }, (_v, i) => {
  const rand = seededRandom(3100 + i);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const [kh, kw] = [int(1, 5), int(1, 5)];
  const p: ConvCase["p"] = [int(0, kh - 1), int(0, kw - 1), int(0, kh - 1), int(0, kw - 1)];
  const s: ConvCase["s"] = [int(1, 3), int(1, 3)];
  const x: ConvCase["x"] = [Math.max(1, kh - p[0] - p[2]) + int(0, 8), Math.max(1, kw - p[1] - p[3]) + int(0, 8), int(1, 9)];
  const act = ["linear", "relu", "relu6"][int(0, 2)];
  const oh = Math.floor((x[0] + p[0] + p[2] - kh) / s[0]) + 1, ow = Math.floor((x[1] + p[1] + p[3] - kw) / s[1]) + 1;
  let pool: PoolSpec | undefined;
  if (rand() < 0.4) {
    // Pads below the window size, so every window holds at least one conv output.
    const k: PoolSpec["k"] = [int(1, Math.min(3, oh)), int(1, Math.min(3, ow))];
    pool = { kind: rand() < 0.5 ? "max" : "avg", k, s: [int(1, 3), int(1, 3)], p: [int(0, k[0] - 1), int(0, k[1] - 1), int(0, k[0] - 1), int(0, k[1] - 1)] };
  }
  const special = rand() < 0.15, oc = int(1, 11);
  const label = `${x.join("×")} conv ${kh}×${kw}→${oc} /${s.join(",")} pads ${p.join(",")} ${act}${pool ? ` + ${pool.kind} pool ${pool.k.join("×")}/${pool.s.join(",")} pads ${pool.p.join(",")}` : ""}${special ? " with −0, ∞, NaN" : ""}`;
  return { name: label, x, k: [kh, kw, oc], s, p, act, pool, special, seed: 10 * i + 10 };
});

describe("conv2d float reference", () => {
  it.each([...FIXED_CONVS, ...RANDOM_CONVS])("$name", (c) => {
    const [h, wd, ci] = c.x, [kh, kw, oc] = c.k;
    const seed = c.seed ?? 1;
    const x = values(h * wd * ci, seed, c.special), w = values(kh * kw * ci * oc, seed + 1, c.special), b = values(oc, seed + 2, c.special);
    const oh = Math.floor((h + c.p[0] + c.p[2] - kh) / c.s[0]) + 1, ow = Math.floor((wd + c.p[1] + c.p[3] - kw) / c.s[1]) + 1;
    const attrs: Node["attrs"] = { strides: c.s, pads: c.p, activation: c.act };
    if (c.pool) Object.assign(attrs, { pool_kind: c.pool.kind, pool_size: c.pool.k, pool_strides: c.pool.s, pool_pads: c.pool.p });
    const node: Node = { name: "conv", op: "conv2d", inputs: ["x", "w", "b"], outputs: ["y"], attrs };
    const shapes = [[1, h, wd, ci], [kh, kw, ci, oc], [oc]];
    const outShape = conv2d.inferShape(node, shapes);
    const expected = naivePool(naiveConv(x, w, b, c.x, c.k, c.s, c.p, [oh, ow], c.act), [oh, ow, oc], c.pool);
    expect(outShape.reduce((a, v) => a * v, 1)).toBe(expected.length);
    expect(bits(conv2d.float(node, [x, w, b], shapes, outShape))).toEqual(bits(expected));
  });
});

interface DenseCase {
  name: string;
  n: number;
  m: number;
  act: string;
  bias: boolean;
  special?: boolean;
  /** Biases of −0 with all-zero inputs: a −0 bias shows only in a sum of zeros. */
  negativeZeroBias?: boolean;
  seed?: number;
}

const FIXED_DENSES: DenseCase[] = [
  { name: "relu", n: 37, m: 21, act: "relu", bias: true },
  { name: "with −0 biases", n: 37, m: 21, act: "relu", bias: true, negativeZeroBias: true },
  { name: "with ∞ and NaN", n: 37, m: 21, act: "linear", bias: true, special: true },
];

/** Random layers: widths from 1 to 70 inputs and 40 outputs (around the 8-output blocks of the fast path), with and without bias. */
const RANDOM_DENSES: DenseCase[] = Array.from({ length: 12 }, (_v, i) => {
  const rand = seededRandom(4100 + i);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const n = int(1, 70), m = int(1, 40), act = ["linear", "relu", "relu6"][int(0, 2)], bias = rand() < 0.7, special = rand() < 0.2;
  return { name: `${n}→${m} ${act}${bias ? "" : " without bias"}${special ? " with −0, ∞, NaN" : ""}`, n, m, act, bias, special, seed: 10 * i + 100 };
});

describe("dense float reference", () => {
  it.each([...FIXED_DENSES, ...RANDOM_DENSES])("$name", (c) => {
    const { n, m } = c, seed = c.seed ?? 4;
    const x = values(n, seed, c.special), w = values(n * m, seed + 1, c.special), b = c.bias ? values(m, seed + 2, c.special) : undefined;
    if (c.negativeZeroBias) { b!.fill(-0, 0, 7); x.fill(0); }
    const node: Node = { name: "fc", op: "dense", inputs: c.bias ? ["x", "w", "b"] : ["x", "w"], outputs: ["y"], attrs: { activation: c.act } };
    const expected = new Float32Array(m);
    for (let j = 0; j < m; j++) {
      let acc = b ? b[j] : 0;
      for (let i = 0; i < n; i++) acc += x[i] * w[i * m + j];
      expected[j] = applyActivation(acc, c.act);
    }
    const inputs = b ? [x, w, b] : [x, w];
    expect(bits(dense.float(node, inputs, b ? [[1, n], [n, m], [m]] : [[1, n], [n, m]], [1, m]))).toEqual(bits(expected));
  });
});
