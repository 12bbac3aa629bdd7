// Conversions at the edges of layers kept in float (--keep-float): int8 → float32 and float32 → int8 (AssemblyScript).
// The SIMD paths do per value exactly what the scalar loop does (the tail runs the scalar loop).
import { roundClamp, roundToInt4 } from "./common";

/** y[i] = f32(x[i] − zp) · scale: compiler/ops/dequantize.ts dequantizeValues. */
export function dequantize_i8_f32(x: usize, y: usize, n: i32, scale: f32, zp: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const s = f32x4.splat(scale), z = i32x4.splat(zp);
    for (; i + 16 <= n; i += 16) {
      const q = v128.load(x + <usize>i);
      const lo = i16x8.extend_low_i8x16_s(q), hi = i16x8.extend_high_i8x16_s(q);
      const out = y + (<usize>i << 2);
      // An int8 minus zp is exact in i32 and in f32; the multiplication rounds once, as in the scalar loop.
      v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_s(lo), z)), s));
      v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_high_i16x8_s(lo), z)), s), 16);
      v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_s(hi), z)), s), 32);
      v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_high_i16x8_s(hi), z)), s), 48);
    }
  }
  for (; i < n; i++) {
    store<f32>(y + (<usize>i << 2), <f32>(<i32>load<i8>(x + <usize>i) - zp) * scale);
  }
}

/** y[i] = clamp(nearest(x[i] · m) + zp, −128, 127), limited to ±512 first (NaN → zp): compiler/ops/quantize.ts quantizeFloat. */
export function quantize_f32_i8(x: usize, y: usize, n: i32, m: f32, zp: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m), z = i32x4.splat(zp);
    for (; i + 16 <= n; i += 16) {
      const p = x + (<usize>i << 2);
      // roundClamp's steps four lanes at a time; the saturating narrows are its final clamp to −128…127.
      const a = roundToInt4(f32x4.mul(v128.load(p), mv), z), b = roundToInt4(f32x4.mul(v128.load(p, 16), mv), z);
      const c = roundToInt4(f32x4.mul(v128.load(p, 32), mv), z), d = roundToInt4(f32x4.mul(v128.load(p, 48), mv), z);
      v128.store(y + <usize>i, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d)));
    }
  }
  for (; i < n; i++) {
    store<i8>(y + <usize>i, <i8>roundClamp(load<f32>(x + (<usize>i << 2)) * m, zp, -128, 127));
  }
}
