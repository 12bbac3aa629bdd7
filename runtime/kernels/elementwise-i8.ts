// Int8 element-wise kernels (AssemblyScript): add, multiply and a per-channel affine (SIMD and scalar).
// Each matches the int8 reference of its op (compiler/ops/add.ts, multiply.ts, batch-norm.ts) bit for bit:
// the SIMD lanes run the very f32 operations of the scalar code, in the same order.
import { requant, roundClamp, roundToInt4 } from "./common";

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

/** y[i] = requant((a[i] − za)·(b[i] − zb)): the product of two int8 tensors, requantized to the output's scale. */
export function mul_i8(a: usize, b: usize, y: usize, n: i32, za: i32, zb: i32, m: f32, zo: i32): void {
  for (let i = 0; i < n; i++) {
    const p = (<i32>load<i8>(a + <usize>i) - za) * (<i32>load<i8>(b + <usize>i) - zb);
    store<i8>(y + <usize>i, <i8>requant(p, m, zo, -128, 127));
  }
}

/** Per-channel affine in int8 (an unfolded batch norm or Rescaling): nearest(f32(q − zpIn)·m[c] + k[c]) + zpOut. */
export function affine_i8(x: usize, y: usize, n: i32, C: i32, zpIn: i32, m: usize, k: usize, zpOut: i32): void {
  for (let i = 0; i < n; i++) {
    const c = <usize>(i % C) << 2;
    const v = <f32>(<i32>load<i8>(x + <usize>i) - zpIn) * load<f32>(m + c) + load<f32>(k + c);
    store<i8>(y + <usize>i, <i8>roundClamp(v, zpOut, -128, 127));
  }
}
