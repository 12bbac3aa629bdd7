// The float reference's pools, exactly (AssemblyScript; one of the exact kernel files, see exact-f64.ts): the pool fused
// into a conv (over its f64 grid) and, for layers kept in float (--keep-float), avg_pool and global_avg_pool.
// No v128 path: a pool adds one value per input, so the same scalar code serves the SIMD and scalar targets.
//
// The references (compiler/ops/avg-pool.ts, global-avg-pool.ts, fused-pool.ts) sum f32 values in a JS number (f64)
// from +0 in row-major order and divide by the count once, then round to f32. f32 → f64 is exact and every f64 add
// and the division round as JavaScript's do, so doing the same operations in the same order gives the same bits.

/**
 * The fused pool over the f64 grid [OH][OW][OCP], as the reference's poolFloat: per window, the max (f64.max is
 * Math.max: NaN wins, +0 above −0) or the sum from +0 divided by the count, of the in-bounds positions in
 * row-major order, rounded once to f32 into y [PH][PW][OC].
 */
export function pool_f64(grid: usize, OH: i32, OW: i32, OC: i32, OCP: i32, PH: i32, PW: i32, KH: i32, KW: i32,
  SH: i32, SW: i32, PT: i32, PL: i32, isMax: bool, y: usize): void {
  for (let py = 0; py < PH; py++) {
    const y0 = max(0, py * SH - PT), y1 = min(OH, py * SH - PT + KH);
    for (let px = 0; px < PW; px++) {
      const x0 = max(0, px * SW - PL), x1 = min(OW, px * SW - PL + KW);
      const count = <f64>((y1 - y0) * (x1 - x0));
      const out = y + ((<usize>(py * PW + px) * OC) << 2);
      for (let o = 0; o < OC; o++) {
        let acc: f64 = isMax ? -Infinity : 0;
        for (let cy = y0; cy < y1; cy++) {
          for (let cx = x0; cx < x1; cx++) {
            const g = load<f64>(grid + ((<usize>(cy * OW + cx) * OCP + o) << 3));
            acc = isMax ? max(acc, g) : acc + g;
          }
        }
        store<f32>(out + (<usize>o << 2), <f32>(isMax ? acc : acc / count));
      }
    }
  }
}


/**
 * avg_pool kept in float, as avgPool.float: per output, the f64 sum from +0 of the window's in-bounds inputs (ky, then
 * kx), divided by how many there are (padding is not counted), rounded once to f32. x [H][W][C] → y [OH][OW][C].
 */
export function avg_pool_exact_f32(x: usize, y: usize, H: i32, W: i32, C: i32, OH: i32, OW: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  for (let oy = 0; oy < OH; oy++) {
    const y0 = max(0, oy * SH - PT), y1 = min(H, oy * SH - PT + KH);
    for (let ox = 0; ox < OW; ox++) {
      const x0 = max(0, ox * SW - PL), x1 = min(W, ox * SW - PL + KW);
      const count = <f64>((y1 - y0) * (x1 - x0));
      const out = y + ((<usize>(oy * OW + ox) * C) << 2);
      for (let c = 0; c < C; c++) {
        let acc: f64 = 0;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) acc += <f64>load<f32>(x + ((<usize>(iy * W + ix) * C + c) << 2));
        }
        store<f32>(out + (<usize>c << 2), <f32>(acc / count));
      }
    }
  }
}

/** global_avg_pool kept in float, as globalAvgPool.float: y[c] = f32((Σ_p x[p][c], from +0, p in order) / HW) in f64. */
export function mean_exact_f32(x: usize, y: usize, HW: i32, C: i32): void {
  for (let c = 0; c < C; c++) {
    let acc: f64 = 0;
    for (let p = 0; p < HW; p++) acc += <f64>load<f32>(x + ((<usize>(p * C + c)) << 2));
    store<f32>(y + (<usize>c << 2), <f32>(acc / <f64>HW));
  }
}
