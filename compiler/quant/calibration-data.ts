// Calibration images come from the compiler's caller (CLI, bench, tests): the compiler never opens a dataset.
import { tensorOf, type Graph } from "../ir.js";
import { KilnError, quoteName } from "../errors.js";

/** Representative inputs for int8 calibration: `count` uint8 NHWC images of the model's input size. */
export interface CalibrationImages {
  pixels: Uint8Array;
  count: number;
  /** What was used, for logs and the manifest. */
  description: string;
  /** What the source noticed that makes the images doubtful as inputs (e.g. photos stretched to the model's size). */
  warnings?: string[];
}

/** What a model asks for: its name (for messages), one image's size, and at most `count` images. */
export interface CalibrationRequest {
  model: string;
  height: number;
  width: number;
  channels: number;
  count: number;
}

/**
 * Reads the calibration images a model asks for. It is called only when an int8 compile reaches quantization,
 * after the float passes, so a model that cannot be quantized fails before any image is read.
 */
export type CalibrationSource = (request: CalibrationRequest) => CalibrationImages;

/** The calibration images for `graph` from the caller's source, checked against the model's image input. */
export function calibrationSet(graph: Graph, source: CalibrationSource | undefined, count: number): CalibrationImages {
  const shape = tensorOf(graph, graph.inputs[0]).shape;
  if (shape.length !== 4) {
    throw new KilnError(`model ${quoteName(graph.name)} takes input [${shape}], not images; int8 calibration needs image inputs (or use --quantize none)`);
  }
  const [, height, width, channels] = shape;
  if (!source) {
    throw new KilnError(`model ${quoteName(graph.name)} takes ${height}×${width}×${channels} images: int8 needs representative inputs (calibration images), or compile with --quantize none`);
  }
  const set = source({ model: graph.name, height, width, channels, count });
  const size = height * width * channels;
  if (!(set.count >= 1 && set.count <= count && set.pixels.length >= set.count * size)) {
    throw new Error(`internal: the calibration source gave ${set.count} images in ${set.pixels.length} bytes; wanted 1 to ${count} of ${size} bytes`);
  }
  return set;
}

/** A source over pixels already in memory (a library caller's, a test's): as many whole images as they hold. */
export function pixelCalibration(pixels: Uint8Array, description: string): CalibrationSource {
  return ({ height, width, channels, count }) => {
    const size = height * width * channels;
    const whole = Math.min(count, Math.floor(pixels.length / size));
    if (whole < 1) throw new KilnError(`the calibration pixels (${pixels.length} bytes) hold no ${height}×${width}×${channels} image`);
    return { pixels: pixels.subarray(0, whole * size), count: whole, description };
  };
}

/** Held-out images are capped here: the report runs the float graph and the int8 blob twice per image (~0.3 s on MobileNetV2-224). */
export const MAX_HELD_OUT = 200;

/**
 * How many of `total` calibration images to hold out for the quantization error report (the last ones; never used
 * for ranges): "auto" is 10 % but at least 20; never more than half the set nor MAX_HELD_OUT, none under 2 images.
 */
export function heldOutCount(total: number, holdout: number | "auto"): number {
  if (total < 2) return 0;
  const wanted = holdout === "auto" ? Math.max(20, Math.round(total / 10)) : Math.max(0, Math.floor(holdout));
  return Math.min(wanted, Math.floor(total / 2), MAX_HELD_OUT);
}
