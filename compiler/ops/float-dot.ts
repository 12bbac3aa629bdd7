// The inner loop of conv2d's and dense's float references: many dot products over the same gathered inputs.

// Calibration runs the float reference per image and layer, so this loop sets how long an int8 compile takes.
// It keeps the reference's arithmetic exactly: each output is an f64 sum, from the same start value, of the same
// products added in the same order as the plain loop `acc += x[i]·w[i·outputs + o]`. Only the loop order differs
// (inputs gathered once, eight outputs accumulated in registers), so results are bit-identical to the plain loop.

const finiteWeights = new WeakMap<Float32Array, boolean>();

/** Whether every weight is finite, remembered per weight array: the float path asks once per image. */
export function allFinite(w: Float32Array): boolean {
  let finite = finiteWeights.get(w);
  if (finite === undefined) {
    finite = w.every((v) => Number.isFinite(v));
    finiteWeights.set(w, finite);
  }
  return finite;
}

/**
 * The inputs of one dot product, in summation order: the value and the index of its weight row. A zero input
 * may be left out when `skipZeros` is set (see gather): adding x·w = ±0 leaves any sum that is not −0 unchanged.
 */
export class Gathered {
  readonly values: Float64Array;
  readonly rows: Int32Array;
  count = 0;

  constructor(capacity: number, readonly skipZeros: boolean) {
    this.values = new Float64Array(capacity);
    this.rows = new Int32Array(capacity);
  }

  /** Appends `n` consecutive inputs x[at…] whose weight rows start at `row` and step by `rowStep`. */
  gather(x: Float32Array, at: number, n: number, row: number, rowStep: number): void {
    const { values, rows, skipZeros } = this;
    let k = this.count;
    for (let i = 0; i < n; i++) {
      const v = x[at + i];
      if (v === 0 && skipZeros) continue;
      values[k] = v;
      rows[k++] = row + i * rowStep;
    }
    this.count = k;
  }
}

/**
 * out[outAt + o] = start[o] (or 0) + Σ_k values[k] · w[rows[k] + o] for o < outputs, in f64, k in order.
 * Eight outputs at a time: each gathered input is loaded once per eight products, not once per product.
 */
export function dotRows(g: Gathered, w: Float32Array, outputs: number, start: Float32Array | undefined,
  out: Float64Array, outAt: number): void {
  const { values, rows, count: n } = g;
  let o = 0;
  for (; o + 8 <= outputs; o += 8) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    if (start) {
      a0 = start[o]; a1 = start[o + 1]; a2 = start[o + 2]; a3 = start[o + 3];
      a4 = start[o + 4]; a5 = start[o + 5]; a6 = start[o + 6]; a7 = start[o + 7];
    }
    for (let k = 0; k < n; k++) {
      const v = values[k], r = rows[k] + o;
      a0 += v * w[r]; a1 += v * w[r + 1]; a2 += v * w[r + 2]; a3 += v * w[r + 3];
      a4 += v * w[r + 4]; a5 += v * w[r + 5]; a6 += v * w[r + 6]; a7 += v * w[r + 7];
    }
    const p = outAt + o;
    out[p] = a0; out[p + 1] = a1; out[p + 2] = a2; out[p + 3] = a3;
    out[p + 4] = a4; out[p + 5] = a5; out[p + 6] = a6; out[p + 7] = a7;
  }
  for (; o < outputs; o++) {
    let a = start ? start[o] : 0;
    for (let k = 0; k < n; k++) a += values[k] * w[rows[k] + o];
    out[outAt + o] = a;
  }
}
