// Int8 dense kernel (AssemblyScript) for the scalar target: what microcontroller interpreters run, where every executed
// WebAssembly instruction costs ~10–20 cycles. Four output channels at a time share each input load, and four
// inputs per loop step share the loop's bookkeeping; every weight load uses a constant offset from one pointer.
// Weights (compiler/codegen/dense-int8.ts packDenseWeightsScalar): per group of 4 output channels, per 4 inputs
// (C padded to 4 with zero weights): 16 bytes, [input][channel]. The input zero point is folded into the bias.
import { requantMagic, roundingBitsLessZp } from "./common";

/** Requantizes channel o's sum (plus its bias) into y[o]; fLo, fHi, bits: requantMagic's (common.ts). */
@inline function storeChannel(y: usize, o: i32, acc: i32, bias: usize, mult: usize, fLo: f32, fHi: f32, bits: i32): void {
  const at = <usize>o << 2;
  store<i8>(y + <usize>o, <i8>requantMagic(acc + load<i32>(bias + at), load<f32>(mult + at), fLo, fHi, bits));
}

/**
 * dense_i8's contract (conv-i8.ts) with the scalar layout. The inputs of each step are loaded at the end of the step
 * before (why: conv-scalar-i8.ts accumulate8), so the last step reads up to 7 bytes past C, inside the slack every
 * arena buffer has (compiler/codegen/layout.ts OVERREAD_SLACK); the padded inputs' weights are 0 and the look-ahead's
 * values go unused.
 */
export function dense_scalar_i8(x: usize, w: usize, bias: usize, mult: usize, y: usize, C: i32, OC: i32,
  zpOut: i32, lo: i32, hi: i32): void {
  const xEnd = x + <usize>((C + 3) & ~3);
  const fLo = <f32>(lo - zpOut), fHi = <f32>(hi - zpOut), bits = roundingBitsLessZp(zpOut);
  let wp = w;
  for (let o = 0; o < OC; o += 4) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let xp = x;
    let v0 = <i32>load<i8>(xp), v1 = <i32>load<i8>(xp, 1), v2 = <i32>load<i8>(xp, 2), v3 = <i32>load<i8>(xp, 3);
    do {
      a0 += v0 * <i32>load<i8>(wp) + v1 * <i32>load<i8>(wp, 4) + v2 * <i32>load<i8>(wp, 8) + v3 * <i32>load<i8>(wp, 12);
      a1 += v0 * <i32>load<i8>(wp, 1) + v1 * <i32>load<i8>(wp, 5) + v2 * <i32>load<i8>(wp, 9) + v3 * <i32>load<i8>(wp, 13);
      a2 += v0 * <i32>load<i8>(wp, 2) + v1 * <i32>load<i8>(wp, 6) + v2 * <i32>load<i8>(wp, 10) + v3 * <i32>load<i8>(wp, 14);
      a3 += v0 * <i32>load<i8>(wp, 3) + v1 * <i32>load<i8>(wp, 7) + v2 * <i32>load<i8>(wp, 11) + v3 * <i32>load<i8>(wp, 15);
      xp += 4;
      wp += 16;
      v0 = <i32>load<i8>(xp); v1 = <i32>load<i8>(xp, 1); v2 = <i32>load<i8>(xp, 2); v3 = <i32>load<i8>(xp, 3);
    } while (xp < xEnd);
    storeChannel(y, o, a0, bias, mult, fLo, fHi, bits);
    if (o + 1 < OC) storeChannel(y, o + 1, a1, bias, mult, fLo, fHi, bits);
    if (o + 2 < OC) storeChannel(y, o + 2, a2, bias, mult, fLo, fHi, bits);
    if (o + 3 < OC) storeChannel(y, o + 3, a3, bias, mult, fLo, fHi, bits);
  }
}
