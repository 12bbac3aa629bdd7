// Int8 conv kernel (AssemblyScript) for the scalar target: what microcontroller interpreters run, where every
// executed WebAssembly instruction costs ~10–20 cycles, so it takes two MACs per multiply and few instructions per tap:
// each step takes 2 taps × 4 output channels × 2 pixel pairs (two rows) = 32 MACs in 16 multiplies, each weight
// loaded once for both rows.
// The padded input is widened into i64 "pairs", a band of rows at a time (pair-band.ts): at each position the input,
// and 32 bits up the input SW·C further on, i.e. the same tap of the output pixel to the right. One i64.mul by a
// weight then gives both pixels' products and one i64.add accumulates both: the sum is L + R·2^32 (mod 2^64), L and
// R the two pixels' Σ x·w, and as long as |L| < 2^31 its low word is L and what is left above it is R (mod 2^32, as
// i32 sums wrap).
// |L| ≤ taps·128·127, so the compiler picks this kernel up to MAX_PAIR_TAPS taps (conv-scalar-int8.ts).
// Weights (compiler/codegen/conv-scalar-int8.ts packConvWeightsScalar): per group of 4 output channels, per kernel
// row, per tap (the row's KW·C taps padded to even with zeros): 4 bytes, one per channel. The input zero point is
// folded into the bias (as in conv-i8.ts), which is added after the sums are split, exactly as conv_i8 adds it.
// The window walk is written out for the fused pool, as in every kernel that has one (why: common.ts).
import { requantMagic, roundingBitsLessZp } from "./common";
import { bandBegin, bandRows } from "./pair-band";

/** The left pixel's sum in a pair accumulator. */
@inline function leftOf(a: i64): i32 {
  return <i32>a;
}

/** The right pixel's sum: what is above the left's sign-extended low word. */
@inline function rightOf(a: i64): i32 {
  return <i32>((a - <i64><i32>a) >> 32);
}

// The rest of the last accumulate8 (channel 0 of the first pair row is its result): sum1–sum3 channels 1–3 of the
// first pair row, sum4–sum7 channels 0–3 of the second. One accumulation loop, inlined on both paths.
let sum1: i64 = 0, sum2: i64 = 0, sum3: i64 = 0, sum4: i64 = 0, sum5: i64 = 0, sum6: i64 = 0, sum7: i64 = 0;

/**
 * Pair sums of 4 output channels at two pixel pairs: the one whose window starts at pair address xr and the one
 * dRow further on (the next output row, or the next conv row of a pool window), so that each weight load serves
 * both; dRow 0 when there is no second row (it then repeats the first). Each kernel row reads rowBytes of pairs, two
 * taps per step, and the next kernel row starts rowStep further on.
 */
@inline function accumulate8(xr: usize, dRow: usize, wg: usize, KH: i32, rowBytes: usize, rowStep: usize): i64 {
  let a0: i64 = 0, a1: i64 = 0, a2: i64 = 0, a3: i64 = 0, b0: i64 = 0, b1: i64 = 0, b2: i64 = 0, b3: i64 = 0;
  // Every operand is loaded one step ahead, at the end of the step before (why: a value loaded into a local in the
  // step that uses it comes out of Binaryen as local.tee, one more interpreted instruction; a load into a local that
  // is read only after the loop's back edge stays local.set, which WAMR's fast interpreter folds into the load).
  // So the last step of a row reads one step (two pairs, 8 weight bytes) past it: the scratch has room for that.
  let wp = wg, row = xr;
  let k0 = i64.load8_s(wp), k1 = i64.load8_s(wp, 1), k2 = i64.load8_s(wp, 2), k3 = i64.load8_s(wp, 3);
  let k4 = i64.load8_s(wp, 4), k5 = i64.load8_s(wp, 5), k6 = i64.load8_s(wp, 6), k7 = i64.load8_s(wp, 7);
  for (let ky = 0; ky < KH; ky++) {
    let xp = row, xb = row + dRow;
    const end = row + rowBytes;
    let u = load<i64>(xp), v = load<i64>(xp, 8), s = load<i64>(xb), t = load<i64>(xb, 8);
    do {
      a0 += u * k0 + v * k4; b0 += s * k0 + t * k4;
      a1 += u * k1 + v * k5; b1 += s * k1 + t * k5;
      a2 += u * k2 + v * k6; b2 += s * k2 + t * k6;
      a3 += u * k3 + v * k7; b3 += s * k3 + t * k7;
      xp += 16;
      xb += 16;
      wp += 8;
      u = load<i64>(xp); v = load<i64>(xp, 8); s = load<i64>(xb); t = load<i64>(xb, 8);
      k0 = i64.load8_s(wp); k1 = i64.load8_s(wp, 1); k2 = i64.load8_s(wp, 2); k3 = i64.load8_s(wp, 3);
      k4 = i64.load8_s(wp, 4); k5 = i64.load8_s(wp, 5); k6 = i64.load8_s(wp, 6); k7 = i64.load8_s(wp, 7);
    } while (xp < end);
    row += rowStep;
  }
  sum1 = a1; sum2 = a2; sum3 = a3;
  sum4 = b0; sum5 = b1; sum6 = b2; sum7 = b3;
  return a0;
}

/**
 * Requantizes channel o of the left pixel (at out) and, if `two`, of the right one (OC bytes further).
 * fLo, fHi, bits: requantMagic's loLessZp, hiLessZp, bitsLessZp (common.ts).
 */
@inline export function storePair(out: usize, o: i32, a: i64, two: bool, bias: usize, mult: usize, OC: i32, fLo: f32, fHi: f32, bits: i32): void {
  const b = load<i32>(bias + (<usize>o << 2)), m = load<f32>(mult + (<usize>o << 2));
  const at = out + <usize>o;
  store<i8>(at, <i8>requantMagic(leftOf(a) + b, m, fLo, fHi, bits));
  if (two) store<i8>(at + <usize>OC, <i8>requantMagic(rightOf(a) + b, m, fLo, fHi, bits));
}

/** One (or, if `two`, both) conv sums of a pair folded into a pool window's max or (relu'd) sum. */
@inline function fold(r: i32, a: i64, two: bool, b: i32, isMax: bool, reluFirst: i32): i32 {
  const left = leftOf(a) + b;
  let s = isMax ? max(r, left) : r + (reluFirst ? max(left, 0) : left);
  if (two) {
    const right = rightOf(a) + b;
    s = isMax ? max(s, right) : s + (reluFirst ? max(right, 0) : right);
  }
  return s;
}

/** Requantizes a pool window's result for channel o < OC (an avg window's multiplier divided by its count). */
@inline function storePooled(out: usize, o: i32, r: i32, count: i32, isMax: bool, mult: usize, OC: i32, fLo: f32, fHi: f32, bits: i32): void {
  if (o >= OC) return;
  let m = load<f32>(mult + (<usize>o << 2));
  if (!isMax) m = m / <f32>count;
  store<i8>(out + <usize>o, <i8>requantMagic(r, m, fLo, fHi, bits));
}

/**
 * conv_i8's contract (conv-i8.ts), except that x is the unpadded H×W×C input, padded (PT rows on top, PL columns on
 * the left, with zpIn) to rows of WP pixels as it is widened: buf, rowBufBytes(WP·C, SW·C) bytes for a padded row;
 * xq, the band of pair rows (conv-scalar-int8.ts sizes it: the most rows one pass reads, then 4 spare pairs).
 */
export function conv_scalar_i8(x: usize, buf: usize, xq: usize, w: usize, bias: usize, mult: usize, y: usize, H: i32, W: i32, C: i32,
  PT: i32, PL: i32, WP: i32, OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, zpIn: i32, zpOut: i32, lo: i32, hi: i32,
  pool: i32, PH: i32, PW: i32, PKH: i32, PKW: i32, PSH: i32, PSW: i32, PPT: i32, PPL: i32, reluFirst: i32): void {
  bandBegin(x, buf, xq, H, W, C, PT, PL, WP, SW * C, zpIn);
  const fLo = <f32>(lo - zpOut), fHi = <f32>(hi - zpOut), bits = roundingBitsLessZp(zpOut);
  const taps = (KW * C + 1) & ~1;
  const rowBytes = <usize>taps << 3, rowStep = <usize>(WP * C) << 3;
  const gBytes = <usize>(KH * taps) << 2;
  const groups = (OC + 3) >> 2;
  // Pair rows: the next output row, or the next conv row in a pool window, dRows further on in the pairs.
  const dRows = <usize>(SH * WP * C) << 3;
  if (pool == 0) {
    // No pool: the output pixels themselves go in pairs along each row (the last of an odd row alone), two rows at once.
    for (let oy = 0; oy < OH; oy += 2) {
      const twoRows = oy + 1 < OH;
      const dRow = twoRows ? dRows : 0;
      const band = bandRows(oy * SH, oy * SH + KH + (twoRows ? SH : 0));
      for (let ox = 0; ox < OW; ox += 2) {
        const two = ox + 1 < OW;
        const xr = band + (<usize>(ox * SW * C) << 3);
        const out = y + <usize>((oy * OW + ox) * OC), outB = out + <usize>(OW * OC);
        for (let g = 0; g < groups; g++) {
          const a0 = accumulate8(xr, dRow, w + <usize>g * gBytes, KH, rowBytes, rowStep);
          const o = g << 2;
          storePair(out, o, a0, two, bias, mult, OC, fLo, fHi, bits);
          if (twoRows) storePair(outB, o, sum4, two, bias, mult, OC, fLo, fHi, bits);
          if (o + 1 < OC) {
            storePair(out, o + 1, sum1, two, bias, mult, OC, fLo, fHi, bits);
            if (twoRows) storePair(outB, o + 1, sum5, two, bias, mult, OC, fLo, fHi, bits);
          }
          if (o + 2 < OC) {
            storePair(out, o + 2, sum2, two, bias, mult, OC, fLo, fHi, bits);
            if (twoRows) storePair(outB, o + 2, sum6, two, bias, mult, OC, fLo, fHi, bits);
          }
          if (o + 3 < OC) {
            storePair(out, o + 3, sum3, two, bias, mult, OC, fLo, fHi, bits);
            if (twoRows) storePair(outB, o + 3, sum7, two, bias, mult, OC, fLo, fHi, bits);
          }
        }
      }
    }
    return;
  }
  // A fused pool: within a window, adjacent conv positions go in pairs along a row and two rows at once (a 2×2/2
  // window is exactly one such quad).
  const isMax = pool == 1;
  const init = isMax ? i32.MIN_VALUE : 0;
  for (let py = 0; py < PH; py++) {
    // The conv rows this row of windows reads (none if its windows lie in the pool's padding) and their input rows.
    const cyLo = max(py * PSH - PPT, 0), cyHi = min(py * PSH - PPT + PKH, OH);
    const band = cyLo < cyHi ? bandRows(cyLo * SH, (cyHi - 1) * SH + KH) : 0;
    for (let px = 0; px < PW; px++) {
      const out = y + <usize>((py * PW + px) * OC);
      for (let g = 0; g < groups; g++) {
        const wg = w + <usize>g * gBytes;
        const o = g << 2, bo = bias + (<usize>o << 2);
        const b0 = load<i32>(bo), b1 = load<i32>(bo, 4), b2 = load<i32>(bo, 8), b3 = load<i32>(bo, 12);
        let r0 = init, r1 = init, r2 = init, r3 = init;
        let count = 0;
        let wy = 0;
        while (wy < PKH) {
          const cy = py * PSH + wy - PPT;
          if (cy < 0 || cy >= OH) {
            wy++;
            continue;
          }
          const twoRows = wy + 1 < PKH && cy + 1 < OH;
          const dRow = twoRows ? dRows : 0;
          let wx = 0;
          while (wx < PKW) {
            const cx = px * PSW + wx - PPL;
            if (cx < 0 || cx >= OW) {
              wx++;
              continue;
            }
            const two = wx + 1 < PKW && cx + 1 < OW;
            const a0 = accumulate8(band + (<usize>(((cy - cyLo) * SH * WP + cx * SW) * C) << 3), dRow, wg, KH, rowBytes, rowStep);
            r0 = fold(r0, a0, two, b0, isMax, reluFirst);
            r1 = fold(r1, sum1, two, b1, isMax, reluFirst);
            r2 = fold(r2, sum2, two, b2, isMax, reluFirst);
            r3 = fold(r3, sum3, two, b3, isMax, reluFirst);
            if (twoRows) {
              r0 = fold(r0, sum4, two, b0, isMax, reluFirst);
              r1 = fold(r1, sum5, two, b1, isMax, reluFirst);
              r2 = fold(r2, sum6, two, b2, isMax, reluFirst);
              r3 = fold(r3, sum7, two, b3, isMax, reluFirst);
            }
            const step = two ? 2 : 1;
            count += twoRows ? step << 1 : step;
            wx += step;
          }
          wy += twoRows ? 2 : 1;
        }
        storePooled(out, o, r0, count, isMax, mult, OC, fLo, fHi, bits);
        storePooled(out, o + 1, r1, count, isMax, mult, OC, fLo, fHi, bits);
        storePooled(out, o + 2, r2, count, isMax, mult, OC, fLo, fHi, bits);
        storePooled(out, o + 3, r3, count, isMax, mult, OC, fLo, fHi, bits);
      }
    }
  }
}
