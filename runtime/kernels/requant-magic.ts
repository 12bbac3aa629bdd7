// SIMD requantization by the magic-number rounding (AssemblyScript, SIMD builds only): the same result as
// common.ts requant4 in 6 instructions instead of ~15 (no trunc_sat, no NaN-aware min/max) — it matters in
// kernels that requantize after few MACs per output (depthwise: 9, a 3-channel stem: 27).
// Why it is exact: the clamp comes first, in f32, to [lo − zp, hi − zp] (integers, |·| ≤ 255), which commutes
// with rounding to an integer; v + 1.5·2^23 then lies in [2^23, 2^24) where the f32 spacing is 1, so the add
// rounds v half to even (the default mode) and the bit pattern is 0x4B400000 + round(v). acc·m is never NaN
// (m is a finite f32), so f32x4.pmin/pmax (one minps/maxps) stand in for min/max.

import { MAGIC_BITS, storeFirstBytes } from "./common";

/** clamp(roundHalfEven(f32(acc)·m) + zp, lo, hi) in four i32 lanes; loLessZp, hiLessZp: splat(f32(lo − zp)),
 * splat(f32(hi − zp)); magic: f32x4.splat(12582912); bitsLessZp: i32x4.splat(MAGIC_BITS − zp). */
@inline export function requantMagic4(acc: v128, m: v128, loLessZp: v128, hiLessZp: v128, magic: v128, bitsLessZp: v128): v128 {
  const v = f32x4.pmin(hiLessZp, f32x4.pmax(loLessZp, f32x4.mul(f32x4.convert_i32x4_s(acc), m)));
  return i32x4.sub(f32x4.add(v, magic), bitsLessZp);
}

/** Requantizes 16 channels of one pixel and stores the first min(16, left) of them. */
@inline export function requantStore16(p: usize, a0: v128, a1: v128, a2: v128, a3: v128, mult: usize, vLo: v128, vHi: v128, magic: v128,
  bitsLessZp: v128, left: i32): void {
  const lo = i16x8.narrow_i32x4_s(requantMagic4(a0, v128.load(mult), vLo, vHi, magic, bitsLessZp),
    requantMagic4(a1, v128.load(mult, 16), vLo, vHi, magic, bitsLessZp));
  const hi = i16x8.narrow_i32x4_s(requantMagic4(a2, v128.load(mult, 32), vLo, vHi, magic, bitsLessZp),
    requantMagic4(a3, v128.load(mult, 48), vLo, vHi, magic, bitsLessZp));
  const bytes = i8x16.narrow_i16x8_s(lo, hi);
  if (left >= 16) v128.store(p, bytes);
  else storeFirstBytes(p, bytes, left);
}
