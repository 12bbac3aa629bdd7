// Global pooling kernels (AssemblyScript): per-channel mean (SIMD and scalar) and max over every pixel, float32 and int8.
// The int8 ones match compiler/ops/global-avg-pool.ts and global-max-pool.ts bit for bit.
import { roundClamp, roundToInt4 } from "./common";

/** y[c] = (Σ over the HW pixels of x[p, c]) / HW: global average pooling of an NHWC image. */
export function spatial_mean_f32(x: usize, y: usize, HW: i32, C: i32): void {
  const count = <f32>HW;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= C; c += 4) {
      let acc = f32x4.splat(0);
      for (let p = 0; p < HW; p++) acc = f32x4.add(acc, v128.load(x + ((<usize>(p * C + c)) << 2)));
      v128.store(y + (<usize>c << 2), f32x4.div(acc, f32x4.splat(count)));
    }
  }
  for (; c < C; c++) {
    let acc: f32 = 0;
    for (let p = 0; p < HW; p++) acc += load<f32>(x + ((<usize>(p * C + c)) << 2));
    store<f32>(y + (<usize>c << 2), acc / count);
  }
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

/** y[c] = max over the pixels of x[p, c]. */
export function global_max_pool_f32(x: usize, y: usize, pixels: i32, C: i32): void {
  for (let c = 0; c < C; c++) store<f32>(y + (<usize>c << 2), -Infinity);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < C; c++) {
      const v = load<f32>(x + (<usize>(p * C + c) << 2));
      if (v > load<f32>(y + (<usize>c << 2))) store<f32>(y + (<usize>c << 2), v);
    }
  }
}

/** y[c] = max over the pixels of x[p, c], in int8: the output keeps the input's scale and zero point. */
export function global_max_pool_i8(x: usize, y: usize, pixels: i32, C: i32): void {
  for (let c = 0; c < C; c++) store<i8>(y + <usize>c, -128);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < C; c++) {
      const v = load<i8>(x + <usize>(p * C + c));
      if (v > load<i8>(y + <usize>c)) store<i8>(y + <usize>c, v);
    }
  }
}
