// The band of widened input rows that conv_scalar_i8 and depthwise_scalar_i8 read (AssemblyScript): at each position
// of a padded input row the input, and 32 bits up the input SW·C further on in the same row, as one i64 "pair"
// (conv-scalar-i8.ts explains the pairs). Only the rows the current output rows need are held, so the scratch is
// O(KH · WP · C) rather than O(HP · WP · C): the kernels ask for rows [lo, hi) with lo never decreasing; rows
// already held move to the front of the band (memory.copy, which interpreters run natively) and only the new ones
// are widened, so each input row is widened once. The padding is made here too, row by row: a padded row is built
// in a small row buffer (zero-point borders written once) and widened from there, so no padded copy of the input
// exists.
//
// Pairs whose partner lies past the row's end get 0 there: only a right pixel's taps read the high words, and they
// lie inside the row (taps past it, an odd row's padding or a depthwise group's channels past C, have weight 0).

// The layer the band serves (set by bandBegin) and the padded rows [bandLo, bandHi) it holds, row r at
// pairs + (r − bandLo)·rowPairBytes.
let src: usize = 0, rowBuf: usize = 0, pairs: usize = 0;
let inH = 0, padTop = 0, rowIn = 0, rowOut = 0, borderLeft = 0, partner = 0, zpIn = 0;
let rowPairBytes: usize = 0;
let bandLo = 0, bandHi = 0;

/** Bytes of the row buffer for padded rows of WP·C inputs with partners d further on (rounded up to 16). */
@inline export function rowBufBytes(rowElems: i32, d: i32): i32 {
  return (rowElems + d + 3 + 15) & ~15;
}

/**
 * Starts a layer: x is the unpadded H×W×C input, padded by PT rows on top, PL·C zero-point inputs on the left, to
 * rows of WP·C; buf: rowBufBytes(WP·C, d) bytes; xq: the band (its rows, then 4 pairs the kernels' look-ahead and
 * the widening's last step may touch).
 */
export function bandBegin(x: usize, buf: usize, xq: usize, H: i32, W: i32, C: i32, PT: i32, PL: i32, WP: i32, d: i32, zp: i32): void {
  src = x;
  rowBuf = buf;
  pairs = xq;
  inH = H;
  padTop = PT;
  rowIn = W * C;
  rowOut = WP * C;
  borderLeft = PL * C;
  partner = d;
  zpIn = zp;
  rowPairBytes = <usize>rowOut << 3;
  bandLo = 0;
  bandHi = 0;
  // The borders never change: zero points left and right of the row, zeros past it (partners of the last d).
  memory.fill(buf, <u8>zp, <usize>rowOut);
  memory.fill(buf + <usize>rowOut, 0, <usize>(rowBufBytes(rowOut, d) - rowOut));
}

/** Widens padded row r into the band's slot for it. */
function widenRow(r: i32, q: usize): void {
  const iy = r - padTop;
  const mid = rowBuf + <usize>borderLeft;
  if (iy >= 0 && iy < inH) memory.copy(mid, src + <usize>(iy * rowIn), <usize>rowIn);
  else memory.fill(mid, <u8>zpIn, <usize>rowIn);
  // Four at a time over the whole row (the buffer's zeros are the last partners; up to three pairs past the row are
  // written into the next row's slot, or the band's spare pairs, before anything reads them).
  let p = rowBuf, r2 = rowBuf + <usize>partner;
  const end = rowBuf + <usize>rowOut;
  do {
    store<i64>(q, i64.load8_s(p) + (i64.load8_s(r2) << 32));
    store<i64>(q, i64.load8_s(p, 1) + (i64.load8_s(r2, 1) << 32), 8);
    store<i64>(q, i64.load8_s(p, 2) + (i64.load8_s(r2, 2) << 32), 16);
    store<i64>(q, i64.load8_s(p, 3) + (i64.load8_s(r2, 3) << 32), 24);
    p += 4;
    r2 += 4;
    q += 32;
  } while (p < end);
}

/** Makes the band hold padded rows [lo, hi) (lo ≥ the last call's lo); returns the address of row lo's pairs. */
export function bandRows(lo: i32, hi: i32): usize {
  if (lo > bandLo) {
    if (lo < bandHi) memory.copy(pairs, pairs + <usize>(lo - bandLo) * rowPairBytes, <usize>(bandHi - lo) * rowPairBytes);
    else bandHi = lo;
    bandLo = lo;
  }
  while (bandHi < hi) {
    widenRow(bandHi, pairs + <usize>(bandHi - bandLo) * rowPairBytes);
    bandHi++;
  }
  return pairs;
}
