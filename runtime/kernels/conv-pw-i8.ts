// Int8 pointwise (1×1, stride 1, unpadded) conv (AssemblyScript, SIMD only): a [P×C]·[C×OC] product with no
// horizontal sums. Each input pair (x_c, x_c+1) of a pixel is splat into every i32 lane and i32x4.dot_i16x8_s
// multiplies it into 4 output channels; two pixels × 16 channels share every weight load. Weights
// (compiler/codegen/conv-pw-int8.ts): per block of 16 output channels, per input pair, 16 × [w(c,o), w(c+1,o)]
// int8 (zero past C and OC), widened to i16 on the first call into a persistent arena buffer (the blob stays int8).
// Pixel pairs are the outer loop: their inputs are widened to i16 once into scratch, so in the inner loop an input
// pair is one 32-bit splat load and a weight vector one plain load — no sign-extending shuffles there, which made
// the mobilenet-96 pointwise layers 1.3–1.4× faster. The input zero point is folded into the bias at compile time,
// as for conv_i8, so the integer sums are conv_i8's and the reference's. Requantization: requant-magic.ts.
import { MAGIC_BITS } from "./common";
import { requantStore16 } from "./requant-magic";

/** Widens the int8 weights to i16 into `wide` after its 16-byte "done" flag, on the first call only. */
function widenWeights(w8: usize, wide: usize, bytes: i32): void {
  if (load<i32>(wide) != 0) return;
  for (let i: usize = 0; i < <usize>bytes; i += 8) v128.store(wide + 16 + (i << 1), v128.load8x8_s(w8 + i));
  store<i32>(wide, 1);
}

function convPwSimd(x: usize, xw: usize, w8: usize, wide: usize, bias: usize, mult: usize, y: usize, P: i32, C: i32, OC: i32,
  zpOut: i32, lo: i32, hi: i32): void {
  const pairs = (C + 1) >> 1;
  const blockBytes = <usize>pairs << 6;
  widenWeights(w8, wide, ((OC + 15) >> 4) * pairs * 32);
  const w = wide + 16;
  const vLo = f32x4.splat(<f32>(lo - zpOut)), vHi = f32x4.splat(<f32>(hi - zpOut));
  const magic = f32x4.splat(12582912.0), bitsLessZp = i32x4.splat(MAGIC_BITS - zpOut);
  // Each pixel pair's inputs are widened to i16 once (xw: 2 pixels × C rounded up to 8, as i16), then every
  // output block reads its input pairs as one 32-bit splat load, and its weights (i16 already) as plain loads.
  const rowI16 = <usize>((C + 7) & ~7) << 1;
  for (let p = 0; p < P; p += 2) {
    // An odd last pixel is paired with itself; only one copy is stored.
    const second = p + 1 < P;
    const xa = x + <usize>(p * C), xb = second ? xa + <usize>C : xa;
    for (let i: usize = 0; i < <usize>C; i += 8) {
      v128.store(xw + (i << 1), v128.load8x8_s(xa + i));
      v128.store(xw + rowI16 + (i << 1), v128.load8x8_s(xb + i));
    }
    for (let o = 0; o < OC; o += 16) {
      const bb = bias + (<usize>o << 2);
      let a0 = v128.load(bb), a1 = v128.load(bb, 16), a2 = v128.load(bb, 32), a3 = v128.load(bb, 48);
      let c0 = a0, c1 = a1, c2 = a2, c3 = a3;
      let wp = w + <usize>(o >> 4) * blockBytes;
      for (let t: usize = 0; t < <usize>pairs; t++) {
        const sa = v128.load32_splat(xw + (t << 2)), sb = v128.load32_splat(xw + rowI16 + (t << 2));
        const w0 = v128.load(wp), w1 = v128.load(wp, 16), w2 = v128.load(wp, 32), w3 = v128.load(wp, 48);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(sa, w0)); c0 = i32x4.add(c0, i32x4.dot_i16x8_s(sb, w0));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(sa, w1)); c1 = i32x4.add(c1, i32x4.dot_i16x8_s(sb, w1));
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(sa, w2)); c2 = i32x4.add(c2, i32x4.dot_i16x8_s(sb, w2));
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(sa, w3)); c3 = i32x4.add(c3, i32x4.dot_i16x8_s(sb, w3));
        wp += 64;
      }
      const out = y + <usize>(p * OC + o), left = OC - o, mb = mult + (<usize>o << 2);
      requantStore16(out, a0, a1, a2, a3, mb, vLo, vHi, magic, bitsLessZp, left);
      if (second) requantStore16(out + <usize>OC, c0, c1, c2, c3, mb, vLo, vHi, magic, bitsLessZp, left);
    }
  }
}

/** One 1×1 stride-1 conv over P pixels of C channels. */
export function conv_pw_i8(x: usize, xw: usize, w: usize, wide: usize, bias: usize, mult: usize, y: usize, P: i32, C: i32, OC: i32,
  zpOut: i32, lo: i32, hi: i32): void {
  // The compiler picks this kernel for simd targets only; scalar builds use conv_i8.
  if (ASC_FEATURE_SIMD) {
    convPwSimd(x, xw, w, wide, bias, mult, y, P, C, OC, zpOut, lo, hi);
  } else {
    unreachable();
  }
}
