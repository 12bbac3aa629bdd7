// Int8 kernels (AssemblyScript) for element-wise add and global average pooling, SIMD and scalar.
// Each matches the int8 reference of its op (compiler/ops/add.ts, compiler/ops/global-avg-pool.ts) bit for bit:
// the SIMD lanes run the very f32 operations of the scalar code, in the same order.
import { roundClamp } from "./common";


/** Lanes of `v` rounded half to even, limited to ±512, plus zp; the int8 clamp comes from the saturating narrows. */
@inline function roundToInt4(v: v128, zp: v128): v128 {
  return i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.splat(512), f32x4.max(f32x4.splat(-512), f32x4.nearest(v)))), zp);
}

// ---- add: y = roundClamp(f32(f32(a − zpA)·mA) + f32(f32(b − zpB)·mB)) ----

@inline function addOne(a: i32, b: i32, zpA: i32, zpB: i32, mA: f32, mB: f32, zpOut: i32): i32 {
  return roundClamp(<f32>(a - zpA) * mA + <f32>(b - zpB) * mB, zpOut, -128, 127);
}

function addRangeScalar(a: usize, b: usize, y: usize, from: i32, n: i32, zpA: i32, zpB: i32, mA: f32, mB: f32, zpOut: i32): void {
  for (let i = from; i < n; i++) {
    const p = <usize>i;
    store<i8>(y + p, <i8>addOne(<i32>load<i8>(a + p), <i32>load<i8>(b + p), zpA, zpB, mA, mB, zpOut));
  }
}

/** Four lanes: sign-extended (q − zp) as i32 → f32, times m. */
@inline function scaled4(q: v128, m: v128): v128 {
  return f32x4.mul(f32x4.convert_i32x4_s(q), m);
}

function addSimd(a: usize, b: usize, y: usize, n: i32, zpA: i32, zpB: i32, mA: f32, mB: f32, zpOut: i32): void {
  const za = i16x8.splat(<i16>zpA), zb = i16x8.splat(<i16>zpB);
  const va = f32x4.splat(mA), vb = f32x4.splat(mB), vz = i32x4.splat(zpOut);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const qa = v128.load(a + <usize>i), qb = v128.load(b + <usize>i);
    // (q − zp) fits i16 exactly: int8 minus int8 lies in [−255, 255].
    const aLo = i16x8.sub(i16x8.extend_low_i8x16_s(qa), za), aHi = i16x8.sub(i16x8.extend_high_i8x16_s(qa), za);
    const bLo = i16x8.sub(i16x8.extend_low_i8x16_s(qb), zb), bHi = i16x8.sub(i16x8.extend_high_i8x16_s(qb), zb);
    const r0 = roundToInt4(f32x4.add(scaled4(i32x4.extend_low_i16x8_s(aLo), va), scaled4(i32x4.extend_low_i16x8_s(bLo), vb)), vz);
    const r1 = roundToInt4(f32x4.add(scaled4(i32x4.extend_high_i16x8_s(aLo), va), scaled4(i32x4.extend_high_i16x8_s(bLo), vb)), vz);
    const r2 = roundToInt4(f32x4.add(scaled4(i32x4.extend_low_i16x8_s(aHi), va), scaled4(i32x4.extend_low_i16x8_s(bHi), vb)), vz);
    const r3 = roundToInt4(f32x4.add(scaled4(i32x4.extend_high_i16x8_s(aHi), va), scaled4(i32x4.extend_high_i16x8_s(bHi), vb)), vz);
    v128.store(y + <usize>i, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.narrow_i32x4_s(r2, r3)));
  }
  addRangeScalar(a, b, y, i, n, zpA, zpB, mA, mB, zpOut);
}

/** Element-wise sum of two int8 tensors of n values, each with its own scale, requantized to the output's. */
export function add_i8(a: usize, b: usize, y: usize, n: i32, zpA: i32, zpB: i32, mA: f32, mB: f32, zpOut: i32): void {
  if (ASC_FEATURE_SIMD) addSimd(a, b, y, n, zpA, zpB, mA, mB, zpOut);
  else addRangeScalar(a, b, y, 0, n, zpA, zpB, mA, mB, zpOut);
}

// ---- global average pooling: y[c] = roundClamp(f32(Σ_p (x[p, c] − zpIn)) · m) with m = s_in / (s_out·HW) ----

function meanRangeScalar(x: usize, y: usize, from: i32, HW: i32, C: i32, zpIn: i32, m: f32, zpOut: i32): void {
  for (let c = from; c < C; c++) {
    let s = 0;
    for (let p = 0; p < HW; p++) s += <i32>load<i8>(x + <usize>(p * C + c)) - zpIn;
    store<i8>(y + <usize>c, <i8>roundClamp(<f32>s * m, zpOut, -128, 127));
  }
}

function meanSimd(x: usize, y: usize, HW: i32, C: i32, zpIn: i32, m: f32, zpOut: i32): void {
  const zp = i16x8.splat(<i16>zpIn), vm = f32x4.splat(m), vz = i32x4.splat(zpOut);
  let c = 0;
  for (; c + 8 <= C; c += 8) {
    let s0 = i32x4.splat(0), s1 = i32x4.splat(0);
    for (let p = 0; p < HW; p++) {
      const v = i16x8.sub(v128.load8x8_s(x + <usize>(p * C + c)), zp);
      s0 = i32x4.add(s0, i32x4.extend_low_i16x8_s(v));
      s1 = i32x4.add(s1, i32x4.extend_high_i16x8_s(v));
    }
    const r0 = roundToInt4(f32x4.mul(f32x4.convert_i32x4_s(s0), vm), vz);
    const r1 = roundToInt4(f32x4.mul(f32x4.convert_i32x4_s(s1), vm), vz);
    const n16 = i16x8.narrow_i32x4_s(r0, r1);
    v128.store64_lane(y + <usize>c, i8x16.narrow_i16x8_s(n16, n16), 0);
  }
  meanRangeScalar(x, y, c, HW, C, zpIn, m, zpOut);
}

/** Mean over the HW pixels of an NHWC int8 image, per channel, requantized to the output's scale. */
export function spatial_mean_i8(x: usize, y: usize, HW: i32, C: i32, zpIn: i32, m: f32, zpOut: i32): void {
  if (ASC_FEATURE_SIMD) meanSimd(x, y, HW, C, zpIn, m, zpOut);
  else meanRangeScalar(x, y, 0, HW, C, zpIn, m, zpOut);
}
