// Int8 conv kernel (AssemblyScript) for short kernel rows (KW·C ≤ 5, e.g. a first layer on 1–3 channels).
// The dot-product kernel (conv-i8.ts) pads every kernel row to 8 inputs and pays a horizontal reduction per
// 4 channels; here taps are taken two at a time: one input pair (xa, xb) is splat into all four i32 lanes and
// i32x4.dot_i16x8_s multiplies it into 4 output channels at once, with no reduction. Weights
// (compiler/codegen/conv-int8.ts packConvWeightsSmall): per group of 8 output channels, per kernel row, per
// tap pair, two 8-byte halves (channels 0–3, 4–7), each [w(a,o), w(b,o)] per channel; an odd row's last pair
// has a zero second tap, so the input it over-reads multiplies by 0. The input is first widened once to i16
// x − zp (a scratch buffer), so each input pair is one 32-bit splat load. Same integer sums as conv-i8.
// SIMD only: without SIMD there is no broadcast advantage, and scalar builds keep the one conv_i8 kernel.
// The window walk is written out for the fused pool, as in every kernel that has one (why: common.ts).
import { requant4, storeFirstBytes } from "./common";

/** The widened input pair at p (two i16), repeated in every i32 lane. */
@inline function pairAt(p: usize): v128 {
  return v128.load32_splat(p);
}

/** xw[i] = x[i] − zp as i16 for n inputs, 8 at a time (xw holds n rounded up to 8). */
function widen(x: usize, xw: usize, n: i32, zp: v128): void {
  for (let i: usize = 0; i < <usize>n; i += 8) v128.store(xw + (i << 1), i16x8.sub(v128.load8x8_s(x + i), zp));
}

/** Requantizes one 8-channel group and stores the OC − o ≥ 1 channels it holds. */
@inline function store8(p: usize, r0: v128, r1: v128, m0: v128, m1: v128, vZp: v128, vLo: v128, vHi: v128, left: i32): void {
  const q16 = i16x8.narrow_i32x4_s(requant4(r0, m0, vZp, vLo, vHi), requant4(r1, m1, vZp, vLo, vHi));
  const bytes = i8x16.narrow_i16x8_s(q16, q16);
  if (left >= 8) {
    v128.store64_lane(p, bytes, 0);
  } else {
    storeFirstBytes(p, bytes, left);
  }
}

function convSmallSimd(x8: usize, xw: usize, w: usize, bias: usize, mult: usize, y: usize, HP: i32, WP: i32, C: i32, OH: i32, OW: i32, OC: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, zpIn: i32, zpOut: i32, lo: i32, hi: i32, pool: i32, PH: i32, PW: i32,
  PKH: i32, PKW: i32, PSH: i32, PSW: i32, PPT: i32, PPL: i32, reluFirst: i32): void {
  const pairs = (KW * C + 1) >> 1;
  const gBytes = <usize>(KH * pairs) << 4;
  const groups = (OC + 7) >> 3;
  widen(x8, xw, HP * WP * C, i16x8.splat(<i16>zpIn));
  // From here on offsets count i16 inputs: every byte offset below is doubled.
  const x = xw;
  const vLo = i32x4.splat(lo - zpOut), vHi = i32x4.splat(hi - zpOut), vZp = i32x4.splat(zpOut), zero = i32x4.splat(0);
  // Without a pool the window is the single conv position (the compiler passes a 1×1 window), taken as a max.
  const isMax = pool != 2;
  // A 2×2/2 max pool without padding: the four conv positions under a window share every weight load.
  const quad = pool == 1 && PKH == 2 && PKW == 2 && PSH == 2 && PSW == 2 && PPT == 0 && PPL == 0;
  // Every window whole (shapes are constants the optimiser propagates): the general path below folds away.
  const allQuads = quad && 2 * PH <= OH && 2 * PW <= OW;
  const dy = <usize>(SH * WP * C) << 1, dx = <usize>(SW * C) << 1, rowStep = <usize>(WP * C) << 1;
  for (let py = 0; py < PH; py++) {
    for (let px = 0; px < PW; px++) {
      const out = y + <usize>((py * PW + px) * OC);
      const full = allQuads || (quad && 2 * py + 1 < OH && 2 * px + 1 < OW);
      for (let g = 0; g < groups; g++) {
        const wg = w + <usize>g * gBytes;
        const b0 = v128.load(bias + (<usize>g << 5)), b1 = v128.load(bias + (<usize>g << 5), 16);
        let m0 = v128.load(mult + (<usize>g << 5)), m1 = v128.load(mult + (<usize>g << 5), 16);
        let r0: v128, r1: v128;
        if (full) {
          let a0 = b0, a1 = b1, c0 = b0, c1 = b1, d0 = b0, d1 = b1, e0 = b0, e1 = b1;
          let wp = wg;
          let xr = x + (<usize>((2 * py * SH * WP + 2 * px * SW) * C) << 1);
          for (let ky = 0; ky < KH; ky++) {
            let xp = xr;
            for (let t = 0; t < pairs; t++) {
              const w0 = v128.load8x8_s(wp), w1 = v128.load8x8_s(wp, 8);
              let xv = pairAt(xp);
              a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xv, w0)); a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xv, w1));
              xv = pairAt(xp + dx);
              c0 = i32x4.add(c0, i32x4.dot_i16x8_s(xv, w0)); c1 = i32x4.add(c1, i32x4.dot_i16x8_s(xv, w1));
              xv = pairAt(xp + dy);
              d0 = i32x4.add(d0, i32x4.dot_i16x8_s(xv, w0)); d1 = i32x4.add(d1, i32x4.dot_i16x8_s(xv, w1));
              xv = pairAt(xp + dy + dx);
              e0 = i32x4.add(e0, i32x4.dot_i16x8_s(xv, w0)); e1 = i32x4.add(e1, i32x4.dot_i16x8_s(xv, w1));
              xp += 4;
              wp += 16;
            }
            xr += rowStep;
          }
          r0 = i32x4.max_s(i32x4.max_s(a0, c0), i32x4.max_s(d0, e0));
          r1 = i32x4.max_s(i32x4.max_s(a1, c1), i32x4.max_s(d1, e1));
        } else {
          r0 = isMax ? i32x4.splat(i32.MIN_VALUE) : zero;
          r1 = r0;
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
                let xp = x + (<usize>(((cy * SH + ky) * WP + cx * SW) * C) << 1);
                for (let t = 0; t < pairs; t++) {
                  const xv = pairAt(xp);
                  a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp)));
                  a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xv, v128.load8x8_s(wp, 8)));
                  xp += 4;
                  wp += 16;
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
        }
        const o = g << 3;
        // A whole group when OC is a multiple of 8: a constant condition, so the partial store folds away.
        store8(out + <usize>o, r0, r1, m0, m1, vZp, vLo, vHi, (OC & 7) == 0 ? 8 : OC - o);
      }
    }
  }
}

/** conv_i8's contract for kernels whose rows hold few inputs, plus xw: scratch for HP·WP·C (rounded up to 8) i16. */
export function conv_small_i8(x: usize, xw: usize, w: usize, bias: usize, mult: usize, y: usize, HP: i32, WP: i32, C: i32,
  OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, zpIn: i32, zpOut: i32, lo: i32, hi: i32,
  pool: i32, PH: i32, PW: i32, PKH: i32, PKW: i32, PSH: i32, PSW: i32, PPT: i32, PPL: i32, reluFirst: i32): void {
  // The compiler picks this kernel for simd targets only; scalar builds use conv_i8 for every conv.
  if (ASC_FEATURE_SIMD) {
    convSmallSimd(x, xw, w, bias, mult, y, HP, WP, C, OH, OW, OC, KH, KW, SH, SW, zpIn, zpOut, lo, hi, pool, PH, PW, PKH, PKW, PSH, PSW, PPT, PPL, reluFirst);
  } else {
    unreachable();
  }
}
