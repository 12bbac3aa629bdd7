// Int8 conv kernel for the 3-channel stride-2 3×3 stem, MobileNet's first layer (AssemblyScript, SIMD only).
// A window row is 9 contiguous bytes (3 columns × 3 channels) of the padded input; it is taken as 5 input pairs,
// bytes (0,1) (2,3) (4,5) (6,7) (8,9), byte 9 being the next column's (its weight is 0). Each pair is splat into
// every i32 lane as two i16 and i32x4.dot_i16x8_s multiplies it into 4 output channels at once, as in
// conv-pw-i8.ts: two pixels × 16 output channels share every weight load (8 accumulators), 15 pairs a pixel.
// conv_i8 instead pads each 9-byte row to 16 lanes and reduces horizontally per channel. Weights
// (compiler/codegen/conv-stem-int8.ts): per block of 16 output channels, per pair (row-major), 16 × [w(a, o),
// w(b, o)] int8 (zero past OC and for byte 9), widened to i16 on the first call into a persistent arena buffer
// (the blob keeps int8). The input arrives VALID-padded (pad_i8) and is widened to i16 once per call, so in the
// inner loop an input pair is one 32-bit splat load and a weight vector one plain load (no sign-extending
// shuffles: 1.3× faster than widening in the loop, as in conv-pw-i8.ts). The compiler folded
// −zp·Σw into the bias, so the integer sums are conv_i8's and the reference's. Requantization: requant-magic.ts.
import { MAGIC_BITS } from "./common";
import { requantStore16 } from "./requant-magic";

/** Widens the int8 weights to i16 into `wide` after its 16-byte "done" flag, on the first call only. */
function widenWeights(w8: usize, wide: usize, bytes: i32): void {
  if (load<i32>(wide) != 0) return;
  for (let i: usize = 0; i < <usize>bytes; i += 8) v128.store(wide + 16 + (i << 1), v128.load8x8_s(w8 + i));
  store<i32>(wide, 1);
}

function convStemSimd(x8: usize, xw: usize, w8: usize, wide: usize, bias: usize, mult: usize, y: usize, HP: i32, WP: i32, OH: i32, OW: i32,
  OC: i32, zpOut: i32, lo: i32, hi: i32): void {
  widenWeights(w8, wide, ((OC + 15) >> 4) * 480);
  const w = wide + 16;
  // The padded input widened to i16 once: an input pair is then one 32-bit splat load. From here on, input offsets
  // count i16 values: every byte offset is doubled.
  const n = <usize>(HP * WP * 3);
  for (let i: usize = 0; i < n; i += 8) v128.store(xw + (i << 1), v128.load8x8_s(x8 + i));
  const x = xw;
  const rowBytes = <usize>(WP * 3) << 1, oc = <usize>OC;
  const vLo = f32x4.splat(<f32>(lo - zpOut)), vHi = f32x4.splat(<f32>(hi - zpOut));
  const magic = f32x4.splat(12582912.0), bitsLessZp = i32x4.splat(MAGIC_BITS - zpOut);
  for (let o = 0; o < OC; o += 16) {
    const wb = w + <usize>(o >> 4) * 960, bb = bias + (<usize>o << 2), mb = mult + (<usize>o << 2);
    const b0 = v128.load(bb), b1 = v128.load(bb, 16), b2 = v128.load(bb, 32), b3 = v128.load(bb, 48);
    const left = OC - o;
    for (let oy = 0; oy < OH; oy++) {
      const row = x + <usize>(2 * oy) * rowBytes;
      let out = y + <usize>(oy * OW) * oc + <usize>o;
      for (let ox = 0; ox < OW; ox += 2) {
        // An odd last pixel is paired with itself; only one copy is stored.
        const second = ox + 1 < OW;
        const xa = row + <usize>(ox * 12), xb = second ? xa + 12 : xa;
        let a0 = b0, a1 = b1, a2 = b2, a3 = b3, c0 = b0, c1 = b1, c2 = b2, c3 = b3;
        let wp = wb;
        for (let ky: usize = 0; ky < 3; ky++) {
          const ra = xa + ky * rowBytes, rb = xb + ky * rowBytes;
          for (let t: usize = 0; t < 20; t += 4) {
            const sa = v128.load32_splat(ra + t), sb = v128.load32_splat(rb + t);
            const w0 = v128.load(wp), w1 = v128.load(wp, 16), w2 = v128.load(wp, 32), w3 = v128.load(wp, 48);
            a0 = i32x4.add(a0, i32x4.dot_i16x8_s(sa, w0)); c0 = i32x4.add(c0, i32x4.dot_i16x8_s(sb, w0));
            a1 = i32x4.add(a1, i32x4.dot_i16x8_s(sa, w1)); c1 = i32x4.add(c1, i32x4.dot_i16x8_s(sb, w1));
            a2 = i32x4.add(a2, i32x4.dot_i16x8_s(sa, w2)); c2 = i32x4.add(c2, i32x4.dot_i16x8_s(sb, w2));
            a3 = i32x4.add(a3, i32x4.dot_i16x8_s(sa, w3)); c3 = i32x4.add(c3, i32x4.dot_i16x8_s(sb, w3));
            wp += 64;
          }
        }
        requantStore16(out, a0, a1, a2, a3, mb, vLo, vHi, magic, bitsLessZp, left);
        if (second) requantStore16(out + oc, c0, c1, c2, c3, mb, vLo, vHi, magic, bitsLessZp, left);
        out += oc << 1;
      }
    }
  }
}

/**
 * One 3×3 stride-2 conv on a VALID-padded HP×WP input of 3 channels; output OH×OW×OC. xw: scratch for the input
 * widened to i16 (2·HP·WP·3 bytes rounded up to 16, + slack); wide: the persistent buffer of the widened weights.
 */
export function conv_stem_i8(x: usize, xw: usize, w: usize, wide: usize, bias: usize, mult: usize, y: usize, HP: i32, WP: i32, OH: i32, OW: i32,
  OC: i32, zpOut: i32, lo: i32, hi: i32): void {
  // The compiler picks this kernel for simd targets only; scalar builds use conv_i8.
  if (ASC_FEATURE_SIMD) {
    convStemSimd(x, xw, w, wide, bias, mult, y, HP, WP, OH, OW, OC, zpOut, lo, hi);
  } else {
    unreachable();
  }
}
