// Int8 depthwise 3×3 kernel, stride 1 or 2, one output channel per input channel (AssemblyScript, SIMD only).
// depthwise_i8 multiplies tap by tap with extmul (three x86 instructions per 4 products) and walks the taps in
// loops; here the nine taps are unrolled and taken two at a time: the i16 inputs of taps a and b are interleaved
// (one punpcklwd/punpckhwd each) into (x_a, x_b) pairs per channel, and i32x4.dot_i16x8_s multiplies a pair into
// one i32 per channel. Taps pair as (0,1) (2,3) (4,5) (6,7) (8,8) with tap 8's second weight 0, so a pixel of 8
// channels costs 9 loads, 10 shuffles and 10 dot products. Channel blocks are the outer loop, so each block's
// weights (5 pairs × 8 channels) are widened once and stay in registers over every pixel; the accumulators start
// at the bias; requantization is requant-magic.ts's. Weights (compiler/codegen/depthwise3x3-int8.ts): per block
// of 8 channels, per tap pair, 8 × [w(a, c), w(b, c)] int8, zero past C. A last block of fewer than 8 channels
// reads the next pixel's bytes in its spare lanes (weights 0 there; the arena's over-read slack covers the end)
// and stores only its own.
// Padding is done here, not by a padded copy of the input (pad_i8 costs a fill and a copy of the whole image):
// a row above or below the image reads `zpRow` (W·C bytes of the input zero point, written once per call), and
// the output columns whose window crosses the left or right edge take the zero point for the missing column.
// The compiler folded −zp·Σw into the bias, so padding adds nothing and the integer sums are the reference's
// (compiler/ops/depthwise-conv2d.ts `int8`).
import { MAGIC_BITS, storeFirstBytes } from "./common";
import { requantMagic4 } from "./requant-magic";

/** (a0, b0, a1, b1, a2, b2, a3, b3): the pairs of channels 0–3 of two widened taps. */
@inline function pairsLow(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}

/** The pairs of channels 4–7. */
@inline function pairsHigh(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

/** 8 channels of input column `col` of the row at `row` widened to i16, or the zero point outside [0, W). */
@inline function column(row: usize, col: i32, W: i32, c: usize, zp: v128): v128 {
  return col >= 0 && col < W ? v128.load8x8_s(row + <usize>col * c) : zp;
}

/** One output pixel of one 8-channel block from its nine widened taps: dot products, requantization, store. */
@inline function pixel(out: usize, t0: v128, t1: v128, t2: v128, t3: v128, t4: v128, t5: v128, t6: v128, t7: v128, t8: v128,
  w01l: v128, w01h: v128, w23l: v128, w23h: v128, w45l: v128, w45h: v128, w67l: v128, w67h: v128, w88l: v128, w88h: v128,
  b0: v128, b1: v128, m0: v128, m1: v128, vLo: v128, vHi: v128, magic: v128, bitsLessZp: v128, left: i32): void {
  let al = i32x4.add(b0, i32x4.dot_i16x8_s(pairsLow(t0, t1), w01l));
  let ah = i32x4.add(b1, i32x4.dot_i16x8_s(pairsHigh(t0, t1), w01h));
  al = i32x4.add(al, i32x4.dot_i16x8_s(pairsLow(t2, t3), w23l));
  ah = i32x4.add(ah, i32x4.dot_i16x8_s(pairsHigh(t2, t3), w23h));
  al = i32x4.add(al, i32x4.dot_i16x8_s(pairsLow(t4, t5), w45l));
  ah = i32x4.add(ah, i32x4.dot_i16x8_s(pairsHigh(t4, t5), w45h));
  al = i32x4.add(al, i32x4.dot_i16x8_s(pairsLow(t6, t7), w67l));
  ah = i32x4.add(ah, i32x4.dot_i16x8_s(pairsHigh(t6, t7), w67h));
  al = i32x4.add(al, i32x4.dot_i16x8_s(pairsLow(t8, t8), w88l));
  ah = i32x4.add(ah, i32x4.dot_i16x8_s(pairsHigh(t8, t8), w88h));
  const q = i16x8.narrow_i32x4_s(requantMagic4(al, m0, vLo, vHi, magic, bitsLessZp), requantMagic4(ah, m1, vLo, vHi, magic, bitsLessZp));
  const bytes = i8x16.narrow_i16x8_s(q, q);
  if (left >= 8) v128.store64_lane(out, bytes, 0);
  else storeFirstBytes(out, bytes, left);
}

function depthwise3x3Simd(x: usize, zpRow: usize, w: usize, bias: usize, mult: usize, y: usize, H: i32, W: i32, C: i32,
  OH: i32, OW: i32, S: i32, PT: i32, PL: i32, zpIn: i32, zpOut: i32, lo: i32, hi: i32): void {
  const c = <usize>C, c2 = <usize>(2 * C), rowBytes = <usize>(W * C), step = <usize>(S * C);
  memory.fill(zpRow, <u8>zpIn, rowBytes);
  const zp = i16x8.splat(<i16>zpIn);
  const vLo = f32x4.splat(<f32>(lo - zpOut)), vHi = f32x4.splat(<f32>(hi - zpOut));
  const magic = f32x4.splat(12582912.0), bitsLessZp = i32x4.splat(MAGIC_BITS - zpOut);
  // Output columns whose three input columns all lie in [0, W): [first, last].
  const first = (PL + S - 1) / S, span = W - 3 + PL, last = span < 0 ? -1 : min(OW - 1, span / S);
  for (let o = 0; o < C; o += 8) {
    const wb = w + <usize>(o * 10);
    const w01l = v128.load8x8_s(wb), w01h = v128.load8x8_s(wb, 8), w23l = v128.load8x8_s(wb, 16), w23h = v128.load8x8_s(wb, 24);
    const w45l = v128.load8x8_s(wb, 32), w45h = v128.load8x8_s(wb, 40), w67l = v128.load8x8_s(wb, 48), w67h = v128.load8x8_s(wb, 56);
    const w88l = v128.load8x8_s(wb, 64), w88h = v128.load8x8_s(wb, 72);
    const bp = bias + (<usize>o << 2), mp = mult + (<usize>o << 2);
    const b0 = v128.load(bp), b1 = v128.load(bp, 16), m0 = v128.load(mp), m1 = v128.load(mp, 16);
    const left = C - o;
    let out = y + <usize>o;
    for (let oy = 0; oy < OH; oy++) {
      const iy = oy * S - PT;
      // Rows outside the image read the zero-point row; `o` selects the block's channels in either.
      const r0 = (iy >= 0 && iy < H ? x + <usize>iy * rowBytes : zpRow) + <usize>o;
      const r1 = (iy + 1 >= 0 && iy + 1 < H ? x + <usize>(iy + 1) * rowBytes : zpRow) + <usize>o;
      const r2 = (iy + 2 >= 0 && iy + 2 < H ? x + <usize>(iy + 2) * rowBytes : zpRow) + <usize>o;
      for (let ox = 0; ox < OW; ox++) {
        if (ox == first && first <= last) {
          // The interior: every tap inside the image, loaded without checks.
          const at = <usize>(first * S - PL) * c;
          let p0 = r0 + at, p1 = r1 + at, p2 = r2 + at;
          for (; ox <= last; ox++) {
            pixel(out, v128.load8x8_s(p0), v128.load8x8_s(p0 + c), v128.load8x8_s(p0 + c2),
              v128.load8x8_s(p1), v128.load8x8_s(p1 + c), v128.load8x8_s(p1 + c2),
              v128.load8x8_s(p2), v128.load8x8_s(p2 + c), v128.load8x8_s(p2 + c2),
              w01l, w01h, w23l, w23h, w45l, w45h, w67l, w67h, w88l, w88h, b0, b1, m0, m1, vLo, vHi, magic, bitsLessZp, left);
            p0 += step; p1 += step; p2 += step;
            out += c;
          }
          ox--;
          continue;
        }
        const ix = ox * S - PL;
        pixel(out, column(r0, ix, W, c, zp), column(r0, ix + 1, W, c, zp), column(r0, ix + 2, W, c, zp),
          column(r1, ix, W, c, zp), column(r1, ix + 1, W, c, zp), column(r1, ix + 2, W, c, zp),
          column(r2, ix, W, c, zp), column(r2, ix + 1, W, c, zp), column(r2, ix + 2, W, c, zp),
          w01l, w01h, w23l, w23h, w45l, w45h, w67l, w67h, w88l, w88h, b0, b1, m0, m1, vLo, vHi, magic, bitsLessZp, left);
        out += c;
      }
    }
  }
}

/**
 * One depthwise 3×3 layer (depth multiplier 1, stride S both ways) on an H×W×C input with PT rows and PL columns of
 * padding before it (any after it are implied by OH, OW); output OH×OW×C. zpRow: W·C scratch bytes (+ over-read slack).
 */
export function depthwise3x3_i8(x: usize, zpRow: usize, w: usize, bias: usize, mult: usize, y: usize, H: i32, W: i32, C: i32,
  OH: i32, OW: i32, S: i32, PT: i32, PL: i32, zpIn: i32, zpOut: i32, lo: i32, hi: i32): void {
  // The compiler picks this kernel for simd targets only; scalar builds use depthwise_i8.
  if (ASC_FEATURE_SIMD) {
    depthwise3x3Simd(x, zpRow, w, bias, mult, y, H, W, C, OH, OW, S, PT, PL, zpIn, zpOut, lo, hi);
  } else {
    unreachable();
  }
}
