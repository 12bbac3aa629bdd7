// Int8 kernels (AssemblyScript) besides conv: padding, pools, lookup tables, softmax.
// Each matches the int8 reference of its op in compiler/ops bit for bit.
// The window walk is written out here as in every kernel that has one (why: common.ts).
import { requant } from "./common";

/** Copies an NHWC image into a larger one whose border holds the zero point (real 0). */
export function pad_i8(x: usize, y: usize, H: i32, W: i32, C: i32, PT: i32, PL: i32, PB: i32, PR: i32, zp: i32): void {
  const WP = W + PL + PR;
  memory.fill(y, <u8>zp, <usize>((H + PT + PB) * WP * C));
  const row = <usize>(W * C);
  for (let iy = 0; iy < H; iy++) memory.copy(y + <usize>(((iy + PT) * WP + PL) * C), x + <usize>iy * row, row);
}

export function max_pool_i8(x: usize, y: usize, H: i32, W: i32, C: i32, OH: i32, OW: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      const out = y + <usize>((oy * OW + ox) * C);
      for (let c = 0; c < C; c++) {
        let m: i32 = -128;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * SH + ky - PT;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * SW + kx - PL;
            if (ix < 0 || ix >= W) continue;
            m = max(m, <i32>load<i8>(x + <usize>((iy * W + ix) * C + c)));
          }
        }
        store<i8>(out + <usize>c, <i8>m);
      }
    }
  }
}

export function avg_pool_i8(x: usize, y: usize, H: i32, W: i32, C: i32, OH: i32, OW: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, zp: i32): void {
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      const out = y + <usize>((oy * OW + ox) * C);
      for (let c = 0; c < C; c++) {
        let s = 0, count = 0;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * SH + ky - PT;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * SW + kx - PL;
            if (ix < 0 || ix >= W) continue;
            s += <i32>load<i8>(x + <usize>((iy * W + ix) * C + c)) - zp;
            count++;
          }
        }
        store<i8>(out + <usize>c, <i8>requant(s, <f32>1 / <f32>count, zp, -128, 127));
      }
    }
  }
}

/** y[i] = table[x[i] + 128]: any int8 → int8 function (relu, sigmoid, tanh, …) precomputed by the compiler. */
export function lut_i8(x: usize, y: usize, n: i32, table: usize): void {
  for (let i = 0; i < n; i++) store<i8>(y + <usize>i, load<i8>(table + <usize>(<i32>load<i8>(x + <usize>i) + 128)));
}

/** Softmax over rows of n int8 logits; exp comes from a 256-entry f32 table indexed by (max − q). */
export function softmax_i8(x: usize, y: usize, rows: i32, n: i32, table: usize): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>(r * n), yr = y + <usize>(r * n);
    let m: i32 = -128;
    for (let i = 0; i < n; i++) m = max(m, <i32>load<i8>(xr + <usize>i));
    let s: f32 = 0;
    for (let i = 0; i < n; i++) s += load<f32>(table + (<usize>(m - <i32>load<i8>(xr + <usize>i)) << 2));
    for (let i = 0; i < n; i++) {
      const p = load<f32>(table + (<usize>(m - <i32>load<i8>(xr + <usize>i)) << 2)) / s;
      const q = <i32>min<f32>(512, max<f32>(-512, nearest<f32>(p * 256))) - 128;
      store<i8>(yr + <usize>i, <i8>(q < -128 ? -128 : (q > 127 ? 127 : q)));
    }
  }
}
