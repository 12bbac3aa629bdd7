// The fast float references of conv2d and dense equal their textbook loops bit for bit (calibration relies on it).
import { describe, expect, it } from "vitest";
import type { Node } from "../compiler/ir.js";
import { conv2d } from "../compiler/ops/conv2d.js";
import { dense } from "../compiler/ops/dense.js";
import { applyActivation } from "../compiler/ops/op.js";

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

/** Max, or sum / count, over each pool window's in-bounds positions in row-major order; no pool: 0 + v. */
function naivePool(grid: Float64Array, [oh, ow, oc]: number[], pool?: { kind: string; k: number; s: number; p: number }): Float32Array {
  if (!pool) return Float32Array.from(grid, (v) => 0 + v);
  const out = (n: number): number => Math.floor((n + pool.p - pool.k) / pool.s) + 1;
  const [ph, pw] = [out(oh), out(ow)];
  const y = new Float32Array(ph * pw * oc);
  for (let py = 0; py < ph; py++) for (let px = 0; px < pw; px++) for (let o = 0; o < oc; o++) {
    let r = pool.kind === "max" ? -Infinity : 0, n = 0;
    for (let ky = 0; ky < pool.k; ky++) for (let kx = 0; kx < pool.k; kx++) {
      const cy = py * pool.s + ky - pool.p, cx = px * pool.s + kx - pool.p;
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

describe("conv2d float reference", () => {
  const cases = [
    { name: "3×3 same, 1→16, relu, max pool 2×2/2", x: [12, 12, 1], k: [3, 3, 16], s: [1, 1], p: [1, 1, 1, 1], act: "relu", pool: { kind: "max", k: 2, s: 2, p: 0 } },
    { name: "3×3 valid stride 2, 5→11, linear", x: [11, 9, 5], k: [3, 3, 11], s: [2, 2], p: [0, 0, 0, 0], act: "linear" },
    { name: "5×3 padded, 3→9, relu6, avg pool 3×3/2 padded", x: [10, 8, 3], k: [5, 3, 9], s: [1, 1], p: [2, 1, 2, 1], act: "relu6", pool: { kind: "avg", k: 3, s: 2, p: 1 } },
    { name: "with −0, ∞ and NaN among inputs, weights and biases", x: [7, 7, 4], k: [3, 3, 8], s: [1, 1], p: [1, 1, 1, 1], act: "linear", special: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [h, wd, ci] = c.x, [kh, kw, oc] = c.k;
      const x = values(h * wd * ci, 1, c.special), w = values(kh * kw * ci * oc, 2, c.special), b = values(oc, 3, c.special);
      const oh = Math.floor((h + c.p[0] + c.p[2] - kh) / c.s[0]) + 1, ow = Math.floor((wd + c.p[1] + c.p[3] - kw) / c.s[1]) + 1;
      const attrs: Node["attrs"] = { strides: c.s, pads: c.p, activation: c.act };
      if (c.pool) Object.assign(attrs, { pool_kind: c.pool.kind, pool_size: [c.pool.k, c.pool.k], pool_strides: [c.pool.s, c.pool.s], pool_pads: [c.pool.p, c.pool.p, c.pool.p, c.pool.p] });
      const node: Node = { name: "conv", op: "conv2d", inputs: ["x", "w", "b"], outputs: ["y"], attrs };
      const shapes = [[1, h, wd, ci], [kh, kw, ci, oc], [oc]];
      const outShape = conv2d.inferShape(node, shapes);
      const expected = naivePool(naiveConv(x, w, b, c.x, c.k, c.s, c.p, [oh, ow], c.act), [oh, ow, oc], c.pool);
      expect(bits(conv2d.float(node, [x, w, b], shapes, outShape))).toEqual(bits(expected));
    });
  }
});

describe("dense float reference", () => {
  for (const [name, special, negativeZeroBias] of [["relu", false, false], ["with −0 biases", false, true], ["with ∞ and NaN", true, false]] as const) {
    it(name, () => {
      const n = 37, m = 21;
      const x = values(n, 4, special), w = values(n * m, 5, special), b = values(m, 6, special);
      // A −0 bias shows only in a sum of zeros, so here every input is 0.
      if (negativeZeroBias) { b.fill(-0, 0, 7); x.fill(0); }
      const node: Node = { name: "fc", op: "dense", inputs: ["x", "w", "b"], outputs: ["y"], attrs: { activation: special ? "linear" : "relu" } };
      const expected = new Float32Array(m);
      for (let j = 0; j < m; j++) {
        let acc = b[j];
        for (let i = 0; i < n; i++) acc += x[i] * w[i * m + j];
        expected[j] = applyActivation(acc, String(node.attrs.activation));
      }
      expect(bits(dense.float(node, [x, w, b], [[1, n], [n, m], [m]], [1, m]))).toEqual(bits(expected));
    });
  }
});
