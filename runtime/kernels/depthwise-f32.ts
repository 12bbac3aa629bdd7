// Float32 depthwise convolution kernel (AssemblyScript); SIMD128 where enabled.
// The window walk is written out here as in every kernel that has one (why: common.ts).
import { actScalar, actVector } from "./common";

/** Depthwise output channel o of pixel (oy, ox): in-bounds taps of input channel o / DM only. */
@inline function depthwiseChannel(x: usize, w: usize, b: usize, H: i32, W: i32, C: i32, OC: i32, DM: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, oy: i32, ox: i32, o: i32): f32 {
  const ci = o / DM;
  let acc: f32 = b ? load<f32>(b + (<usize>o << 2)) : 0;
  for (let ky = 0; ky < KH; ky++) {
    const iy = oy * SH + ky - PT;
    if (iy < 0 || iy >= H) continue;
    for (let kx = 0; kx < KW; kx++) {
      const ix = ox * SW + kx - PL;
      if (ix < 0 || ix >= W) continue;
      acc += load<f32>(x + ((<usize>((iy * W + ix) * C + ci)) << 2)) * load<f32>(w + ((<usize>((ky * KW + kx) * OC + o)) << 2));
    }
  }
  return acc;
}

/**
 * y[oy,ox,o] = act(b[o] + Σ x[iy,ix,o/DM]·w[ky,kx,o]) with weights [KH][KW][C·DM] (Keras [kh, kw, c, dm]
 * flattened); bias may be 0 (none). With DM = 1 input and output channels line up, four per vector.
 */
export function depthwise_f32(x: usize, w: usize, b: usize, y: usize, H: i32, W: i32, C: i32,
  OH: i32, OW: i32, DM: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, act: i32): void {
  const OC = C * DM;
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      const out = y + ((<usize>(oy * OW + ox) * OC) << 2);
      let o = 0;
      if (ASC_FEATURE_SIMD) {
        if (DM == 1) {
          for (; o + 4 <= OC; o += 4) {
            let acc = b ? v128.load(b + (<usize>o << 2)) : f32x4.splat(0);
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * SH + ky - PT;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * SW + kx - PL;
                if (ix < 0 || ix >= W) continue;
                const xv = v128.load(x + ((<usize>((iy * W + ix) * C + o)) << 2));
                acc = f32x4.add(acc, f32x4.mul(xv, v128.load(w + ((<usize>((ky * KW + kx) * OC + o)) << 2))));
              }
            }
            v128.store(out + (<usize>o << 2), actVector(acc, act));
          }
        }
      }
      for (; o < OC; o++) {
        const v = depthwiseChannel(x, w, b, H, W, C, OC, DM, KH, KW, SH, SW, PT, PL, oy, ox, o);
        store<f32>(out + (<usize>o << 2), actScalar(v, act));
      }
    }
  }
}
