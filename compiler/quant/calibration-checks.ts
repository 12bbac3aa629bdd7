// Warnings about a calibration set that looks too small or unlike a model's inputs (blank images, a sliver of 0–255).

/** Fewer calibrated images than this earns a warning: ranges from a few dozen images miss the tails of real inputs. */
export const FEW_CALIBRATION_IMAGES = 100;
/** Pixels spanning fewer levels than this (a fifth of 0–255) look unlike camera or scanner images. */
const NARROW_SPAN = 51;

/**
 * Warnings for `count` uint8 images of `size` bytes each, of which the first `calibrated` set the ranges.
 * Wrong sizes never get here: bin/calibration.ts (io/images.ts) refuses .u8/idx files of another size and resizes PNG/JPEG.
 */
export function calibrationSetWarnings(pixels: Uint8Array, count: number, size: number, calibrated: number): string[] {
  const warnings: string[] = [];
  if (calibrated < FEW_CALIBRATION_IMAGES) {
    warnings.push(`calibration used only ${calibrated} image${calibrated === 1 ? "" : "s"} for the int8 ranges; ${FEW_CALIBRATION_IMAGES} or more representative images give ranges that hold on real inputs (--calibration, --calibration-count)`);
  }
  let flat = 0, zero = 0, lo = 255, hi = 0;
  for (let i = 0; i < count; i++) {
    const image = pixels.subarray(i * size, (i + 1) * size);
    let min = 255, max = 0;
    for (let k = 0; k < image.length; k++) { const p = image[k]; if (p < min) min = p; if (p > max) max = p; }
    if (min === max) { flat++; if (max === 0) zero++; }
    if (min < lo) lo = min;
    if (max > hi) hi = max;
  }
  if (zero === count) warnings.push(`all ${count} calibration images are all zero: they do not look like the model's inputs, and the int8 ranges will not fit real ones`);
  else if (flat === count) warnings.push(`all ${count} calibration images are one flat value each: they do not look like the model's inputs`);
  else if (flat * 10 >= count) warnings.push(`${flat} of ${count} calibration images are one flat value${zero > 0 ? ` (${zero} all zero)` : ""}: are they real inputs?`);
  if (flat < count && hi - lo < NARROW_SPAN) {
    warnings.push(`the calibration pixels use only the values ${lo}–${hi} of 0–255: do they look like the model's inputs?`);
  }
  return warnings;
}
