// Float32 element-wise kernels (AssemblyScript): add and multiply; SIMD128 where enabled.

/** y[i] = a[i] + b[i] over n floats. */
export function add_f32(a: usize, b: usize, y: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const p = <usize>i << 2;
      v128.store(y + p, f32x4.add(v128.load(a + p), v128.load(b + p)));
    }
  }
  for (; i < n; i++) {
    const p = <usize>i << 2;
    store<f32>(y + p, load<f32>(a + p) + load<f32>(b + p));
  }
}

/** y[i] = a[i] · b[i] over n floats. */
export function mul_f32(a: usize, b: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + (<usize>i << 2), load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2)));
}
