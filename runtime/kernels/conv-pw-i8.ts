// Int8 pointwise (1×1, stride 1, unpadded) conv (AssemblyScript, SIMD only): a [P×C]·[C×OC] product with no
// horizontal sums. Each input pair (x_c, x_c+1) of a pixel is splat into every i32 lane and i32x4.dot_i16x8_s
// multiplies it into 4 output channels; two pixels × 16 channels share every weight load. Weights
// (compiler/codegen/conv-pw-int8.ts): per block of 16 output channels, per input pair, 16 × [w(c,o), w(c+1,o)]
// int8 (zero past C and OC). The input zero point is folded into the bias at compile time, as for conv_i8, so the
// integer sums are conv_i8's and the reference's.
import { requant4, storeFirstBytes } from "./common";

/** Requantizes 16 channels of one pixel and stores the first min(16, left) of them. */
function store16(p: usize, a0: v128, a1: v128, a2: v128, a3: v128, mult: usize, vZp: v128, vLo: v128, vHi: v128, left: i32): void {
  const lo = i16x8.narrow_i32x4_s(requant4(a0, v128.load(mult), vZp, vLo, vHi), requant4(a1, v128.load(mult, 16), vZp, vLo, vHi));
  const hi = i16x8.narrow_i32x4_s(requant4(a2, v128.load(mult, 32), vZp, vLo, vHi), requant4(a3, v128.load(mult, 48), vZp, vLo, vHi));
  const bytes = i8x16.narrow_i16x8_s(lo, hi);
  if (left >= 16) {
    v128.store(p, bytes);
  } else {
    storeFirstBytes(p, bytes, left);
  }
}

function convPwSimd(x: usize, w: usize, bias: usize, mult: usize, y: usize, P: i32, C: i32, OC: i32,
  zpOut: i32, lo: i32, hi: i32): void {
  const pairs = (C + 1) >> 1;
  const blockBytes = <usize>pairs << 5;
  const vLo = i32x4.splat(lo - zpOut), vHi = i32x4.splat(hi - zpOut), vZp = i32x4.splat(zpOut);
  for (let o = 0; o < OC; o += 16) {
    const wb = w + <usize>(o >> 4) * blockBytes, bb = bias + (<usize>o << 2), mb = mult + (<usize>o << 2);
    const b0 = v128.load(bb), b1 = v128.load(bb, 16), b2 = v128.load(bb, 32), b3 = v128.load(bb, 48);
    for (let p = 0; p < P; p += 2) {
      // An odd last pixel is paired with itself; only one copy is stored.
      const second = p + 1 < P;
      const xa = x + <usize>(p * C), xb = second ? xa + <usize>C : xa;
      let a0 = b0, a1 = b1, a2 = b2, a3 = b3, c0 = b0, c1 = b1, c2 = b2, c3 = b3;
      let wp = wb;
      for (let t: usize = 0; t < <usize>pairs; t++) {
        const sa = i16x8.extend_low_i8x16_s(v128.load16_splat(xa + (t << 1)));
        const sb = i16x8.extend_low_i8x16_s(v128.load16_splat(xb + (t << 1)));
        const w0 = v128.load8x8_s(wp), w1 = v128.load8x8_s(wp, 8), w2 = v128.load8x8_s(wp, 16), w3 = v128.load8x8_s(wp, 24);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(sa, w0)); c0 = i32x4.add(c0, i32x4.dot_i16x8_s(sb, w0));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(sa, w1)); c1 = i32x4.add(c1, i32x4.dot_i16x8_s(sb, w1));
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(sa, w2)); c2 = i32x4.add(c2, i32x4.dot_i16x8_s(sb, w2));
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(sa, w3)); c3 = i32x4.add(c3, i32x4.dot_i16x8_s(sb, w3));
        wp += 32;
      }
      const out = y + <usize>(p * OC + o), left = OC - o;
      store16(out, a0, a1, a2, a3, mb, vZp, vLo, vHi, left);
      if (second) store16(out + <usize>OC, c0, c1, c2, c3, mb, vZp, vLo, vHi, left);
    }
  }
}

/** One 1×1 stride-1 conv over P pixels of C channels. */
export function conv_pw_i8(x: usize, w: usize, bias: usize, mult: usize, y: usize, P: i32, C: i32, OC: i32,
  zpOut: i32, lo: i32, hi: i32): void {
  // The compiler picks this kernel for simd targets only; scalar builds use conv_i8.
  if (ASC_FEATURE_SIMD) {
    convPwSimd(x, w, bias, mult, y, P, C, OC, zpOut, lo, hi);
  } else {
    unreachable();
  }
}
