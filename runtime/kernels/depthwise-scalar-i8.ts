// Int8 depthwise kernel (AssemblyScript) for the scalar target, depth multiplier 1 (MobileNets): two output pixels
// per i64 multiply, as conv_scalar_i8 (conv-scalar-i8.ts, which explains the pairs and their exact range; a
// depthwise window has only KH·KW taps). Four channels per pass: at each tap their four input pairs sit side by side
// (constant offsets from one pointer), as do their four weights. Weights (compiler/codegen/depthwise-scalar-int8.ts):
// per group of 4 channels, per tap (ky, kx): 4 int8, zero beyond C. The input zero point is folded into the bias.
import { roundingBitsLessZp } from "./common";
import { storePair } from "./conv-scalar-i8";
import { bandBegin, bandRows } from "./pair-band";

/**
 * One depthwise layer (depth multiplier 1) on the H×W×C input x, padded (PT rows on top, PL columns on the left,
 * with zpIn) to rows of WP pixels as it is widened (pair-band.ts); output OH×OW×C. buf: rowBufBytes(WP·C, SW·C)
 * bytes; xq: KH pair rows and 4 spare pairs (the last group's channels past C read up to 3 pairs past the last row;
 * their weights are 0).
 */
export function depthwise_scalar_i8(x: usize, buf: usize, xq: usize, w: usize, bias: usize, mult: usize, y: usize, H: i32, W: i32, C: i32,
  PT: i32, PL: i32, WP: i32, OH: i32, OW: i32, KH: i32, KW: i32, SH: i32, SW: i32, zpIn: i32, zpOut: i32, lo: i32, hi: i32): void {
  bandBegin(x, buf, xq, H, W, C, PT, PL, WP, SW * C, zpIn);
  const fLo = <f32>(lo - zpOut), fHi = <f32>(hi - zpOut), bits = roundingBitsLessZp(zpOut);
  const groups = (C + 3) >> 2;
  const tapStep = <usize>C << 3, rowStep = <usize>(WP * C) << 3, rowBytes = <usize>KW * tapStep;
  const gBytes = <usize>(KH * KW) << 2;
  for (let oy = 0; oy < OH; oy++) {
    const band = bandRows(oy * SH, oy * SH + KH);
    for (let ox = 0; ox < OW; ox += 2) {
      const two = ox + 1 < OW;
      const xr = band + (<usize>(ox * SW * C) << 3);
      const out = y + <usize>((oy * OW + ox) * C);
      for (let g = 0; g < groups; g++) {
        let a0: i64 = 0, a1: i64 = 0, a2: i64 = 0, a3: i64 = 0;
        let wp = w + <usize>g * gBytes, row = xr + (<usize>g << 5);
        for (let ky = 0; ky < KH; ky++) {
          let xp = row;
          const end = row + rowBytes;
          do {
            a0 += load<i64>(xp) * i64.load8_s(wp);
            a1 += load<i64>(xp, 8) * i64.load8_s(wp, 1);
            a2 += load<i64>(xp, 16) * i64.load8_s(wp, 2);
            a3 += load<i64>(xp, 24) * i64.load8_s(wp, 3);
            xp += tapStep;
            wp += 4;
          } while (xp < end);
          row += rowStep;
        }
        const o = g << 2;
        storePair(out, o, a0, two, bias, mult, C, fLo, fHi, bits);
        if (o + 1 < C) storePair(out, o + 1, a1, two, bias, mult, C, fLo, fHi, bits);
        if (o + 2 < C) storePair(out, o + 2, a2, two, bias, mult, C, fLo, fHi, bits);
        if (o + 3 < C) storePair(out, o + 3, a3, two, bias, mult, C, fLo, fHi, bits);
      }
    }
  }
}
