// Int8 arithmetic shared by the quantizer and the int8 reference: the exact f32 requantization the kernels repeat (runtime/kernels/common.ts).

/** Round half to even, as WebAssembly's f32.nearest does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Bound that keeps f32 → i32 conversion in range; anything beyond is clamped to int8 afterwards anyway. */
export const REQUANT_LIMIT = 512;

/**
 * clamp(roundHalfEven(f32(acc) × m) + zp, lo, hi), every step in f32 exactly as the kernels compute it.
 * `m` must already be an f32 value (Math.fround).
 */
export function requantize(acc: number, m: number, zp: number, lo: number, hi: number): number {
  const scaled = Math.fround(Math.fround(acc) * m);
  const r = Math.min(REQUANT_LIMIT, Math.max(-REQUANT_LIMIT, roundHalfEven(scaled)));
  return Math.min(hi, Math.max(lo, r + zp));
}

export interface AffineQuant {
  scale: number;
  zeroPoint: number;
}

/** Asymmetric int8 parameters for a real range; the range is widened to include 0 so that 0 is exact. */
export function affineFromRange(min: number, max: number): AffineQuant {
  const lo = Math.min(min, 0), hi = Math.max(max, 0);
  const scale = hi - lo > 0 ? (hi - lo) / 255 : 1;
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale, zeroPoint };
}

export function quantizeValue(v: number, q: AffineQuant): number {
  return Math.max(-128, Math.min(127, Math.round(v / q.scale) + q.zeroPoint));
}

/** Symmetric per-channel int8 weights (zero point 0, range ±127) along the last axis. */
export function quantizeWeightsPerChannel(w: Float32Array, channels: number): { data: Int8Array; scales: number[] } {
  const maxAbs = new Array<number>(channels).fill(0);
  for (let i = 0; i < w.length; i++) maxAbs[i % channels] = Math.max(maxAbs[i % channels], Math.abs(w[i]));
  const scales = maxAbs.map((m) => (m > 0 ? m / 127 : 1));
  const data = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) data[i] = Math.max(-127, Math.min(127, roundHalfEven(w[i] / scales[i % channels])));
  return { data, scales };
}

/** The clamp bounds that implement a fused activation in the int8 output domain. */
export function activationBounds(activation: string, out: AffineQuant): { lo: number; hi: number } {
  if (activation === "relu") return { lo: Math.max(-128, out.zeroPoint), hi: 127 };
  if (activation === "relu6") return { lo: Math.max(-128, out.zeroPoint), hi: Math.min(127, out.zeroPoint + Math.round(6 / out.scale)) };
  return { lo: -128, hi: 127 };
}
