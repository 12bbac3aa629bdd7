// Int8 conv and dense kernels (AssemblyScript) with fused activation clamp and fused max/avg pool.
// Weights come packed by compiler/codegen/conv-int8.ts: per group of 4 output channels, per kernel row,
// 8-byte blocks of the row's KW·C contiguous inputs for each of the 4 channels (zero-padded).
// Bit-exact with compiler/ops/conv2d.ts `int8`: integer accumulation, then one f32 requantization. The input zero
// point is folded into the bias at compile time (Σ (x − zp)·w = Σ x·w − zp·Σ w; padding holds zp), so the loops
// multiply raw int8 inputs.
// The window walk is written out for the fused pool, as in every kernel that has one (why: common.ts).
import { requant, requant4, storeFirstBytes } from "./common";

/** Packed weight bytes of one group of 4 output channels. */
@inline function groupBytes(KH: i32, KW: i32, C: i32): i32 {
  return KH * (((KW * C + 7) >> 3) << 5);
}

// ---- SIMD128: i32x4.dot_i16x8_s over sign-extended int8, four channels at once ----

@inline function acc4Simd(x: usize, wg: usize, bias: v128, WP: i32, C: i32, KH: i32, KW: i32, SH: i32, SW: i32,
  oy: i32, ox: i32): v128 {
  const blocks = (KW * C + 7) >> 3;
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  let wp = wg;
  for (let ky = 0; ky < KH; ky++) {
    let xp = x + <usize>(((oy * SH + ky) * WP + ox * SW) * C);
    for (let b = 0; b < blocks; b++) {
      const xv = v128.load8x8_s(xp);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp)));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp, 8)));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp, 16)));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp, 24)));
      xp += 8;
      wp += 32;
    }
  }
  return i32x4.add(bias, sumLanes4(a0, a1, a2, a3));
}

/** Transpose-and-add: lane j holds the whole sum of a_j. */
@inline function sumLanes4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t0 = i32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
  const t1 = i32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(t0, t1, 0, 1, 4, 5), i32x4.shuffle(t0, t1, 2, 3, 6, 7));
}

function convSimd(x: usize, w: usize, bias: usize, mult: usize, y: usize, WP: i32, C: i32, OH: i32, OW: i32, OC: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, zpOut: i32, lo: i32, hi: i32, pool: i32, PH: i32, PW: i32,
  PKH: i32, PKW: i32, PSH: i32, PSW: i32, PPT: i32, PPL: i32, reluFirst: i32): void {
  const gBytes = <usize>groupBytes(KH, KW, C);
  const groups = (OC + 3) >> 2;
  const vLo = i32x4.splat(lo - zpOut), vHi = i32x4.splat(hi - zpOut), vZp = i32x4.splat(zpOut);
  const zero = i32x4.splat(0);
  for (let py = 0; py < PH; py++) {
    for (let px = 0; px < PW; px++) {
      const out = y + <usize>((py * PW + px) * OC);
      for (let g = 0; g < groups; g++) {
        const wg = w + <usize>g * gBytes;
        const b = v128.load(bias + (<usize>g << 4));
        let m = v128.load(mult + (<usize>g << 4));
        let r: v128;
        if (pool == 0) {
          r = acc4Simd(x, wg, b, WP, C, KH, KW, SH, SW, py, px);
        } else {
          r = pool == 1 ? i32x4.splat(i32.MIN_VALUE) : zero;
          let count = 0;
          for (let wy = 0; wy < PKH; wy++) {
            const cy = py * PSH + wy - PPT;
            if (cy < 0 || cy >= OH) continue;
            for (let wx = 0; wx < PKW; wx++) {
              const cx = px * PSW + wx - PPL;
              if (cx < 0 || cx >= OW) continue;
              const a = acc4Simd(x, wg, b, WP, C, KH, KW, SH, SW, cy, cx);
              if (pool == 1) r = i32x4.max_s(r, a);
              else r = i32x4.add(r, reluFirst ? i32x4.max_s(a, zero) : a);
              count++;
            }
          }
          if (pool == 2) m = f32x4.div(m, f32x4.splat(<f32>count));
        }
        const q = requant4(r, m, vZp, vLo, vHi);
        const n16 = i16x8.narrow_i32x4_s(q, q);
        const bytes = i8x16.narrow_i16x8_s(n16, n16);
        const o = g << 2;
        const p = out + <usize>o;
        if (o + 4 <= OC) {
          v128.store32_lane(p, bytes, 0);
        } else {
          const left = OC - o;
          storeFirstBytes(p, bytes, left);
        }
      }
    }
  }
}

// ---- Scalar: the same blocked loops, one channel at a time ----

@inline function acc1Scalar(x: usize, wg: usize, j: i32, WP: i32, C: i32, KH: i32, KW: i32, SH: i32, SW: i32,
  oy: i32, ox: i32): i32 {
  const blocks = (KW * C + 7) >> 3;
  let acc = 0;
  let wp = wg + (<usize>j << 3);
  for (let ky = 0; ky < KH; ky++) {
    let xp = x + <usize>(((oy * SH + ky) * WP + ox * SW) * C);
    for (let b = 0; b < blocks; b++) {
      for (let t = 0; t < 8; t++) acc += <i32>load<i8>(xp + t) * <i32>load<i8>(wp + t);
      xp += 8;
      wp += 32;
    }
  }
  return acc;
}

function convScalar(x: usize, w: usize, bias: usize, mult: usize, y: usize, WP: i32, C: i32, OH: i32, OW: i32, OC: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, zpOut: i32, lo: i32, hi: i32, pool: i32, PH: i32, PW: i32,
  PKH: i32, PKW: i32, PSH: i32, PSW: i32, PPT: i32, PPL: i32, reluFirst: i32): void {
  const gBytes = <usize>groupBytes(KH, KW, C);
  for (let py = 0; py < PH; py++) {
    for (let px = 0; px < PW; px++) {
      const out = y + <usize>((py * PW + px) * OC);
      for (let o = 0; o < OC; o++) {
        const wg = w + <usize>(o >> 2) * gBytes;
        const j = o & 3;
        const b = load<i32>(bias + (<usize>o << 2));
        let m = load<f32>(mult + (<usize>o << 2));
        let r: i32;
        if (pool == 0) {
          r = acc1Scalar(x, wg, j, WP, C, KH, KW, SH, SW, py, px) + b;
        } else {
          r = pool == 1 ? i32.MIN_VALUE : 0;
          let count = 0;
          for (let wy = 0; wy < PKH; wy++) {
            const cy = py * PSH + wy - PPT;
            if (cy < 0 || cy >= OH) continue;
            for (let wx = 0; wx < PKW; wx++) {
              const cx = px * PSW + wx - PPL;
              if (cx < 0 || cx >= OW) continue;
              const a = acc1Scalar(x, wg, j, WP, C, KH, KW, SH, SW, cy, cx) + b;
              if (pool == 1) r = max(r, a);
              else r += reluFirst ? max(a, 0) : a;
              count++;
            }
          }
          if (pool == 2) m = m / <f32>count;
        }
        store<i8>(out + <usize>o, <i8>requant(r, m, zpOut, lo, hi));
      }
    }
  }
}

/** One conv (or dense: 1×1 image, N channels) layer on a VALID-padded input; pool 0 none, 1 max, 2 avg. */
export function conv_i8(x: usize, w: usize, bias: usize, mult: usize, y: usize, HP: i32, WP: i32, C: i32,
  OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, zpOut: i32, lo: i32, hi: i32,
  pool: i32, PH: i32, PW: i32, PKH: i32, PKW: i32, PSH: i32, PSW: i32, PPT: i32, PPL: i32, reluFirst: i32): void {
  if (ASC_FEATURE_SIMD) {
    convSimd(x, w, bias, mult, y, WP, C, OH, OW, OC, KH, KW, SH, SW, zpOut, lo, hi, pool, PH, PW, PKH, PKW, PSH, PSW, PPT, PPL, reluFirst);
  } else {
    convScalar(x, w, bias, mult, y, WP, C, OH, OW, OC, KH, KW, SH, SW, zpOut, lo, hi, pool, PH, PW, PKH, PKW, PSH, PSW, PPT, PPL, reluFirst);
  }
}

/**
 * A dense layer. Weights (compiler/codegen/dense-int8.ts packDenseWeights): one row of C8 = C rounded up to 8 bytes
 * per output channel, zero-padded, so the last group of 4 may read rows past OC (other constants; those lanes are
 * never stored) and the weights need no padding to whole groups.
 */
export function dense_i8(x: usize, w: usize, bias: usize, mult: usize, y: usize, C: i32, OC: i32,
  zpOut: i32, lo: i32, hi: i32): void {
  const row = <usize>((C + 7) & ~7);
  if (ASC_FEATURE_SIMD) {
      const vLo = i32x4.splat(lo - zpOut), vHi = i32x4.splat(hi - zpOut), vZp = i32x4.splat(zpOut);
    for (let o = 0; o < OC; o += 4) {
      let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let w0 = w + <usize>o * row, w1 = w0 + row, w2 = w1 + row, w3 = w2 + row;
      for (let xp = x, end = x + row; xp < end; xp += 8) {
        const xv = v128.load8x8_s(xp);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xv, v128.load8x8_s(w0)));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xv, v128.load8x8_s(w1)));
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(xv, v128.load8x8_s(w2)));
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(xv, v128.load8x8_s(w3)));
        w0 += 8; w1 += 8; w2 += 8; w3 += 8;
      }
      const acc = i32x4.add(v128.load(bias + (<usize>o << 2)), sumLanes4(a0, a1, a2, a3));
      const q = requant4(acc, v128.load(mult + (<usize>o << 2)), vZp, vLo, vHi);
      const n16 = i16x8.narrow_i32x4_s(q, q);
      // Up to 3 bytes past OC land in the 8 bytes of slack every arena buffer has (compiler/codegen/layout.ts OVERREAD_SLACK).
      v128.store32_lane(y + <usize>o, i8x16.narrow_i16x8_s(n16, n16), 0);
    }
  } else {
    for (let o = 0; o < OC; o++) {
      const wo = w + <usize>o * row;
      let acc = load<i32>(bias + (<usize>o << 2));
      for (let i = 0; i < C; i++) acc += <i32>load<i8>(x + <usize>i) * <i32>load<i8>(wo + <usize>i);
      store<i8>(y + <usize>o, <i8>requant(acc, load<f32>(mult + (<usize>o << 2)), zpOut, lo, hi));
    }
  }
}
