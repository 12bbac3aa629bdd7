// Turns user-supplied inputs (PNG/JPEG files, folders, raw .u8, idx) into uint8 NHWC batches sized for a model.
import { createRequire } from "node:module";
import { basename, extname } from "node:path";
import { readIdx } from "./idx.js";
import { checkJpeg, checkPng } from "./image-header.js";
import { INPUT_LIMITS, InputError, listFolder, readInputFile, statInput, tooLarge, withInputFile, type InputFile } from "./input-file.js";

// The codecs (CommonJS) load on first use: most commands never touch an image, and loading them at start-up
// costs every command ~25 ms.
const require = createRequire(import.meta.url);
const pngCodec = (): typeof import("pngjs").PNG => (require("pngjs") as typeof import("pngjs")).PNG;
const jpegCodec = (): typeof import("jpeg-js") => require("jpeg-js") as typeof import("jpeg-js");

export interface ImageBatch {
  count: number;
  height: number;
  width: number;
  channels: number;
  /** NHWC, count*height*width*channels bytes. */
  pixels: Uint8Array;
  names: string[];
  /** For decoded PNG/JPEG files, what was done to each to fit the model ("300×200 RGB → 28×28 grey, stretched"). */
  conversions?: string[];
}

/** A single decoded image: interleaved HWC bytes. */
export interface DecodedImage {
  height: number;
  width: number;
  channels: number;
  pixels: Uint8Array;
  /** Whether the file had transparent pixels (composited onto black). */
  transparent?: boolean;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];
const IMAGE_FILE = /\.(png|jpe?g)$/i;

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}

/** jpeg-js's allocation budget, by its own count: a 4096×4096 JPEG needs ~310 MB of it (256 refuses one). */
const JPEG_MEMORY_MB = 384;

/** Drops alpha by compositing onto black, so transparent strokes-on-nothing read like MNIST's white-on-black. */
function rgbaToRgb(rgba: Uint8Array, height: number, width: number): { rgb: Uint8Array; transparent: boolean } {
  const rgb = new Uint8Array(height * width * 3);
  let transparent = false;
  for (let p = 0; p < height * width; p++) {
    const alpha = rgba[4 * p + 3];
    if (alpha !== 255) transparent = true;
    for (let c = 0; c < 3; c++) rgb[3 * p + c] = Math.round((rgba[4 * p + c] * alpha) / 255);
  }
  return { rgb, transparent };
}

/**
 * Decodes PNG or JPEG bytes (detected by magic number, not extension) to 3-channel RGB. The header is checked
 * first (see image-header.ts): an image over INPUT_LIMITS is refused before any pixel is decoded.
 */
export function decodeImage(bytes: Uint8Array, source: string): DecodedImage {
  let rgba: Uint8Array;
  let height: number;
  let width: number;
  if (startsWith(bytes, PNG_MAGIC)) {
    checkPng(bytes, source);
    try {
      const png = pngCodec().sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      ({ height, width } = png);
      rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
    } catch (err) {
      throw new InputError(`${source}: cannot decode PNG: ${reason(err)}`);
    }
  } else if (startsWith(bytes, JPEG_MAGIC)) {
    checkJpeg(bytes, source);
    try {
      // The codec's own limits as well, for what the frame header does not tell (progressive scans, many components).
      const img = jpegCodec().decode(bytes, {
        useTArray: true, formatAsRGBA: true, maxResolutionInMP: INPUT_LIMITS.maxImagePixels / 1e6, maxMemoryUsageInMB: JPEG_MEMORY_MB,
      });
      ({ height, width } = img);
      rgba = img.data;
    } catch (err) {
      throw new InputError(`${source}: cannot decode JPEG: ${reason(err)}`);
    }
  } else {
    throw new InputError(`${source}: unrecognised image format (supported: PNG, JPEG)`);
  }
  const { rgb, transparent } = rgbaToRgb(rgba, height, width);
  return { height, width, channels: 3, pixels: rgb, transparent };
}

/** Whether every pixel of an RGB image has R = G = B: a grey picture, whatever the file stored it as. */
function isGrey(img: DecodedImage): boolean {
  if (img.channels === 1) return true;
  const p = img.pixels;
  for (let i = 0; i < p.length; i += 3) if (p[i] !== p[i + 1] || p[i] !== p[i + 2]) return false;
  return true;
}

/**
 * What toModelInput does to an image, in the words a person checks it by: "300×200 RGB → 28×28 grey, stretched"
 * (sizes width×height; stretched when the aspect ratio changes, scaled when it does not).
 */
export function describeConversion(img: DecodedImage, height: number, width: number, channels: number): string {
  const colour = (grey: boolean): string => (grey ? "grey" : "RGB");
  const from = `${img.width}×${img.height} ${colour(isGrey(img))}${img.transparent ? "+alpha" : ""}`;
  const to = `${width}×${height} ${colour(channels === 1)}`;
  if (from === to) return `${to}, as is`;
  const notes: string[] = [];
  if (img.width !== width || img.height !== height) {
    notes.push(img.width * height !== img.height * width ? "stretched" : img.width > width ? "scaled down" : "scaled up");
  }
  if (img.transparent) notes.push("transparency as black");
  return `${from} → ${to}${notes.length ? `, ${notes.join(", ")}` : ""}`;
}

/** For one axis: which source indices feed each destination index, and with what weight (weights sum to 1). */
function axisWeights(src: number, dst: number): { index: number; weight: number }[][] {
  const taps: { index: number; weight: number }[][] = [];
  for (let i = 0; i < dst; i++) {
    if (dst === src) {
      taps.push([{ index: i, weight: 1 }]);
    } else if (dst < src) {
      // Area averaging: destination pixel i covers source span [i*scale, (i+1)*scale); weight = overlap.
      // This is what keeps thin strokes visible when a 280×280 drawing shrinks to 28×28.
      const scale = src / dst;
      const start = i * scale;
      const end = start + scale;
      const row: { index: number; weight: number }[] = [];
      for (let s = Math.floor(start); s < Math.min(src, Math.ceil(end)); s++) {
        const overlap = Math.min(end, s + 1) - Math.max(start, s);
        if (overlap > 1e-9) row.push({ index: s, weight: overlap / scale });
      }
      taps.push(row);
    } else {
      // Bilinear with pixel centres aligned (half-pixel offset), clamped at the edges.
      const x = Math.min(src - 1, Math.max(0, (i + 0.5) * (src / dst) - 0.5));
      const left = Math.floor(x);
      const right = Math.min(src - 1, left + 1);
      const frac = x - left;
      taps.push(frac === 0 || right === left ? [{ index: left, weight: 1 }] : [
        { index: left, weight: 1 - frac },
        { index: right, weight: frac },
      ]);
    }
  }
  return taps;
}

/** Separable resize in float, so rounding happens once at the very end. */
function resize(pixels: Uint8Array, srcH: number, srcW: number, channels: number, dstH: number, dstW: number): Float64Array {
  const cols = axisWeights(srcW, dstW);
  const rows = axisWeights(srcH, dstH);
  const horizontal = new Float64Array(srcH * dstW * channels);
  for (let y = 0; y < srcH; y++) {
    for (let x = 0; x < dstW; x++) {
      for (const { index, weight } of cols[x]) {
        for (let c = 0; c < channels; c++) {
          horizontal[(y * dstW + x) * channels + c] += weight * pixels[(y * srcW + index) * channels + c];
        }
      }
    }
  }
  const out = new Float64Array(dstH * dstW * channels);
  for (let y = 0; y < dstH; y++) {
    for (const { index, weight } of rows[y]) {
      for (let i = 0; i < dstW * channels; i++) out[y * dstW * channels + i] += weight * horizontal[index * dstW * channels + i];
    }
  }
  return out;
}

function toByte(value: number): number {
  return Math.min(255, Math.max(0, Math.round(value)));
}

/** Resizes to the model's height×width and converts to its channel count (1 = luminance, 3 = RGB). */
export function toModelInput(img: DecodedImage, height: number, width: number, channels: number): Uint8Array {
  if (channels !== 1 && channels !== 3) {
    throw new InputError(`models with ${channels} input channels are not supported for image input (only 1 = grayscale, 3 = RGB)`);
  }
  if (img.channels !== 1 && img.channels !== 3) {
    throw new InputError(`source images with ${img.channels} channels are not supported (only 1 or 3)`);
  }
  const resized = resize(img.pixels, img.height, img.width, img.channels, height, width);
  const out = new Uint8Array(height * width * channels);
  for (let p = 0; p < height * width; p++) {
    if (img.channels === 1) {
      for (let c = 0; c < channels; c++) out[p * channels + c] = toByte(resized[p]);
    } else if (channels === 3) {
      for (let c = 0; c < 3; c++) out[3 * p + c] = toByte(resized[3 * p + c]);
    } else {
      // ITU-R BT.601 luma weights, the usual "convert to grayscale".
      out[p] = toByte(0.299 * resized[3 * p] + 0.587 * resized[3 * p + 1] + 0.114 * resized[3 * p + 2]);
    }
  }
  return out;
}

/** Refuses a batch whose pixels at the model's size would pass the input limit, before allocating them. */
function batchBytes(source: string, count: number, imageBytes: number): number {
  const bytes = count * imageBytes;
  if (bytes > INPUT_LIMITS.maxBatchBytes) throw tooLarge(source, `${count} images at the model's size, input`, bytes, INPUT_LIMITS.maxBatchBytes);
  return bytes;
}

function loadImageFiles(source: string, files: string[], height: number, width: number, channels: number): ImageBatch {
  if (channels !== 1 && channels !== 3) {
    throw new InputError(`${source}: models with ${channels} input channels cannot take PNG/JPEG images (only 1 = grayscale, 3 = RGB; give .u8 or idx input)`);
  }
  const size = height * width * channels;
  const pixels = new Uint8Array(batchBytes(source, files.length, size));
  const conversions = files.map((file, i) => {
    const img = decodeImage(readInputFile(file, "image file", INPUT_LIMITS.maxImageFileBytes), file);
    pixels.set(toModelInput(img, height, width, channels), i * size);
    return describeConversion(img, height, width, channels);
  });
  return { count: files.length, height, width, channels, pixels, names: files.map((f) => basename(f)), conversions };
}

function indexedNames(path: string, count: number): string[] {
  const base = basename(path);
  return Array.from({ length: count }, (_, i) => `${base}#${i}`);
}

/** Raw .u8: N images back to back, each already exactly height×width×channels bytes (no header); sized before it is read. */
function loadRaw(file: InputFile, height: number, width: number, channels: number): ImageBatch {
  const size = height * width * channels;
  const path = file.path;
  if (file.size === 0) throw new InputError(`${path}: empty .u8 file (expected N images of ${height}×${width}×${channels} = ${size} bytes each)`);
  if (file.size > INPUT_LIMITS.maxBatchBytes) throw tooLarge(path, ".u8 file", file.size, INPUT_LIMITS.maxBatchBytes);
  if (file.size % size !== 0) {
    throw new InputError(`${path}: ${file.size} bytes is not a multiple of ${height}×${width}×${channels} = ${size} bytes per image`);
  }
  const pixels = file.read(0, file.size);
  if (pixels.length !== file.size) throw new InputError(`${path}: the file shrank while it was read`);
  const count = file.size / size;
  return { count, height, width, channels, pixels, names: indexedNames(path, count) };
}

/** idx image files are taken as-is: their per-image shape must already match the model (no resizing). */
function loadIdx(path: string, height: number, width: number, channels: number): ImageBatch {
  const { shape, data } = readIdx(path);
  const fileChannels = shape[3] ?? 1;
  if (shape.length < 3 || shape.length > 4 || shape[1] !== height || shape[2] !== width || fileChannels !== channels) {
    throw new InputError(
      `${path}: idx shape [${shape.join(", ")}] does not hold images of the model's input shape ` +
        `${height}×${width}×${channels} (expected [N, ${height}, ${width}${channels === 1 ? "" : `, ${channels}`}])`,
    );
  }
  const count = shape[0];
  // Gunzipped data arrives as a Buffer; hand back a plain Uint8Array view like every other input kind.
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { count, height, width, channels, pixels, names: indexedNames(path, count) };
}

function looksLikeIdx(bytes: Uint8Array): boolean {
  const gzip = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  return gzip || (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0);
}

/**
 * Loads model inputs from a PNG/JPEG file, a folder of them (sorted by name), a raw .u8 file,
 * or an idx image file (optionally gzipped). Images are resized and converted; .u8/idx must already fit.
 * Every file is stat'ed first (regular files only, sizes within INPUT_LIMITS) and read only as far as needed.
 */
export function loadImages(path: string, height: number, width: number, channels: number): ImageBatch {
  // Any channel count is fine for .u8/idx (they already hold model inputs); toModelInput refuses it for PNG/JPEG.
  if (statInput(path).isDirectory()) {
    const files = listFolder(path, IMAGE_FILE, INPUT_LIMITS.maxFolderImages, ".png/.jpg/.jpeg files");
    if (files.length === 0) throw new InputError(`${path}: folder contains no .png, .jpg or .jpeg files`);
    return loadImageFiles(path, files, height, width, channels);
  }
  return withInputFile(path, (file) => {
    if (extname(path).toLowerCase() === ".u8") return loadRaw(file, height, width, channels);
    const head = file.read(0, 8);
    if (startsWith(head, PNG_MAGIC) || startsWith(head, JPEG_MAGIC)) return loadImageFiles(path, [path], height, width, channels);
    if (looksLikeIdx(head)) return loadIdx(path, height, width, channels);
    throw new InputError(`${path}: unrecognised input format (supported: PNG, JPEG, a folder of them, raw .u8, idx)`);
  });
}

/** Encodes 8-bit grayscale pixels (height×width bytes) as a PNG file. */
export function encodeGrayPng(pixels: Uint8Array, height: number, width: number): Uint8Array {
  if (pixels.length !== height * width) {
    throw new Error(`encodeGrayPng: ${pixels.length} pixels for a ${height}×${width} image`);
  }
  const PNG = pngCodec();
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels);
  const file = PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}
