// Int8 3×3 stride-1 conv (AssemblyScript, SIMD only) by exact integer Winograd F(2×2, 3×3): 16 multiplies per
// 2×2 outputs and input channel instead of 36. Transformed inputs are sums of ±4 int8 values (|V| ≤ 512) and the
// weights are transformed with 2G (no halves, |U| ≤ 1152), so both fit i16 and every product is exact; the output
// transform then yields 4 × Σ x·w, exact in wrapping i32 arithmetic whenever the true sum fits (the compiler bounds
// C), and >> 2 recovers it. The compiler folds the input zero point into the bias, as for conv-i8: the same
// integer sums as conv-i8, hence bit-exact with the reference.
// The weights arrive int8 ([3][3][C][OC], as the reference holds them) and are transformed on the first call into
// a persistent arena buffer: [16-byte "done" flag][U], so the blob stays as small as before.
import { requant4, storeFirstBytes } from "./common";

/** Where U starts in the persistent buffer, after the "done" flag. */
const U_DATA: usize = 16;

/** 2G applied to three vectors: (2a, a + b + c, a − b + c, 2c), stored at p, p + s, p + 2s, p + 3s. */
function applyG2(a: v128, b: v128, c: v128, p: usize, s: usize): void {
  v128.store(p, i16x8.shl(a, 1));
  v128.store(p + s, i16x8.add(i16x8.add(a, b), c));
  v128.store(p + 2 * s, i16x8.add(i16x8.sub(a, b), c));
  v128.store(p + 3 * s, i16x8.shl(c, 1));
}

/**
 * U = (2G) g (2G)ᵀ, 8 output channels at a time, into [pos][pair][oc][c & 1] (i16), zero for the channel padding
 * (output channels past OC hold whatever follows the weights: their lanes are never stored).
 * tmp: 704 bytes — T, then U of channels c − 1 and c.
 */
function transformWeights(w: usize, u: usize, C: i32, OC: i32, CP: i32, OCP: i32, tmp: usize): void {
  const pairs = CP >> 1, ud = u + U_DATA, ky = <usize>(3 * C * OC), kx = <usize>(C * OC);
  for (let ob = 0; ob < OCP; ob += 8) {
    for (let c = 0; c < CP; c++) {
      const uc = tmp + 192 + (<usize>(c & 1) << 8);
      if (c < C) {
        const g = w + <usize>(c * OC + ob);
        for (let k: usize = 0; k < 3; k++) {
          applyG2(v128.load8x8_s(g + k * kx), v128.load8x8_s(g + ky + k * kx), v128.load8x8_s(g + 2 * ky + k * kx), tmp + (k << 4), 48);
        }
        for (let i: usize = 0; i < 4; i++) applyG2(v128.load(tmp + i * 48), v128.load(tmp + i * 48 + 16), v128.load(tmp + i * 48 + 32), uc + (i << 6), 16);
      } else {
        memory.fill(uc, 0, 256);
      }
      if (c & 1) {
        for (let pos = 0; pos < 16; pos++) {
          const even = v128.load(uc - 256 + (<usize>pos << 4)), odd = v128.load(uc + (<usize>pos << 4));
          const at = ud + ((<usize>(pos * pairs + (c >> 1)) * <usize>OCP + <usize>ob) << 2);
          v128.store(at, i16x8.shuffle(even, odd, 0, 8, 1, 9, 2, 10, 3, 11));
          v128.store(at, i16x8.shuffle(even, odd, 4, 12, 5, 13, 6, 14, 7, 15), 16);
        }
      }
    }
  }
  store<i32>(u, 1);
}

/** V = Bᵀ x B for one 4×4 input tile, 8 channels at a time, into v[pos][c] (i16). */
@inline function transformTile(xt: usize, v: usize, WP: i32, C: i32, CP: i32): void {
  const rowBytes = <usize>(WP * C), px = <usize>C;
  for (let cb = 0; cb < CP; cb += 8) {
    const p0 = xt + <usize>cb, p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
    // Row combination Bᵀ x, column by column: r0 = x0 − x2, r1 = x1 + x2, r2 = x2 − x1, r3 = x1 − x3.
    for (let k: usize = 0; k < 4; k++) {
      const d0 = v128.load8x8_s(p0 + k * px), d1 = v128.load8x8_s(p1 + k * px);
      const d2 = v128.load8x8_s(p2 + k * px), d3 = v128.load8x8_s(p3 + k * px);
      const at = v + (k << 4);
      v128.store(at, i16x8.sub(d0, d2));
      v128.store(at, i16x8.add(d1, d2), 64);
      v128.store(at, i16x8.sub(d2, d1), 128);
      v128.store(at, i16x8.sub(d1, d3), 192);
    }
    // Column combination (· B) per row, in place, then out to v[pos][cb..cb+8).
    for (let i: usize = 0; i < 4; i++) {
      const at = v + (i << 6);
      const r0 = v128.load(at), r1 = v128.load(at, 16), r2 = v128.load(at, 32), r3 = v128.load(at, 48);
      const out = v + 256 + ((i * 4 * <usize>CP + <usize>cb) << 1), step = <usize>CP << 1;
      v128.store(out, i16x8.sub(r0, r2));
      v128.store(out + step, i16x8.add(r1, r2));
      v128.store(out + 2 * step, i16x8.sub(r2, r1));
      v128.store(out + 3 * step, i16x8.sub(r1, r3));
    }
  }
}

/** M[pos][oc] = Σ_c V[pos][c] · U[pos][c][oc]: one input pair splat against 16 channels, 4 per i32x4.dot_i16x8_s. */
@inline function multiplyTile(v: usize, u: usize, m: usize, CP: i32, OCP: i32): void {
  const pairs = CP >> 1;
  const uRow = <usize>OCP << 2;
  for (let pos = 0; pos < 16; pos++) {
    const vp = v + (<usize>(pos * CP) << 1);
    const up = u + U_DATA + <usize>(pos * pairs) * uRow;
    const mp = m + (<usize>(pos * OCP) << 2);
    for (let o = 0; o < OCP; o += 16) {
      let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let wp = up + (<usize>o << 2);
      for (let p = 0; p < pairs; p++) {
        const s = v128.load32_splat(vp + (<usize>p << 2));
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(s, v128.load(wp)));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(s, v128.load(wp, 16)));
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(s, v128.load(wp, 32)));
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(s, v128.load(wp, 48)));
        wp += uRow;
      }
      const at = mp + (<usize>o << 2);
      v128.store(at, a0); v128.store(at, a1, 16); v128.store(at, a2, 32); v128.store(at, a3, 48);
    }
  }
}

/** Requantizes 4 channels and stores the first min(4, left) of them (out of line: called from 5 places). */
function requantStore4(p: usize, acc: v128, mul: v128, vZp: v128, vLo: v128, vHi: v128, left: i32): void {
  const q = requant4(acc, mul, vZp, vLo, vHi);
  const n16 = i16x8.narrow_i32x4_s(q, q);
  const bytes = i8x16.narrow_i16x8_s(n16, n16);
  if (left >= 4) {
    v128.store32_lane(p, bytes, 0);
  } else {
    storeFirstBytes(p, bytes, left);
  }
}

function convWinoSimd(x: usize, w: usize, u: usize, bias: usize, mult: usize, y: usize, scratch: usize,
  WP: i32, C: i32, OH: i32, OW: i32, OC: i32, zpOut: i32, lo: i32, hi: i32, pool: i32, PH: i32, PW: i32): void {
  const CP = (C + 7) & ~7, OCP = (OC + 15) & ~15;
  const v = scratch, m = scratch + 256 + (<usize>(16 * CP) << 1);
  // M's space (≥ 16·16·4 bytes) is free before the first tile.
  if (load<i32>(u) == 0) transformWeights(w, u, C, OC, CP, OCP, m);
  const vLo = i32x4.splat(lo - zpOut), vHi = i32x4.splat(hi - zpOut), vZp = i32x4.splat(zpOut);
  const TH = pool ? PH : (OH + 1) >> 1, TW = pool ? PW : (OW + 1) >> 1;
  const posStride = <usize>OCP << 2;
  for (let ty = 0; ty < TH; ty++) {
    for (let tx = 0; tx < TW; tx++) {
      transformTile(x + <usize>((2 * ty * WP + 2 * tx) * C), v, WP, C, CP);
      multiplyTile(v + 256, u, m, CP, OCP);
      for (let o = 0; o < OC; o += 4) {
        // Z = Aᵀ M (2×4), then Y = Z A (2×2); each is 4 × the conv sum.
        const mp = m + (<usize>o << 2);
        const m00 = v128.load(mp), m01 = v128.load(mp + posStride), m02 = v128.load(mp + 2 * posStride), m03 = v128.load(mp + 3 * posStride);
        const m10 = v128.load(mp + 4 * posStride), m11 = v128.load(mp + 5 * posStride), m12 = v128.load(mp + 6 * posStride), m13 = v128.load(mp + 7 * posStride);
        const m20 = v128.load(mp + 8 * posStride), m21 = v128.load(mp + 9 * posStride), m22 = v128.load(mp + 10 * posStride), m23 = v128.load(mp + 11 * posStride);
        const m30 = v128.load(mp + 12 * posStride), m31 = v128.load(mp + 13 * posStride), m32 = v128.load(mp + 14 * posStride), m33 = v128.load(mp + 15 * posStride);
        const z00 = i32x4.add(i32x4.add(m00, m10), m20), z10 = i32x4.sub(i32x4.sub(m10, m20), m30);
        const z01 = i32x4.add(i32x4.add(m01, m11), m21), z11 = i32x4.sub(i32x4.sub(m11, m21), m31);
        const z02 = i32x4.add(i32x4.add(m02, m12), m22), z12 = i32x4.sub(i32x4.sub(m12, m22), m32);
        const z03 = i32x4.add(i32x4.add(m03, m13), m23), z13 = i32x4.sub(i32x4.sub(m13, m23), m33);
        const b = v128.load(bias + (<usize>o << 2)), mul = v128.load(mult + (<usize>o << 2));
        const y00 = i32x4.add(i32x4.shr_s(i32x4.add(i32x4.add(z00, z01), z02), 2), b);
        const y01 = i32x4.add(i32x4.shr_s(i32x4.sub(i32x4.sub(z01, z02), z03), 2), b);
        const y10 = i32x4.add(i32x4.shr_s(i32x4.add(i32x4.add(z10, z11), z12), 2), b);
        const y11 = i32x4.add(i32x4.shr_s(i32x4.sub(i32x4.sub(z11, z12), z13), 2), b);
        // The outputs this tile yields (one pooled, or up to 2×2), staged in the free row-sum area of the scratch.
        let count = 1;
        if (pool) {
          v128.store(v, i32x4.max_s(i32x4.max_s(y00, y01), i32x4.max_s(y10, y11)));
        } else {
          v128.store(v, y00); v128.store(v, y01, 16); v128.store(v, y10, 32); v128.store(v, y11, 48);
          count = 4;
        }
        for (let k = 0; k < count; k++) {
          const oy = pool ? ty : 2 * ty + (k >> 1), ox = pool ? tx : 2 * tx + (k & 1);
          if (oy < OH && ox < OW) {
            requantStore4(y + <usize>((oy * (pool ? PW : OW) + ox) * OC + o), v128.load(v + (<usize>k << 4)), mul, vZp, vLo, vHi, (OC & 3) == 0 ? 4 : OC - o);
          }
        }
      }
    }
  }
}

/**
 * One 3×3 stride-1 conv layer on a VALID-padded input whose tiles all lie inside it (the compiler pads a row and
 * a column more when an output side is odd). pool 1: fused 2×2/2 max pool, one output per tile (PH×PW tiles);
 * pool 0: no pool, ⌈OH/2⌉×⌈OW/2⌉ tiles. scratch: 256 bytes of row sums, 16·CP i16 of V, then 16·OCP i32 of M.
 */
export function conv_wino_i8(x: usize, w: usize, u: usize, bias: usize, mult: usize, y: usize, scratch: usize,
  WP: i32, C: i32, OH: i32, OW: i32, OC: i32, zpOut: i32, lo: i32, hi: i32, pool: i32, PH: i32, PW: i32): void {
  // The compiler picks this kernel for simd targets only; scalar builds use conv_i8.
  if (ASC_FEATURE_SIMD) {
    convWinoSimd(x, w, u, bias, mult, y, scratch, WP, C, OH, OW, OC, zpOut, lo, hi, pool, PH, PW);
  } else {
    unreachable();
  }
}
