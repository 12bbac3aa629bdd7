// Conversions at the edges of layers kept in float (--keep-float): int8 → float32 and float32 → int8 (AssemblyScript).
import { roundClamp } from "./common";

/** y[i] = f32(x[i] − zp) · scale: compiler/ops/dequantize.ts dequantizeValues. */
export function dequantize_i8_f32(x: usize, y: usize, n: i32, scale: f32, zp: i32): void {
  for (let i = 0; i < n; i++) {
    store<f32>(y + (<usize>i << 2), <f32>(<i32>load<i8>(x + <usize>i) - zp) * scale);
  }
}

/** y[i] = clamp(nearest(x[i] · m) + zp, −128, 127), limited to ±512 first (NaN → zp): compiler/ops/quantize.ts quantizeFloat. */
export function quantize_f32_i8(x: usize, y: usize, n: i32, m: f32, zp: i32): void {
  for (let i = 0; i < n; i++) {
    store<i8>(y + <usize>i, <i8>roundClamp(load<f32>(x + (<usize>i << 2)) * m, zp, -128, 127));
  }
}
