// Int8 depthwise convolution kernel (AssemblyScript): output channel o = ci·DM + m reads input channel ci only.
// Packing (compiler/codegen/depthwise-int8.ts): weights per block of 8 output channels, per tap (ky, kx), 8 int8
// (zero beyond OC); bias i32 and multipliers f32 padded to a multiple of 8; for DM > 1 one 16-byte swizzle mask
// per full block. The input arrives VALID-padded (pad_i8 writes a zero-point border), so no tap is skipped.
// Bit-exact with compiler/ops/depthwise-conv2d.ts `int8`: integer accumulation, then one f32 requantization.
import { requant, requant4 } from "./common";


// ---- Scalar: one output channel at a time (the whole scalar flavour, and the SIMD flavour's last partial block) ----

/** Σ over taps of x·w (the compiler folded −zp·Σw into the bias) for output channel o of the pixel whose window starts at `origin`. */
@inline function channelAcc(origin: usize, w: usize, o: i32, ci: i32, WP: i32, C: i32, KH: i32, KW: i32): i32 {
  let wp = w + <usize>((((o >> 3) * KH * KW) << 3) + (o & 7));
  let acc = 0;
  for (let ky = 0; ky < KH; ky++) {
    let xp = origin + <usize>(ky * WP * C + ci);
    for (let kx = 0; kx < KW; kx++) {
      acc += <i32>load<i8>(xp) * <i32>load<i8>(wp);
      xp += <usize>C;
      wp += 8;
    }
  }
  return acc;
}

/** Output channels [from, OC) of one pixel. */
function channelsScalar(origin: usize, w: usize, bias: usize, mult: usize, out: usize, from: i32, OC: i32, DM: i32,
  WP: i32, C: i32, KH: i32, KW: i32, zpOut: i32, lo: i32, hi: i32): void {
  for (let o = from; o < OC; o++) {
    const acc = channelAcc(origin, w, o, o / DM, WP, C, KH, KW) + load<i32>(bias + (<usize>o << 2));
    store<i8>(out + <usize>o, <i8>requant(acc, load<f32>(mult + (<usize>o << 2)), zpOut, lo, hi));
  }
}

function depthwiseScalar(x: usize, w: usize, bias: usize, mult: usize, y: usize, WP: i32, C: i32, OH: i32, OW: i32,
  DM: i32, KH: i32, KW: i32, SH: i32, SW: i32, zpOut: i32, lo: i32, hi: i32): void {
  const OC = C * DM;
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      const origin = x + <usize>((oy * SH * WP + ox * SW) * C);
      channelsScalar(origin, w, bias, mult, y + <usize>((oy * OW + ox) * OC), 0, OC, DM, WP, C, KH, KW, zpOut, lo, hi);
    }
  }
}

// ---- SIMD128: eight output channels per block, x·w widened to i32 with extmul ----


function depthwiseSimd(x: usize, w: usize, bias: usize, mult: usize, gather: usize, y: usize, WP: i32, C: i32,
  OH: i32, OW: i32, DM: i32, KH: i32, KW: i32, SH: i32, SW: i32, zpOut: i32, lo: i32, hi: i32): void {
  const OC = C * DM, full = OC >> 3, taps = KH * KW;
  const vZp = i32x4.splat(zpOut), vLo = i32x4.splat(lo - zpOut), vHi = i32x4.splat(hi - zpOut);
  const rowBytes = <usize>(WP * C);
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      const origin = x + <usize>((oy * SH * WP + ox * SW) * C);
      const out = y + <usize>((oy * OW + ox) * OC);
      for (let b = 0; b < full; b++) {
        const o0 = b << 3;
        // With DM > 1 an 8-byte load from the block's first input channel holds every channel the block
        // needs (at most 5), and may read up to 7 bytes past the image: the arena's over-read slack covers it.
        const mask = DM == 1 ? i32x4.splat(0) : v128.load(gather + (<usize>b << 4));
        let row = origin + <usize>(o0 / DM);
        let wp = w + (<usize>(b * taps) << 3);
        let a0 = i32x4.splat(0), a1 = i32x4.splat(0);
        for (let ky = 0; ky < KH; ky++) {
          let xp = row;
          for (let kx = 0; kx < KW; kx++) {
            const xv = DM == 1 ? v128.load8x8_s(xp) : i16x8.extend_low_i8x16_s(i8x16.swizzle(v128.load64_zero(xp), mask));
            const wv = v128.load8x8_s(wp);
            a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(xv, wv));
            a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(xv, wv));
            xp += <usize>C;
            wp += 8;
          }
          row += rowBytes;
        }
        const bp = bias + (<usize>o0 << 2), mp = mult + (<usize>o0 << 2);
        const q0 = requant4(i32x4.add(a0, v128.load(bp)), v128.load(mp), vZp, vLo, vHi);
        const q1 = requant4(i32x4.add(a1, v128.load(bp, 16)), v128.load(mp, 16), vZp, vLo, vHi);
        const n16 = i16x8.narrow_i32x4_s(q0, q1);
        v128.store64_lane(out + <usize>o0, i8x16.narrow_i16x8_s(n16, n16), 0);
      }
      channelsScalar(origin, w, bias, mult, out, full << 3, OC, DM, WP, C, KH, KW, zpOut, lo, hi);
    }
  }
}

/**
 * One depthwise layer on a VALID-padded input of width WP and C channels; output OH×OW×(C·DM).
 * `gather` holds the swizzle masks (0 when DM = 1 or there is no full block of 8 channels).
 */
export function depthwise_i8(x: usize, w: usize, bias: usize, mult: usize, gather: usize, y: usize, WP: i32, C: i32,
  OH: i32, OW: i32, DM: i32, KH: i32, KW: i32, SH: i32, SW: i32, zpOut: i32, lo: i32, hi: i32): void {
  if (ASC_FEATURE_SIMD) {
    depthwiseSimd(x, w, bias, mult, gather, y, WP, C, OH, OW, DM, KH, KW, SH, SW, zpOut, lo, hi);
  } else {
    depthwiseScalar(x, w, bias, mult, y, WP, C, OH, OW, DM, KH, KW, SH, SW, zpOut, lo, hi);
  }
}
