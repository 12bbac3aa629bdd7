// Float32 kernels (AssemblyScript): NHWC conv, dense, pools, activations, softmax; SIMD128 where enabled.
// The window walk is written out here as in every kernel that has one (why: common.ts).
import { actScalar, actVector } from "./common";

/** y[oy,ox,o] = act(b[o] + Σ x[iy,ix,i]·w[ky,kx,i,o]); weights HWIO, bias may be 0 (none). */
export function conv2d_f32(x: usize, w: usize, b: usize, y: usize, H: i32, W: i32, C: i32,
  OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, act: i32): void {
  const rowStride = <usize>OC << 2;
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      const out = y + ((<usize>(oy * OW + ox) * OC) << 2);
      let o = 0;
      if (ASC_FEATURE_SIMD) {
        for (; o + 4 <= OC; o += 4) {
          let acc = b ? v128.load(b + (<usize>o << 2)) : f32x4.splat(0);
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * SH + ky - PT;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * SW + kx - PL;
              if (ix < 0 || ix >= W) continue;
              const xp = x + ((<usize>(iy * W + ix) * C) << 2);
              let wp = w + ((<usize>((ky * KW + kx) * C) * OC + o) << 2);
              for (let i = 0; i < C; i++) {
                acc = f32x4.add(acc, f32x4.mul(f32x4.splat(load<f32>(xp + (<usize>i << 2))), v128.load(wp)));
                wp += rowStride;
              }
            }
          }
          v128.store(out + (<usize>o << 2), actVector(acc, act));
        }
      }
      for (; o < OC; o++) {
        let acc: f32 = b ? load<f32>(b + (<usize>o << 2)) : 0;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * SH + ky - PT;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * SW + kx - PL;
            if (ix < 0 || ix >= W) continue;
            const xp = x + ((<usize>(iy * W + ix) * C) << 2);
            const wp = w + ((<usize>((ky * KW + kx) * C) * OC + o) << 2);
            for (let i = 0; i < C; i++) acc += load<f32>(xp + (<usize>i << 2)) * load<f32>(wp + <usize>i * rowStride);
          }
        }
        store<f32>(out + (<usize>o << 2), actScalar(acc, act));
      }
    }
  }
}

/** y[j] = act(b[j] + Σ x[i]·w[i,j]) with weights [N][M]; rows are streamed so weight reads stay contiguous. */
export function dense_f32(x: usize, w: usize, b: usize, y: usize, N: i32, M: i32, act: i32): void {
  for (let j = 0; j < M; j++) store<f32>(y + (<usize>j << 2), b ? load<f32>(b + (<usize>j << 2)) : 0);
  for (let i = 0; i < N; i++) {
    const xi = load<f32>(x + (<usize>i << 2));
    const row = w + ((<usize>i * M) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const xs = f32x4.splat(xi);
      for (; j + 4 <= M; j += 4) {
        const p = y + (<usize>j << 2);
        v128.store(p, f32x4.add(v128.load(p), f32x4.mul(xs, v128.load(row + (<usize>j << 2)))));
      }
    }
    for (; j < M; j++) {
      const p = y + (<usize>j << 2);
      store<f32>(p, load<f32>(p) + xi * load<f32>(row + (<usize>j << 2)));
    }
  }
  if (act != 0) for (let j = 0; j < M; j++) store<f32>(y + (<usize>j << 2), actScalar(load<f32>(y + (<usize>j << 2)), act));
}

/** Max (isAvg = false) or average over in-bounds window elements, per channel. */
function pool_f32(x: usize, y: usize, H: i32, W: i32, C: i32, OH: i32, OW: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, isAvg: bool): void {
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      const out = y + ((<usize>(oy * OW + ox) * C) << 2);
      for (let c = 0; c < C; c++) {
        let acc: f32 = isAvg ? 0 : -Infinity;
        let count = 0;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * SH + ky - PT;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * SW + kx - PL;
            if (ix < 0 || ix >= W) continue;
            const v = load<f32>(x + ((<usize>((iy * W + ix) * C + c)) << 2));
            if (isAvg) acc += v; else if (v > acc) acc = v;
            count++;
          }
        }
        store<f32>(out + (<usize>c << 2), isAvg ? acc / <f32>count : acc);
      }
    }
  }
}

export function max_pool_f32(x: usize, y: usize, H: i32, W: i32, C: i32, OH: i32, OW: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  pool_f32(x, y, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL, false);
}

export function avg_pool_f32(x: usize, y: usize, H: i32, W: i32, C: i32, OH: i32, OW: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  pool_f32(x, y, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL, true);
}

/** Element-wise activation; kind: 1 relu, 2 relu6, 3 sigmoid, 4 tanh, 5 leaky relu (slope a), 6 clamp to [a, b]. */
export function unary_f32(x: usize, y: usize, n: i32, kind: i32, a: f32, b: f32): void {
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    let r: f32 = v;
    if (kind <= 2) r = actScalar(v, kind);
    else if (kind == 3) r = 1 / (1 + Mathf.exp(-v));
    else if (kind == 4) r = Mathf.tanh(v);
    else if (kind == 5) r = v < 0 ? v * a : v;
    else if (kind == 6) r = v < a ? a : (v > b ? b : v);
    store<f32>(y + (<usize>i << 2), r);
  }
}

/** Softmax over each of `rows` rows of `n` values. */
export function softmax_f32(x: usize, y: usize, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * n) << 2), yr = y + ((<usize>r * n) << 2);
    let m: f32 = -Infinity;
    for (let i = 0; i < n; i++) m = max(m, load<f32>(xr + (<usize>i << 2)));
    let s: f32 = 0;
    for (let i = 0; i < n; i++) {
      const e = Mathf.exp(load<f32>(xr + (<usize>i << 2)) - m);
      store<f32>(yr + (<usize>i << 2), e);
      s += e;
    }
    for (let i = 0; i < n; i++) store<f32>(yr + (<usize>i << 2), load<f32>(yr + (<usize>i << 2)) / s);
  }
}

/** Per-channel y = x·scale + shift over n values with C channels (an unfolded batch normalization). */
export function scale_shift_f32(x: usize, scale: usize, shift: usize, y: usize, n: i32, C: i32): void {
  for (let i = 0; i < n; i++) {
    const c = <usize>(i % C) << 2;
    store<f32>(y + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * load<f32>(scale + c) + load<f32>(shift + c));
  }
}
