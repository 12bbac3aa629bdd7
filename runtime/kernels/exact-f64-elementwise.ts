// Element-wise float work done exactly as the float reference does it (AssemblyScript; one of the exact kernel files,
// see exact-f64.ts): clamp and leaky_relu for layers kept in float (--keep-float), and calibration's min/max scan.

/**
 * clamp kept in float, as compiler/ops/clamp.ts: y = f32(Math.min(hi, Math.max(lo, x))) with the attributes as f64
 * (bounds: lo, hi stored as f64). f64.max and f64.min are Math.max and Math.min (NaN wins, +0 above −0: clamp(−0)
 * with lo = 0 is +0, unlike a compare-and-select).
 */
export function clamp_exact_f32(x: usize, y: usize, n: i32, bounds: usize): void {
  const lo = load<f64>(bounds), hi = load<f64>(bounds, 8);
  for (let i = 0; i < n; i++) {
    const at = <usize>i << 2;
    store<f32>(y + at, <f32>min<f64>(hi, max<f64>(lo, <f64>load<f32>(x + at))));
  }
}

/** leaky_relu kept in float, as compiler/ops/leaky-relu.ts: x < 0 ? f32(x·alpha) with alpha an f64 at `slope` (one rounding) : x. */
export function leaky_relu_exact_f32(x: usize, y: usize, n: i32, slope: usize): void {
  const alpha = load<f64>(slope);
  for (let i = 0; i < n; i++) {
    const at = <usize>i << 2;
    const v = load<f32>(x + at);
    store<f32>(y + at, v < 0 ? <f32>(<f64>v * alpha) : v);
  }
}

/**
 * Per lane, the first value of lane i's subsequence (x[4j + i], j = 0 … n/4 − 1) that is < (min) or > (max) every
 * value before it, NaN never: min lanes at out, max lanes at out + 16. The caller combines lanes and the tail, and
 * settles which zero came first when the extreme is ±0 (only then can equal-comparing values differ).
 */
export function minmax_f32(x: usize, n: i32, out: usize): void {
  if (ASC_FEATURE_SIMD) {
    let mn = f32x4.splat(Infinity), mx = f32x4.splat(-Infinity);
    const end = x + ((<usize>(n >> 2)) << 4);
    for (let p = x; p < end; p += 16) {
      const v = v128.load(p);
      mn = v128.bitselect(v, mn, f32x4.lt(v, mn));
      mx = v128.bitselect(v, mx, f32x4.gt(v, mx));
    }
    v128.store(out, mn);
    v128.store(out, mx, 16);
  } else {
    for (let i = 0; i < 4; i++) {
      let mn: f32 = Infinity, mx: f32 = -Infinity;
      for (let j = 0; j < (n >> 2); j++) {
        const v = load<f32>(x + ((<usize>(j * 4 + i)) << 2));
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      store<f32>(out + (<usize>i << 2), mn);
      store<f32>(out + (<usize>i << 2), mx, 16);
    }
  }
}

