// Helpers every kernel shares (AssemblyScript): the f32 requantization steps and the fused activations.
// One definition, so that the scalar and SIMD paths of every kernel round exactly alike.
// What is not shared, on purpose: the window walk (for ky: skip rows outside the image; for kx: skip columns) is
// written out in each conv, depthwise and pool kernel, around a different body each time. AssemblyScript inlines no
// closures, so one walker taking the body would cost an indirect call per tap in the innermost loops.

/** nearest(v) limited to ±512, plus zp, clamped to [lo, hi]: the tail of every f32 requantization. */
@inline export function roundClamp(v: f32, zp: i32, lo: i32, hi: i32): i32 {
  const r = <i32>min<f32>(512, max<f32>(-512, nearest<f32>(v))) + zp;
  return r < lo ? lo : (r > hi ? hi : r);
}

/** clamp(nearest(f32(acc) · m) + zp, lo, hi): compiler/quant/arithmetic.ts `requantize`, in f32. */
@inline export function requant(acc: i32, m: f32, zp: i32, lo: i32, hi: i32): i32 {
  return roundClamp(<f32>acc * m, zp, lo, hi);
}

/** The f32 bits of 1.5·2^23: adding it to a v with |v| ≤ 2^22 leaves round-half-even(v) in the low bits. */
export const MAGIC_BITS: i32 = 0x4B400000;

/** requantMagic's bitsLessZp for output zero point zp. */
@inline export function roundingBitsLessZp(zp: i32): i32 {
  return MAGIC_BITS - zp;
}

/**
 * `requant` by magic-number rounding (why it is exact: requant-magic.ts): f32(acc)·m clamped in f32 to
 * [lo − zp, hi − zp] (integers, so clamping commutes with rounding), then v + 1.5·2^23 holds round-half-even(v) in
 * its low bits. The scalar target's kernels use it: on a microcontroller without an FPU every f32 operation is a
 * library call, and this one skips nearest, trunc_sat and the integer clamp. acc·m is never NaN (m is finite).
 * loLessZp, hiLessZp: f32(lo − zp), f32(hi − zp); bitsLessZp: roundingBitsLessZp(zp).
 */
@inline export function requantMagic(acc: i32, m: f32, loLessZp: f32, hiLessZp: f32, bitsLessZp: i32): i32 {
  let v = <f32>acc * m;
  v = v < loLessZp ? loLessZp : v;
  v = v > hiLessZp ? hiLessZp : v;
  return reinterpret<i32>(v + reinterpret<f32>(MAGIC_BITS)) - bitsLessZp;
}

/**
 * `requant` four lanes at once (SIMD builds only). Clamping to [lo − zp, hi − zp] before adding zp gives what
 * roundClamp's ±512 limit and [lo, hi] clamp give (lo, hi and zp are int8, far inside ±512), with two f32 constants
 * fewer in every kernel that inlines it. loLessZp, hiLessZp: splat(lo − zp), splat(hi − zp).
 */
@inline export function requant4(acc: v128, m: v128, zp: v128, loLessZp: v128, hiLessZp: v128): v128 {
  const q = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(f32x4.convert_i32x4_s(acc), m)));
  return i32x4.add(i32x4.min_s(hiLessZp, i32x4.max_s(loLessZp, q)), zp);
}

/** SIMD builds only. Lanes of `v` rounded half to even, limited to ±512, plus zp; the int8 clamp comes from the saturating narrows. */
@inline export function roundToInt4(v: v128, zp: v128): v128 {
  return i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.splat(512), f32x4.max(f32x4.splat(-512), f32x4.nearest(v)))), zp);
}

/** Stores the first n < 16 bytes of `bytes` at p: the partial channel block at the end of an output pixel. */
@inline export function storeFirstBytes(p: usize, bytes: v128, n: i32): void {
  let v = bytes, at = p;
  if (n & 8) { v128.store64_lane(at, v, 0); v = i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0); at += 8; }
  if (n & 4) { v128.store32_lane(at, v, 0); v = i8x16.shuffle(v, v, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0); at += 4; }
  if (n & 2) { v128.store16_lane(at, v, 0); v = i8x16.shuffle(v, v, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0); at += 2; }
  if (n & 1) v128.store8_lane(at, v, 0);
}

// Activation codes shared with the compiler (compiler/ops/op.ts ACTIVATION_CODES): 0 linear, 1 relu, 2 relu6.
@inline export function actScalar(v: f32, act: i32): f32 {
  if (act == 1) return v < 0 ? 0 : v;
  if (act == 2) return v < 0 ? 0 : (v > 6 ? 6 : v);
  return v;
}

@inline export function actVector(v: v128, act: i32): v128 {
  if (act == 1) return f32x4.max(v, f32x4.splat(0));
  if (act == 2) return f32x4.min(f32x4.max(v, f32x4.splat(0)), f32x4.splat(6));
  return v;
}
