// Int8 conv kernel (AssemblyScript) for short kernel rows (KW·C ≤ 5, e.g. a first layer on 1–3 channels).
// The dot-product kernel (conv-i8.ts) pads every kernel row to 8 inputs and pays a horizontal reduction per
// 4 channels; here each input is broadcast and multiplied into 8 output channels at once (extmul), with no
// padding and no reduction. Weights (compiler/codegen/conv-int8.ts packConvWeightsSmall): per group of 8
// output channels, per tap (ky, kx, ci), 8 int8. Same integer sums as conv-i8, so the same bytes out.
// SIMD only: without SIMD there is no broadcast advantage, and scalar builds keep the one conv_i8 kernel.
import { requant4 } from "./common";

function convSmallSimd(x: usize, w: usize, bias: usize, mult: usize, y: usize, WP: i32, C: i32, OH: i32, OW: i32, OC: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, zpIn: i32, zpOut: i32, lo: i32, hi: i32, pool: i32, PH: i32, PW: i32,
  PKH: i32, PKW: i32, PSH: i32, PSW: i32, PPT: i32, PPL: i32, reluFirst: i32): void {
  const gBytes = <usize>(KH * KW * C) << 3;
  const groups = (OC + 7) >> 3;
  const row = KW * C;
  const vLo = i32x4.splat(lo), vHi = i32x4.splat(hi), vZp = i32x4.splat(zpOut), zero = i32x4.splat(0);
  // Without a pool the window is the single conv position (the compiler passes a 1×1 window), taken as a max.
  const isMax = pool != 2;
  for (let py = 0; py < PH; py++) {
    for (let px = 0; px < PW; px++) {
      const out = y + <usize>((py * PW + px) * OC);
      for (let g = 0; g < groups; g++) {
        const wg = w + <usize>g * gBytes;
        const b0 = v128.load(bias + (<usize>g << 5)), b1 = v128.load(bias + (<usize>g << 5), 16);
        let m0 = v128.load(mult + (<usize>g << 5)), m1 = v128.load(mult + (<usize>g << 5), 16);
        let r0 = isMax ? i32x4.splat(i32.MIN_VALUE) : zero;
        let r1 = r0;
        let count = 0;
        for (let wy = 0; wy < PKH; wy++) {
          const cy = py * PSH + wy - PPT;
          if (cy < 0 || cy >= OH) continue;
          for (let wx = 0; wx < PKW; wx++) {
            const cx = px * PSW + wx - PPL;
            if (cx < 0 || cx >= OW) continue;
            let a0 = b0, a1 = b1;
            let wp = wg;
            for (let ky = 0; ky < KH; ky++) {
              const xp = x + <usize>(((cy * SH + ky) * WP + cx * SW) * C);
              for (let t = 0; t < row; t++) {
                const xs = i16x8.splat(<i16>(<i32>load<i8>(xp + <usize>t) - zpIn));
                const wv = v128.load8x8_s(wp);
                a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(xs, wv));
                a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(xs, wv));
                wp += 8;
              }
            }
            if (isMax) { r0 = i32x4.max_s(r0, a0); r1 = i32x4.max_s(r1, a1); }
            else if (reluFirst) { r0 = i32x4.add(r0, i32x4.max_s(a0, zero)); r1 = i32x4.add(r1, i32x4.max_s(a1, zero)); }
            else { r0 = i32x4.add(r0, a0); r1 = i32x4.add(r1, a1); }
            count++;
          }
        }
        if (!isMax) {
          const n = f32x4.splat(<f32>count);
          m0 = f32x4.div(m0, n); m1 = f32x4.div(m1, n);
        }
        const q16 = i16x8.narrow_i32x4_s(requant4(r0, m0, vZp, vLo, vHi), requant4(r1, m1, vZp, vLo, vHi));
        const bytes = i8x16.narrow_i16x8_s(q16, q16);
        const o = g << 3;
        const p = out + <usize>o;
        const left = OC - o;
        if (left >= 8) {
          v128.store64_lane(p, bytes, 0);
        } else {
          store<i8>(p, i8x16.extract_lane_s(bytes, 0));
          if (left > 1) store<i8>(p + 1, i8x16.extract_lane_s(bytes, 1));
          if (left > 2) store<i8>(p + 2, i8x16.extract_lane_s(bytes, 2));
          if (left > 3) store<i8>(p + 3, i8x16.extract_lane_s(bytes, 3));
          if (left > 4) store<i8>(p + 4, i8x16.extract_lane_s(bytes, 4));
          if (left > 5) store<i8>(p + 5, i8x16.extract_lane_s(bytes, 5));
          if (left > 6) store<i8>(p + 6, i8x16.extract_lane_s(bytes, 6));
        }
      }
    }
  }
}

/** conv_i8's contract (same arguments) for kernels whose rows hold few inputs. */
export function conv_small_i8(x: usize, w: usize, bias: usize, mult: usize, y: usize, HP: i32, WP: i32, C: i32,
  OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, zpIn: i32, zpOut: i32, lo: i32, hi: i32,
  pool: i32, PH: i32, PW: i32, PKH: i32, PKW: i32, PSH: i32, PSW: i32, PPT: i32, PPL: i32, reluFirst: i32): void {
  // The compiler picks this kernel for simd targets only; scalar builds use conv_i8 for every conv.
  if (ASC_FEATURE_SIMD) {
    convSmallSimd(x, w, bias, mult, y, WP, C, OH, OW, OC, KH, KW, SH, SW, zpIn, zpOut, lo, hi, pool, PH, PW, PKH, PKW, PSH, PSW, PPT, PPL, reluFirst);
  } else {
    unreachable();
  }
}
