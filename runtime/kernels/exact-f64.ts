// The float reference's conv, depthwise and dense arithmetic, exactly (AssemblyScript): calibration builds the exact
// kernels (this file, exact-f64-pool.ts, exact-f64-elementwise.ts) into compiler/quant/float64-kernels-wasm.ts
// (build-float64-kernels.ts), and blobs with layers kept in float (--keep-float) call conv_exact_f64 / dense_exact_f64 /
// depthwise_f64. SIMD where enabled; every v128 path has a scalar twin doing the same operations per output in the
// same order (boards' interpreters reject v128). The three files import only each other: calibration compiles them
// without the rest of the library.
//
// Why f64: the float reference (compiler/ops) sums f32 products in f64 (a JS number) and rounds to f32 once per
// output. Calibration must see exactly its values, so these kernels do the same operations: each product of two
// f32 values is exact in f64, each output's sum starts where the reference's does and adds the same products in
// the same order, and f64x2 lanes are independent outputs. WebAssembly has no fused multiply-add outside relaxed
// SIMD, so every mul and add rounds as JavaScript's do. Only the loop order differs, never an output's sum order.
import { pool_f64 } from "./exact-f64-pool";


// Activation codes as in compiler/ops/op.ts ACTIVATION_CODES: 0 linear, 1 relu, 2 relu6.
// applyActivation: v < 0 ? 0 : v (relu), v < 0 ? 0 : v > 6 ? 6 : v (relu6); NaN and −0 pass through unchanged.
@inline function activate2(v: v128, act: i32): v128 {
  if (act == 0) return v;
  const zero = f64x2.splat(0);
  let r = v;
  if (act == 2) {
    const six = f64x2.splat(6);
    r = v128.bitselect(six, r, f64x2.gt(v, six));
  }
  return v128.bitselect(zero, r, f64x2.lt(v, zero));
}

@inline function activate1(v: f64, act: i32): f64 {
  if (act == 1) return v < 0 ? 0 : v;
  if (act == 2) return v < 0 ? 0 : v > 6 ? 6 : v;
  return v;
}

/** 8 weights of block row k as four f64x2 (W = f64: stored as f64; W = f32: stored as f32 and widened, exactly). */
@inline function loadWeights<W>(wp: usize, i: i32): v128 {
  if (sizeof<W>() == 8) return v128.load(wp + (<usize>i << 4));
  const v = v128.load(wp + (<usize>(i >> 1) << 4));
  return f64x2.promote_low_f32x4(i & 1 ? i32x4.shuffle(v, v, 2, 3, 0, 1) : v);
}

/**
 * out[p][o] = start[o] (or +0) + Σ_k x[p][k]·w[k][o], k in order, for P rows of K inputs (f32 values held as f64).
 * Weights are packed in blocks of 8 outputs, [OCP/8][K][8] of W (OCP = OC rounded up to 8, zero-padded);
 * out rows have OCP f64 values; start (f64, OCP values) may be 0 for none.
 * SIMD: two rows share each weight load; the eight f64x2 accumulators are independent outputs.
 */
@inline function gemm<W>(x: usize, P: i32, K: i32, w: usize, OCP: i32, start: usize, out: usize): void {
  const blocks = OCP >> 3;
  const rowBytes = <usize>K << 3;
  const blockBytes = <usize>sizeof<W>() << 3;
  if (ASC_FEATURE_SIMD) {
    for (let b = 0; b < blocks; b++) {
      const wb = w + <usize>b * K * blockBytes;
      const s = start + (<usize>b << 6);
      const s0 = start ? v128.load(s) : f64x2.splat(0), s1 = start ? v128.load(s, 16) : f64x2.splat(0);
      const s2 = start ? v128.load(s, 32) : f64x2.splat(0), s3 = start ? v128.load(s, 48) : f64x2.splat(0);
      let p = 0;
      for (; p + 2 <= P; p += 2) {
        const xa = x + <usize>p * rowBytes, xb = xa + rowBytes;
        let a0 = s0, a1 = s1, a2 = s2, a3 = s3;
        let b0 = s0, b1 = s1, b2 = s2, b3 = s3;
        let wp = wb;
        for (let k = 0; k < K; k++) {
          const off = <usize>k << 3;
          const va = v128.load64_splat(xa + off), vb = v128.load64_splat(xb + off);
          const w0 = loadWeights<W>(wp, 0), w1 = loadWeights<W>(wp, 1), w2 = loadWeights<W>(wp, 2), w3 = loadWeights<W>(wp, 3);
          a0 = f64x2.add(a0, f64x2.mul(va, w0)); a1 = f64x2.add(a1, f64x2.mul(va, w1));
          a2 = f64x2.add(a2, f64x2.mul(va, w2)); a3 = f64x2.add(a3, f64x2.mul(va, w3));
          b0 = f64x2.add(b0, f64x2.mul(vb, w0)); b1 = f64x2.add(b1, f64x2.mul(vb, w1));
          b2 = f64x2.add(b2, f64x2.mul(vb, w2)); b3 = f64x2.add(b3, f64x2.mul(vb, w3));
          wp += blockBytes;
        }
        const oa = out + ((<usize>p * OCP + (<usize>b << 3)) << 3), ob = oa + (<usize>OCP << 3);
        v128.store(oa, a0); v128.store(oa, a1, 16); v128.store(oa, a2, 32); v128.store(oa, a3, 48);
        v128.store(ob, b0); v128.store(ob, b1, 16); v128.store(ob, b2, 32); v128.store(ob, b3, 48);
      }
      if (p < P) {
        const xa = x + <usize>p * rowBytes;
        let a0 = s0, a1 = s1, a2 = s2, a3 = s3;
        let wp = wb;
        for (let k = 0; k < K; k++) {
          const va = v128.load64_splat(xa + (<usize>k << 3));
          a0 = f64x2.add(a0, f64x2.mul(va, loadWeights<W>(wp, 0))); a1 = f64x2.add(a1, f64x2.mul(va, loadWeights<W>(wp, 1)));
          a2 = f64x2.add(a2, f64x2.mul(va, loadWeights<W>(wp, 2))); a3 = f64x2.add(a3, f64x2.mul(va, loadWeights<W>(wp, 3)));
          wp += blockBytes;
        }
        const oa = out + ((<usize>p * OCP + (<usize>b << 3)) << 3);
        v128.store(oa, a0); v128.store(oa, a1, 16); v128.store(oa, a2, 32); v128.store(oa, a3, 48);
      }
    }
  } else {
    for (let b = 0; b < blocks; b++) {
      const wb = w + <usize>b * K * blockBytes;
      for (let p = 0; p < P; p++) {
        const xa = x + <usize>p * rowBytes;
        const oa = out + ((<usize>p * OCP + (<usize>b << 3)) << 3);
        for (let j = 0; j < 8; j++) {
          let acc: f64 = start ? load<f64>(start + ((<usize>(b << 3) + j) << 3)) : 0;
          let wp = wb + <usize>j * sizeof<W>();
          for (let k = 0; k < K; k++) {
            acc += load<f64>(xa + (<usize>k << 3)) * <f64>load<W>(wp);
            wp += blockBytes;
          }
          store<f64>(oa + (<usize>j << 3), acc);
        }
      }
    }
  }
}

/** gemm with f64 weights (calibration packs them once per compile). */
export function gemm_f64(x: usize, P: i32, K: i32, w: usize, OCP: i32, start: usize, out: usize): void {
  gemm<f64>(x, P, K, w, OCP, start, out);
}

/** gemm with f32 weights (blobs: half the bytes; widening an f32 to f64 is exact, so the sums are the same). */
export function gemm_f64_w32(x: usize, P: i32, K: i32, w: usize, OCP: i32, start: usize, out: usize): void {
  gemm<f32>(x, P, K, w, OCP, start, out);
}

/**
 * y[p][o] = f32(addZero + act(grid[p][o] + bias)), bias f64 per output (OCP values, 0 for none: + 0 as the
 * reference's `+ (b ? b[o] : 0)`); with addZero the conv reference's `0 + v` (−0 becomes +0) is repeated.
 */
export function epilogue_f64(grid: usize, P: i32, OC: i32, OCP: i32, bias: usize, act: i32, addBias: bool, addZero: bool, y: usize): void {
  for (let p = 0; p < P; p++) {
    const row = grid + ((<usize>p * OCP) << 3), out = y + ((<usize>p * OC) << 2);
    let o = 0;
    if (ASC_FEATURE_SIMD) for (; o + 2 <= OC; o += 2) {
      let v = v128.load(row + (<usize>o << 3));
      if (addBias) v = f64x2.add(v, v128.load(bias + (<usize>o << 3)));
      v = activate2(v, act);
      if (addZero) v = f64x2.add(f64x2.splat(0), v);
      v128.store64_lane(out + (<usize>o << 2), f32x4.demote_f64x2_zero(v), 0);
    }
    for (; o < OC; o++) {
      let v = load<f64>(row + (<usize>o << 3));
      if (addBias) v = v + load<f64>(bias + (<usize>o << 3));
      v = activate1(v, act);
      if (addZero) v = 0 + v;
      store<f32>(out + (<usize>o << 2), <f32>v);
    }
  }
}

/** grid[p][o] = act(grid[p][o] + bias[o]) in place, in f64: the conv grid a fused pool reads (convGridFloat). */
export function activate_f64(grid: usize, P: i32, OC: i32, OCP: i32, bias: usize, act: i32): void {
  for (let p = 0; p < P; p++) {
    const row = grid + ((<usize>p * OCP) << 3);
    if (ASC_FEATURE_SIMD) {
      for (let o = 0; o < OC; o += 2) {
        const at = row + (<usize>o << 3);
        v128.store(at, activate2(f64x2.add(v128.load(at), v128.load(bias + (<usize>o << 3))), act));
      }
    } else {
      for (let o = 0; o < OC; o++) {
        const at = row + (<usize>o << 3);
        store<f64>(at, activate1(load<f64>(at) + load<f64>(bias + (<usize>o << 3)), act));
      }
    }
  }
}

/** out[i] = f64(x[i]) for n values: gemm's rows, converted once instead of once per block of 8 outputs. */
export function widen_f32(x: usize, n: i32, out: usize): void {
  for (let i = 0; i < n; i++) store<f64>(out + (<usize>i << 3), <f64>load<f32>(x + (<usize>i << 2)));
}

/** im2col for a conv: row p holds the KH·KW·C inputs of output position p in (ky, kx, c) order as f64, 0 outside the image. */
export function patches_f64(x: usize, H: i32, W: i32, C: i32, OW: i32, first: i32, P: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, out: usize): void {
  let dst = out;
  for (let q = first; q < first + P; q++) {
    const oy = q / OW, ox = q % OW;
    for (let ky = 0; ky < KH; ky++) {
      const iy = oy * SH + ky - PT;
      for (let kx = 0; kx < KW; kx++) {
        const ix = ox * SW + kx - PL;
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) memory.fill(dst, 0, <usize>C << 3);
        else widen_f32(x + ((<usize>(iy * W + ix) * C) << 2), C, dst);
        dst += <usize>C << 3;
      }
    }
  }
}

/**
 * Depthwise, depth multiplier 1: y[oy][ox][c] = f32(act(Σ_taps x·w + bias)), the sum from +0 over the in-bounds taps
 * in (ky, kx) order as the reference's depthwiseAt; w is [KH·KW][C] f64, bias f64 per channel (or 0: + 0).
 * The in-bounds tap ranges are worked out once per position; four channels share each input load.
 */
export function depthwise_f64(x: usize, H: i32, W: i32, C: i32, w: usize, bias: usize, y: usize,
  OH: i32, OW: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, act: i32): void {
  const rowBytes = (<usize>W * C) << 2, pixelBytes = <usize>C << 2, tapBytes = <usize>C << 3;
  for (let oy = 0; oy < OH; oy++) {
    const iy0 = oy * SH - PT;
    const ky0 = max(0, -iy0), ky1 = min(KH, H - iy0);
    for (let ox = 0; ox < OW; ox++) {
      const ix0 = ox * SW - PL;
      const kx0 = max(0, -ix0), kx1 = min(KW, W - ix0);
      const out = y + ((<usize>(oy * OW + ox) * C) << 2);
      const corner = x + <usize>iy0 * rowBytes + <usize>ix0 * pixelBytes;
      let c = 0;
      if (ASC_FEATURE_SIMD) for (; c + 4 <= C; c += 4) {
        const zero = f64x2.splat(0);
        let a0 = zero, a1 = zero;
        for (let ky = ky0; ky < ky1; ky++) {
          const xr = corner + <usize>ky * rowBytes + (<usize>c << 2);
          const wr = w + <usize>(ky * KW) * tapBytes + (<usize>c << 3);
          for (let kx = kx0; kx < kx1; kx++) {
            const v = v128.load(xr + <usize>kx * pixelBytes);
            const wp = wr + <usize>kx * tapBytes;
            a0 = f64x2.add(a0, f64x2.mul(f64x2.promote_low_f32x4(v), v128.load(wp)));
            a1 = f64x2.add(a1, f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)), v128.load(wp, 16)));
          }
        }
        if (bias) {
          a0 = f64x2.add(a0, v128.load(bias + (<usize>c << 3)));
          a1 = f64x2.add(a1, v128.load(bias + (<usize>c << 3), 16));
        } else {
          a0 = f64x2.add(a0, zero);
          a1 = f64x2.add(a1, zero);
        }
        v128.store64_lane(out + (<usize>c << 2), f32x4.demote_f64x2_zero(activate2(a0, act)), 0);
        v128.store64_lane(out + (<usize>c << 2), f32x4.demote_f64x2_zero(activate2(a1, act)), 0, 8);
      }
      for (; c < C; c++) {
        let acc: f64 = 0;
        for (let ky = ky0; ky < ky1; ky++) {
          for (let kx = kx0; kx < kx1; kx++) {
            acc += <f64>load<f32>(corner + <usize>ky * rowBytes + <usize>kx * pixelBytes + (<usize>c << 2))
              * load<f64>(w + <usize>(ky * KW + kx) * tapBytes + (<usize>c << 3));
          }
        }
        acc = acc + (bias ? load<f64>(bias + (<usize>c << 3)) : 0);
        store<f32>(out + (<usize>c << 2), <f32>activate1(acc, act));
      }
    }
  }
}

/**
 * A conv kept in float in a blob: the float reference's conv2d (compiler/ops/conv2d.ts) bit for bit, as calibration
 * computes it (float64-runner.ts): rows of patches, their f64 sums with f32 weights packed [OCP/8][K][8], then
 * f32(0 + act(sum + bias)) — or, with a fused pool (1 max, 2 avg), the activated f64 grid pooled and rounded once.
 * bias: OCP f64 values (zeros without one: the reference adds 0). rows: min(P, chunk)·K f64; grid: (pool ? P :
 * min(P, chunk))·OCP f64, P = OH·OW (the conv's grid, before the pool).
 */
export function conv_exact_f64(x: usize, H: i32, W: i32, C: i32, w: usize, bias: usize, y: usize, OH: i32, OW: i32, OC: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, act: i32, rows: usize, grid: usize, chunk: i32,
  pool: i32, PH: i32, PW: i32, PKH: i32, PKW: i32, PSH: i32, PSW: i32, PPT: i32, PPL: i32): void {
  const OCP = (OC + 7) & ~7, K = KH * KW * C, P = OH * OW;
  const pointwise = KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0;
  for (let first = 0; first < P; first += chunk) {
    const n = min(chunk, P - first);
    if (pointwise) widen_f32(x + ((<usize>first * K) << 2), n * K, rows);
    else patches_f64(x, H, W, C, OW, first, n, KH, KW, SH, SW, PT, PL, rows);
    if (pool == 0) {
      gemm_f64_w32(rows, n, K, w, OCP, 0, grid);
      epilogue_f64(grid, n, OC, OCP, bias, act, true, true, y + ((<usize>first * OC) << 2));
    } else {
      gemm_f64_w32(rows, n, K, w, OCP, 0, grid + ((<usize>first * OCP) << 3));
    }
  }
  if (pool != 0) {
    activate_f64(grid, P, OC, OCP, bias, act);
    pool_f64(grid, OH, OW, OC, OCP, PH, PW, PKH, PKW, PSH, PSW, PPT, PPL, pool == 1, y);
  }
}

/**
 * A dense layer kept in float in a blob: the float reference's dense (its f64 sum starts at the bias, or +0 without one:
 * bias 0), f32(act(sum)). Weights f32 packed [OCP/8][K][8]; bias OCP f64 values or 0; rows: K f64; grid: OCP f64.
 */
export function dense_exact_f64(x: usize, w: usize, bias: usize, y: usize, K: i32, OC: i32, act: i32, rows: usize, grid: usize): void {
  const OCP = (OC + 7) & ~7;
  widen_f32(x, K, rows);
  gemm_f64_w32(rows, 1, K, w, OCP, bias, grid);
  epilogue_f64(grid, 1, OC, OCP, 0, act, false, false, y);
}
